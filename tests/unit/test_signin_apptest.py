"""AppTest of the login page's sign-in steps against a moto (in-process) user pool.

The page is driven as a person would: type, submit, read what the page says. The API is the
test server of test_console_apptest (the pages shown after signing in read from it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from streamlit.testing.v1 import AppTest

from backend.local.totp import totp_code
from console import session, ui
from console.i18n import t
from tests.unit.test_console_apptest import APP, FakeApi, fake_api, page_keys

pytestmark = pytest.mark.unit
__all__ = ["fake_api"]  # the fixture, imported for pytest

TEMPORARY = "Tijdelijk-wachtwoord1"
CHOSEN = "Mijn-eigen-wachtwoord2"
SESSION_SECRET = "sleutel-voor-de-sessiecookie-in-de-unit-tests-02"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch, fake_api: FakeApi) -> Iterator[dict[str, Any]]:
    """A moto pool (codes checked) with `nieuw`: a temporary password, a regional reader."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = idp.create_user_pool(PoolName="signin-apptest")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(
            UserPoolId=pool_id, Username="nieuw", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS"
        )
        for group in ("Members_Read", "Regio_Utrecht"):
            idp.create_group(UserPoolId=pool_id, GroupName=group)
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username="nieuw", GroupName=group)
        monkeypatch.setenv("HDCN_USER_POOL_ID", pool_id)
        monkeypatch.setenv("HDCN_CLIENT_ID", client_id)
        monkeypatch.setenv("HDCN_REGION", "eu-west-1")
        monkeypatch.delenv("HDCN_COGNITO_ENDPOINT", raising=False)
        monkeypatch.setenv(session.SECRET_ENV, SESSION_SECRET)
        yield {"idp": idp, "pool": pool_id}


def _submit(at: AppTest, label_id: str) -> AppTest:
    button = next(b for b in at.button if b.label == t(label_id))
    return button.click().run()


def _sign_in(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(user)
    at.text_input(key="login_password").input(password)
    return _submit(at, "login.submit")


def _session_kept(at: AppTest, user: str) -> bool:
    """The page was handed a ticket for a session cookie of `user` (every sign-in path does this)."""
    redeemed = session.TICKETS.redeem(at.session_state[ui.COOKIE_TICKET_KEY])
    record = (
        session.SessionCodec(SESSION_SECRET).open(redeemed.cookie) if redeemed and redeemed.cookie else None
    )
    return record is not None and record.username == user and bool(record.refresh_token)


def _texts(at: AppTest) -> str:
    parts = [at.error, at.warning, at.info, at.success, at.subheader, at.markdown, at.caption]
    return " | ".join(str(e.value) for kind in parts for e in kind)


def test_first_sign_in_chooses_a_new_password_with_the_rules_shown(pool: dict[str, Any]) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    # GIVEN the login form THEN it says whom to ask for a forgotten password
    assert t("login.forgot.body") in _texts(at)
    # WHEN `nieuw` signs in with the temporary password THEN the page asks for a new one, rules first
    at = _sign_in(at, "nieuw", TEMPORARY)
    assert not at.exception
    assert t("login.new_password.title") in _texts(at)
    assert t("login.new_password.rules") in _texts(at)
    assert "tokens" not in at.session_state
    # WHEN the two passwords differ THEN that is said, and nothing is sent
    at.text_input(key="new_password_1").input(CHOSEN)
    at.text_input(key="new_password_2").input(CHOSEN + "x")
    at = _submit(at, "login.new_password.submit")
    assert t("login.new_password.mismatch") in _texts(at)
    # WHEN the password breaks the rules THEN the rules are named
    at.text_input(key="new_password_1").input("kort-wachtw1")
    at.text_input(key="new_password_2").input("kort-wachtw1")
    at = _submit(at, "login.new_password.submit")
    assert t("login.error.weak_password") in _texts(at)
    # WHEN a good password is chosen THEN the user is signed in and sees their pages
    at.text_input(key="new_password_1").input(CHOSEN)
    at.text_input(key="new_password_2").input(CHOSEN)
    at = _submit(at, "login.new_password.submit")
    assert not at.exception
    assert at.session_state["tokens"].username == "nieuw"
    assert page_keys(at) == {"overview", "exports"}
    # AND the step (with Cognito's session) is gone from the session state
    assert "login_step" not in at.session_state
    # AND the session is kept for a reload (the page gets the cookie's ticket)
    assert _session_kept(at, "nieuw")


def test_totp_setup_shows_qr_and_key_then_later_sign_ins_ask_for_a_code(pool: dict[str, Any]) -> None:
    pool["idp"].set_user_pool_mfa_config(
        UserPoolId=pool["pool"], SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), "nieuw", TEMPORARY)
    at.text_input(key="new_password_1").input(CHOSEN)
    at.text_input(key="new_password_2").input(CHOSEN)
    at = _submit(at, "login.new_password.submit")
    # GIVEN a pool requiring TOTP THEN the page shows the set-up: a QR code and the key as text
    assert t("login.mfa_setup.title") in _texts(at)
    assert len(at.image) == 1  # the QR code of the key (segno)
    secret = at.session_state["login_step"].secret
    assert at.code[0].value == secret
    # WHEN a wrong code is typed THEN it is refused in Dutch and the set-up stays
    good = totp_code(secret)
    at.text_input(key="mfa_setup_code").input(f"{(int(good) + 1) % 1_000_000:06d}")
    at = _submit(at, "login.mfa_setup.submit")
    assert t("login.error.wrong_code") in _texts(at) and "tokens" not in at.session_state
    at.text_input(key="mfa_setup_code").input(totp_code(secret))
    at = _submit(at, "login.mfa_setup.submit")
    assert at.session_state["tokens"].username == "nieuw" and _session_kept(at, "nieuw")
    # WHEN signing in again THEN a code is asked, and the right one signs in
    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), "nieuw", CHOSEN)
    assert t("login.mfa.title") in _texts(at)
    at.text_input(key="mfa_code").input(totp_code(secret))
    at = _submit(at, "login.submit")
    assert not at.exception and at.session_state["tokens"].username == "nieuw"
    assert _session_kept(at, "nieuw")


def test_a_disabled_account_and_starting_over_are_said_plainly(pool: dict[str, Any]) -> None:
    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), "nieuw", TEMPORARY)
    # GIVEN a step in progress WHEN the user starts over THEN the username form is back
    at = _submit(at, "login.start_over")
    assert at.text_input(key="login_username") is not None and "login_step" not in at.session_state
    # GIVEN a disabled account WHEN it signs in THEN the page says it is disabled, in Dutch
    pool["idp"].admin_disable_user(UserPoolId=pool["pool"], Username="nieuw")
    at = _sign_in(at, "nieuw", TEMPORARY)
    assert t("login.error.disabled") in _texts(at)
    assert "uitgeschakeld" in t("login.error.disabled")
