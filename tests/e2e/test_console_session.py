"""The console's session in Chromium: a reload, a deep link and a restart keep the user signed in.

The session lives in an HttpOnly cookie (console/session.py) that page scripts cannot read;
signing out ends it everywhere (Cognito global sign-out), and a user disabled by an administrator
is signed out at their next reload with the reason. One test starts a console of its own, to
restart it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, expect

from backend.local.up import console_command, console_env
from console.i18n import t
from console.session import COOKIE_NAME, ROUTE
from tests.conftest import REPO_ROOT, free_port
from tests.e2e.test_console_browser import PAGES, browser, console_url, open_page, settle, shot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["browser", "console_url"]  # fixtures, imported for pytest


@pytest.fixture
def context(browser: Any) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def _cookie_posted(response: Any) -> bool:
    """The page's post of a session ticket, answered (the cookie set or expired)."""
    return bool(response.url.endswith(ROUTE) and response.request.method == "POST" and response.status == 204)


def session_cookie(context: BrowserContext) -> dict[str, Any] | None:
    found = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
    return dict(found[0]) if found else None


def sign_in_and_keep(page: Page, url: str, user: str, password: str) -> None:
    """Sign in through the form and wait until the page has posted the session's ticket."""
    page.goto(url)
    page.get_by_role("textbox", name=t("login.username")).fill(user)
    page.get_by_role("textbox", name=t("login.password")).fill(password)
    with page.expect_response(_cookie_posted):
        page.get_by_role("button", name=t("login.submit")).click()
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
    settle(page)


def expect_page(page: Page, key: str) -> None:
    """Signed in, on page `key` (its heading shows and the menu is there)."""
    expect(page.get_by_role("heading", name=t(PAGES[key][1]), exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()


def expect_sign_in_form(page: Page) -> None:
    expect(page.get_by_role("button", name=t("login.submit"))).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def test_reload_and_deep_link_keep_the_session_which_scripts_cannot_read_and_sign_out_ends(
    context: BrowserContext, console_url: str, local_stack: dict[str, Any]
) -> None:
    # GIVEN regio-utrecht signed in, on Exports
    page = context.new_page()
    sign_in_and_keep(page, console_url, "regio-utrecht", local_stack["demo_password"])
    shot(page, "session-signed-in")  # the cookie's frame is still on the page: it takes no room
    open_page(page, "exports")
    # THEN the session cookie is HttpOnly, SameSite=Strict, for the whole console, and not Secure
    # over plain HTTP; no page script can see it, and no token is in the URL or the page's storage
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert COOKIE_NAME not in page.evaluate("document.cookie")
    storage = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert "eyJ" not in storage and "eyJ" not in page.url  # (every JWT starts so)
    # WHEN the page is reloaded THEN the user is still signed in, on the same page
    page.reload()
    expect_page(page, "exports")
    assert page.url.rstrip("/").endswith("/exports")
    # WHEN a deep link is opened in a new tab of the same browser THEN it opens signed in
    other = context.new_page()
    other.goto(f"{console_url}/exports")
    expect_page(other, "exports")
    other.close()
    # WHEN the user signs out THEN the cookie is gone and a reload shows the sign-in form, no notice
    with page.expect_response(_cookie_posted):
        page.get_by_role("button", name=t("sidebar.sign_out")).click()
    expect_sign_in_form(page)
    assert session_cookie(context) is None
    page.reload()
    expect_sign_in_form(page)
    expect(page.get_by_text(t("session.ended.revoked"))).to_have_count(0)
    # AND the sign-out was global: the old cookie, replayed by another browser, no longer signs in
    replay = context.browser.new_context()  # type: ignore[union-attr]
    try:
        replay.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])  # type: ignore[list-item]
        stolen = replay.new_page()
        stolen.goto(f"{console_url}/exports")
        expect_sign_in_form(stolen)
        expect(stolen.get_by_text(t("session.ended.revoked"))).to_be_visible()
    finally:
        replay.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, "the console stopped"
        try:
            if requests.get(f"{url}/_stcore/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the console did not come up"
        time.sleep(0.5)


def _start_console(
    local_stack: dict[str, Any], key_dir: Path, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """A console of this test's own (`console/server.py`, as `hdcn local up` starts it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            console_command(port),
            cwd=REPO_ROOT,
            env=console_env(local_stack, key_dir),
            stdout=out,
            stderr=out,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def test_a_restarted_console_keeps_the_user_signed_in(
    context: BrowserContext, local_stack: dict[str, Any], tmp_path: Path
) -> None:
    # GIVEN a console of this test's own (its session key kept 0600 in its state folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_console(local_stack, tmp_path, port, tmp_path / "console.log")
    try:
        _wait_until_up(url, proc)
        assert (tmp_path / "session-secret").stat().st_mode & 0o077 == 0
        # AND staff signed in there, on Members
        page = context.new_page()
        sign_in_and_keep(page, url, "staff", local_stack["demo_password"])
        open_page(page, "members")
        # WHEN the console process is stopped and started again (same key from the state folder)
        _stop(proc)
        proc = _start_console(local_stack, tmp_path, port, tmp_path / "console.log")
        _wait_until_up(url, proc)
        # THEN a reload finds staff still signed in, on the same page
        page.reload()
        expect_page(page, "members")
    finally:
        _stop(proc)


def test_a_disabled_user_is_signed_out_at_the_next_reload_with_the_reason(
    context: BrowserContext, console_url: str, local_stack: dict[str, Any], api: Any, aws: Any
) -> None:
    # GIVEN a coordinator root invited (Members_Read for Utrecht), with a password of their own
    username = f"coord{time.time_ns() % 10**9}"
    invited = api(
        "POST",
        "/users",
        user="root",
        json={
            "username": username,
            "email": f"{username}@example.org",
            "groups": ["Members_Read", "Regio_Utrecht"],
        },
    )
    assert invited.status_code == 201, invited.text
    password = "Coordinator-wachtwoord1"
    aws("cognito-idp").admin_set_user_password(
        UserPoolId=local_stack["outputs"]["UserPoolId"], Username=username, Password=password, Permanent=True
    )
    try:
        # AND the coordinator signed in, on Exports
        page = context.new_page()
        sign_in_and_keep(page, console_url, username, password)
        open_page(page, "exports")
        # WHEN root disables them (the API also signs them out everywhere)
        disabled = api("POST", f"/users/{username}/disable", user="root")
        assert disabled.status_code == 200, disabled.text
        # THEN their next reload shows the sign-in form saying the account is disabled
        with page.expect_response(_cookie_posted):
            page.reload()
            expect_sign_in_form(page)
            expect(page.get_by_text(t("session.ended.disabled"))).to_be_visible()
        # AND the session cookie is gone, so a further reload is a plain sign-in form
        assert session_cookie(context) is None
    finally:
        api("DELETE", f"/users/{username}", user="root")
