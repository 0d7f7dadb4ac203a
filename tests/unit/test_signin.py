"""Every Cognito sign-in step of the console (console.auth), against moto in-process.

moto checks TOTP codes only with MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true (read per call),
so the tests that a wrong code is refused set it; every user then shares moto's fixed key,
which the test reads from the MFA_SETUP step like the login page does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from backend.local.deploy import DEMO_PASSWORD, NEW_USER, TOTP_USER
from backend.local.totp import totp_code
from console.auth import (
    MFA_SETUP,
    NEW_PASSWORD,
    TOTP_CODE,
    Challenge,
    CognitoLogin,
    CognitoSettings,
    LoginError,
    Tokens,
    password_problems,
)
from tests.unit.aws_fixtures import MockedStack

pytestmark = pytest.mark.unit

TEMPORARY = "Tijdelijk-wachtwoord1"
CHOSEN = "Mijn-eigen-wachtwoord2"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto pool that requires TOTP (MfaConfiguration ON), codes checked, one new user."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = idp.create_user_pool(
            PoolName="signin-test",
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireUppercase": True,
                    "RequireLowercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": False,
                }
            },
        )["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(
            UserPoolId=pool_id, Username="nieuw", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS"
        )
        login = CognitoLogin(CognitoSettings("eu-west-1", pool_id, client_id))
        yield {"idp": idp, "pool": pool_id, "login": login}


def _require_totp(pool: dict[str, Any]) -> None:
    pool["idp"].set_user_pool_mfa_config(
        UserPoolId=pool["pool"], SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )


def _wrong(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_password_rules_are_checked_before_cognito_is_asked() -> None:
    assert password_problems("kort1A") == ["length"]
    assert password_problems("alleenkleineletters") == ["upper", "digit"]
    assert password_problems("ALLEENHOOFDLETTERS1") == ["lower"]
    assert password_problems(CHOSEN) == []


def test_a_temporary_password_leads_to_choosing_a_new_one(pool: dict[str, Any]) -> None:
    login: CognitoLogin = pool["login"]
    # GIVEN a user with a temporary password WHEN they sign in THEN the step is "new password"
    step = login.start("nieuw", TEMPORARY)
    assert isinstance(step, Challenge) and step.name == NEW_PASSWORD and step.session
    # AND `login()` (scripts) refuses plainly instead of returning half a sign-in
    with pytest.raises(LoginError) as caught:
        login.login("nieuw", TEMPORARY)
    assert caught.value.kind == "challenge"
    # WHEN the new password breaks the rules THEN it is refused with the rules' message
    with pytest.raises(LoginError) as caught:
        login.new_password(step, "te-kort-1A")
    assert caught.value.kind == "weak_password"
    # WHEN a good one is chosen THEN the user is signed in, and later signs in with it
    tokens = login.new_password(step, CHOSEN)
    assert isinstance(tokens, Tokens) and tokens.username == "nieuw"
    assert isinstance(login.start("nieuw", CHOSEN), Tokens)
    with pytest.raises(LoginError) as caught:
        login.start("nieuw", TEMPORARY)
    assert caught.value.kind == "wrong_password"


def test_setting_up_totp_then_signing_in_with_a_code(pool: dict[str, Any]) -> None:
    login: CognitoLogin = pool["login"]
    _require_totp(pool)
    step = login.start("nieuw", TEMPORARY)
    assert isinstance(step, Challenge)
    # GIVEN a pool that requires TOTP WHEN the new password is set THEN the app must be set up
    setup = login.new_password(step, CHOSEN)
    assert isinstance(setup, Challenge) and setup.name == MFA_SETUP
    assert setup.secret and base64.b32decode(setup.secret + "=" * (-len(setup.secret) % 8), casefold=True)
    assert setup.otpauth_uri().startswith("otpauth://totp/H-DCN%3Anieuw?secret=")
    # WHEN a wrong code is typed THEN it is refused, and the step can still be answered
    code = totp_code(setup.secret)
    with pytest.raises(LoginError) as caught:
        login.verify_setup(setup, _wrong(code))
    assert caught.value.kind == "wrong_code"
    with pytest.raises(LoginError) as caught:
        login.verify_setup(setup, "12ab")
    assert caught.value.kind == "wrong_code"
    tokens = login.verify_setup(setup, code)
    assert isinstance(tokens, Tokens)
    # AND TOTP is now the user's MFA: the next sign-in asks for a code
    user = pool["idp"].admin_get_user(UserPoolId=pool["pool"], Username="nieuw")
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    again = login.start("nieuw", CHOSEN)
    assert isinstance(again, Challenge) and again.name == TOTP_CODE
    with pytest.raises(LoginError) as caught:
        login.totp(again, _wrong(totp_code(setup.secret)))
    assert caught.value.kind == "wrong_code"
    assert isinstance(login.totp(again, totp_code(setup.secret)), Tokens)


def test_a_disabled_account_is_told_so(pool: dict[str, Any]) -> None:
    pool["idp"].admin_disable_user(UserPoolId=pool["pool"], Username="nieuw")
    with pytest.raises(LoginError) as caught:
        pool["login"].start("nieuw", TEMPORARY)
    assert caught.value.kind == "disabled"


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (
            "NotAuthorizedException",
            "Temporary password has expired and must be reset by an administrator.",
            "temporary_expired",
        ),
        ("NotAuthorizedException", "Invalid session for the user, session is expired.", "step_expired"),
        ("NotAuthorizedException", "User is disabled.", "disabled"),
        ("InvalidPasswordException", "Password does not conform to policy", "weak_password"),
        ("CodeMismatchException", "Invalid code received for user", "wrong_code"),
    ],
)
def test_cognito_s_answers_read_as_plain_kinds(code: str, message: str, kind: str) -> None:
    # GIVEN Cognito answering with an error moto does not produce (an expired temporary password)
    settings = CognitoSettings("eu-west-1", "eu-west-1_x", "client")
    client = boto3.client("cognito-idp", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error("initiate_auth", service_error_code=code, service_message=message)
        # WHEN signing in THEN the failure is one of the kinds the login page has a message for
        with pytest.raises(LoginError) as caught:
            CognitoLogin(settings, client=client).start("nieuw", TEMPORARY)
    assert caught.value.kind == kind


def test_totp_codes_match_rfc_6238() -> None:
    # RFC 6238 appendix B (SHA-1), last six digits
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert [totp_code(secret, at) for at in (59, 1111111109, 2000000000)] == ["287082", "081804", "279037"]


def test_the_local_stack_s_sign_in_users(stack: MockedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the local deploy's users (moto checks codes, as under `hdcn local up`)
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    outputs = stack.stack.outputs
    login = CognitoLogin(CognitoSettings("eu-west-1", outputs["UserPoolId"], outputs["UserPoolClientId"]))
    # THEN `nieuw` signs in with its temporary password and must choose a new one
    temporary = stack.stack.sign_ins[NEW_USER]["temporary_password"]
    assert not password_problems(temporary)
    step = login.start(NEW_USER, temporary)
    assert isinstance(step, Challenge) and step.name == NEW_PASSWORD
    assert isinstance(login.new_password(step, CHOSEN), Tokens)
    # AND `totp` is asked for a code, computed from the key the deploy recorded; a wrong one is refused
    secret = stack.stack.sign_ins[TOTP_USER]["totp_secret"]
    step = login.start(TOTP_USER, DEMO_PASSWORD)
    assert isinstance(step, Challenge) and step.name == TOTP_CODE
    with pytest.raises(LoginError):
        login.totp(step, _wrong(totp_code(secret)))
    tokens = login.totp(step, totp_code(secret))
    assert isinstance(tokens, Tokens) and tokens.groups == {"Members_Read", "Regio_Utrecht"}
    # AND the role demo users still sign in with the demo password alone
    assert isinstance(login.start("beheer", DEMO_PASSWORD), Tokens)
