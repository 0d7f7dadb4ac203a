"""The router and page addresses the user has no page for (AppTest, the real router and pages).

Found in Chromium: a signed-out reload of `/exports` (after a disable, an expired session, or a
deep link) opened Streamlit's English "Page not found" dialog over the sign-in form. A request
for a page is a page hash (of its URL path) in Streamlit; AppTest sends the same hash here.
"""

from __future__ import annotations

import time

import jwt
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from console.auth import Tokens
from console.i18n import t
from tests.unit.test_console_apptest import APP, DEMO_GROUPS, FakeApi, fake_api

pytestmark = pytest.mark.unit
__all__ = ["fake_api"]  # the fixture, imported for pytest


def open_address(at: AppTest, url_path: str) -> AppTest:
    """Open the console at `/<url_path>`, as a reload or a deep link does (by its page hash)."""
    at._page_hash = calc_hash(url_path)
    return at.run()


def on_address(at: AppTest) -> str:
    """The page hash the last run ended on (a page not found falls back to the default page's)."""
    return str(at._finished_page_script_hash)


def tokens_for(user: str) -> Tokens:
    token = jwt.encode(
        {"cognito:username": user, "cognito:groups": DEMO_GROUPS[user], "exp": int(time.time()) + 3600},
        "unit-test-key-not-a-secret-0123456789",
        algorithm="HS256",
    )
    return Tokens(token, "", "", time.time() + 3600, user)


def test_a_signed_out_deep_link_shows_the_sign_in_form_and_then_the_page_asked_for(fake_api: FakeApi) -> None:
    # GIVEN nobody signed in WHEN /exports is opened
    at = AppTest.from_file(APP, default_timeout=60).run()
    open_address(at, "exports")
    # THEN the sign-in form shows at that address (no fall-back to the default page)
    assert not at.exception
    assert at.text_input(key="login_username").label == t("login.username")
    assert on_address(at) == calc_hash("exports")
    # WHEN a Utrecht reader signs in there THEN they are on Exports
    at.session_state["tokens"] = tokens_for("regio-utrecht")
    at.run()
    assert not at.exception
    assert on_address(at) == calc_hash("exports")
    assert at.title[0].value == t("exports.title")


def test_a_page_the_user_does_not_have_opens_their_first_page(fake_api: FakeApi) -> None:
    # GIVEN a Utrecht reader (no Stack page) WHEN /stack is opened (a link, or the previous user's page)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["tokens"] = tokens_for("regio-utrecht")
    at.run()
    open_address(at, "stack")
    # THEN their overview shows, found (nothing of the Stack page runs)
    assert not at.exception
    assert on_address(at) == calc_hash("stack")
    assert at.title[0].value == t("overview.title")
