"""The router's gate with a session cookie (AppTest, moto's pool in-process).

AppTest cannot send cookies, so the one function that reads the cookie of the browser's
connection (`ui.session_cookie_value`) is replaced by the value a browser would have sent;
everything after it (opening the cookie, Cognito's refresh, the messages) is the real code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from streamlit.testing.v1 import AppTest

from backend.local import moto_patches
from console import session, ui
from console.auth import CognitoLogin, CognitoSettings, Tokens
from console.i18n import t
from console.session import SessionCodec, SessionRecord
from tests.unit.test_console_apptest import APP, FakeApi, fake_api, page_keys

pytestmark = pytest.mark.unit
__all__ = ["fake_api"]  # the fixture, imported for pytest

SECRET = "sleutel-voor-de-sessiecookie-in-de-unit-tests-01"
PASSWORD = "Een-goed-wachtwoord1"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch, fake_api: FakeApi) -> Iterator[dict[str, Any]]:
    """A moto pool (disabled users' refreshes refused, as Cognito does) with a regional reader."""
    moto_patches.install_cognito_refresh_checks()
    monkeypatch.setenv(session.SECRET_ENV, SECRET)
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = idp.create_user_pool(PoolName="session-gate")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="lezer", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username="lezer", Password=PASSWORD, Permanent=True)
        for group in ("Members_Read", "Regio_Utrecht"):
            idp.create_group(UserPoolId=pool_id, GroupName=group)
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username="lezer", GroupName=group)
        refresh = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "lezer", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["RefreshToken"]
        monkeypatch.setenv("HDCN_USER_POOL_ID", pool_id)
        monkeypatch.setenv("HDCN_CLIENT_ID", client_id)
        monkeypatch.setenv("HDCN_REGION", "eu-west-1")
        monkeypatch.delenv("HDCN_COGNITO_ENDPOINT", raising=False)
        yield {"idp": idp, "pool": pool_id, "refresh": refresh}


def _browser_sends(monkeypatch: pytest.MonkeyPatch, value: str | None) -> AppTest:
    """A new browser session whose connection carried `value` as the session cookie."""
    monkeypatch.setattr(ui, "session_cookie_value", lambda: value)
    return AppTest.from_file(APP, default_timeout=60).run()


def _cookie(pool: dict[str, Any]) -> str:
    return SessionCodec(SECRET).seal(SessionRecord("lezer", pool["refresh"], time.time()))


def _clearing_ticket_pending(at: AppTest) -> bool:
    """The page was asked to expire the cookie (a ticket naming no value)."""
    if ui.COOKIE_TICKET_KEY not in at.session_state:
        return False
    ticket = at.session_state[ui.COOKIE_TICKET_KEY]
    redeemed = session.TICKETS.redeem(ticket)
    return redeemed is not None and redeemed.cookie is None


def _texts(at: AppTest) -> str:
    return " | ".join(str(e.value) for kind in (at.error, at.warning, at.info) for e in kind)


def test_a_valid_cookie_resumes_the_session(pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a browser that signed in earlier WHEN it opens the console again
    at = _browser_sends(monkeypatch, _cookie(pool))
    # THEN the user is signed in with fresh tokens and sees their pages, and no new cookie is set
    tokens = at.session_state[ui.TOKENS_KEY]
    assert tokens.username == "lezer" and {"Members_Read", "Regio_Utrecht"} <= tokens.groups
    assert {"overview", "exports"} <= page_keys(at) and "login" not in page_keys(at)
    assert ui.COOKIE_TICKET_KEY not in at.session_state
    assert not at.exception


def test_a_disabled_users_cookie_signs_them_out_saying_why(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a signed-in user whom an administrator then disabled (and signed out everywhere)
    cookie = _cookie(pool)
    pool["idp"].admin_disable_user(UserPoolId=pool["pool"], Username="lezer")
    pool["idp"].admin_user_global_sign_out(UserPoolId=pool["pool"], Username="lezer")
    # WHEN their browser reloads THEN the sign-in page says the account is disabled
    at = _browser_sends(monkeypatch, cookie)
    assert page_keys(at) == {"login"}
    assert t("session.ended.disabled") in _texts(at)
    # AND the page is asked to expire the cookie
    assert _clearing_ticket_pending(at)


def test_a_revoked_session_says_access_changed(pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a user signed out everywhere (a change of their groups does this) but still enabled
    cookie = _cookie(pool)
    pool["idp"].admin_user_global_sign_out(UserPoolId=pool["pool"], Username="lezer")
    at = _browser_sends(monkeypatch, cookie)
    assert page_keys(at) == {"login"}
    assert t("session.ended.revoked") in _texts(at)
    assert _clearing_ticket_pending(at)


def test_an_altered_cookie_is_dropped_quietly(pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = _cookie(pool)
    at = _browser_sends(monkeypatch, cookie[:-6] + ("AAAAAA" if not cookie.endswith("AAAAAA") else "BBBBBB"))
    assert page_keys(at) == {"login"}
    assert not _texts(at).strip(" |")
    assert _clearing_ticket_pending(at)


def test_an_unreachable_cognito_keeps_the_cookie(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Cognito not answering (a closed port) WHEN a browser with a good cookie connects
    monkeypatch.setenv("HDCN_COGNITO_ENDPOINT", "http://127.0.0.1:9")
    at = _browser_sends(monkeypatch, _cookie(pool))
    # THEN the sign-in page says so, and the cookie is kept for when Cognito is back
    assert page_keys(at) == {"login"}
    assert t("login.error.unreachable") in _texts(at)
    assert ui.COOKIE_TICKET_KEY not in at.session_state


def test_a_refresh_during_the_session_that_fails_signs_out_saying_why(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a signed-in session whose ID token is about to expire (it is refreshed before each use)
    at = _browser_sends(monkeypatch, _cookie(pool))
    tokens = at.session_state[ui.TOKENS_KEY]
    at.session_state[ui.TOKENS_KEY] = Tokens(
        tokens.id_token, tokens.access_token, tokens.refresh_token, time.time() + 60, tokens.username
    )
    # WHEN an administrator disables the user and the page runs again
    pool["idp"].admin_disable_user(UserPoolId=pool["pool"], Username="lezer")
    at = at.run()
    # THEN the refresh fails, the user is at the sign-in page with the reason, and the cookie goes
    assert page_keys(at) == {"login"}
    assert t("session.ended.disabled") in _texts(at)
    assert _clearing_ticket_pending(at)


def test_a_rotated_refresh_token_is_carried_into_the_cookie(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a session about to refresh, against a pool that rotates refresh tokens (moto does not:
    # Cognito's answer is stubbed, the console's code is not)
    at = _browser_sends(monkeypatch, _cookie(pool))
    tokens = at.session_state[ui.TOKENS_KEY]
    at.session_state[ui.TOKENS_KEY] = Tokens(
        tokens.id_token, tokens.access_token, tokens.refresh_token, time.time() + 60, tokens.username
    )
    client = boto3.client("cognito-idp", region_name="eu-west-1")
    login = CognitoLogin(CognitoSettings.from_env(), client=client)
    monkeypatch.setattr(ui, "cognito_login", lambda: login)
    answer = {"IdToken": tokens.id_token, "AccessToken": "access-2", "RefreshToken": "refresh-2"}
    with Stubber(client) as stub:
        stub.add_response("initiate_auth", {"AuthenticationResult": answer})
        # WHEN the page runs and the tokens are refreshed
        at = at.run()
    # THEN the page is asked to set a cookie holding the new refresh token
    ticket = at.session_state[ui.COOKIE_TICKET_KEY]
    redeemed = session.TICKETS.redeem(ticket)
    assert redeemed is not None and redeemed.cookie is not None
    record = SessionCodec(SECRET).open(redeemed.cookie)
    assert record is not None and record.refresh_token == "refresh-2" and record.username == "lezer"
