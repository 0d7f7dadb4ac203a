"""User administration in Chromium: a TOTP set-up at the first sign-in, and root managing a coordinator.

Both tests drive the console as people would, against the session's local stack: a user invited
with a temporary password chooses their own, sets up an authenticator app from the QR code page and
signs in later with a fresh code (computed here from the key the page shows); root invites a
coordinator for Utrecht on the Gebruikers page, reads the temporary password the local stack shows
once, and later disables them, after which the coordinator's next reload is the sign-in form saying
why. Usernames are unique per run; every user a test makes is removed again.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from backend.local.totp import STEP_SECONDS, totp_code
from console.i18n import t
from tests.e2e.test_console_browser import (
    MENUS,
    browser,
    console_url,
    english_on,
    no_exception,
    open_page,
    settle,
    shot,
)
from tests.e2e.test_console_session import (
    _cookie_posted,
    expect_page,
    expect_sign_in_form,
    session_cookie,
    sign_in_and_keep,
)
from tests.integration.test_avg_console_stack import latest_export

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["browser", "console_url"]  # fixtures, imported for pytest

Api = Callable[..., requests.Response]
# The groups of a coordinator who reads Utrecht's members (the demo user regio-utrecht's too).
COORDINATOR_GROUPS = ["Members_Read", "Regio_Utrecht"]
# A typed code must reach Cognito within its 30-second step (moto accepts no neighbouring step):
# a code is only computed when at least this much of its step is left.
CODE_MARGIN_SECONDS = 12


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """New browser contexts (separate cookie jars: separate people), all closed at the end."""
    made: list[BrowserContext] = []

    def new() -> BrowserContext:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        ctx.set_default_timeout(30_000)
        made.append(ctx)
        return ctx

    yield new
    for ctx in made:
        ctx.close()


def unique(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**10}"


def step_of(at: float) -> int:
    return int(at // STEP_SECONDS)


def fresh_code(secret: str, not_in_step: int | None = None) -> tuple[str, int]:
    """The authenticator's code and its step, computed as a person's app would show it.

    Waits (for the clock, not for the console) until the current step has enough time left and,
    with `not_in_step`, until a later step than that one: Cognito refuses a code used before.
    """
    while True:
        now = time.time()
        left = STEP_SECONDS - now % STEP_SECONDS
        if left >= CODE_MARGIN_SECONDS and (not_in_step is None or step_of(now) > not_in_step):
            return totp_code(secret, now), step_of(now)
        time.sleep(min(left, 1.0) + 0.05)


@contextmanager
def totp_required(aws: Callable[[str], Any], pool_id: str) -> Iterator[None]:
    """The pool as `RequireTotp=true` deploys it (MfaConfiguration ON), restored afterwards.

    The local stack deploys the default (OPTIONAL), where Cognito never asks a new user to set up
    an authenticator; with ON it does, right after the first new password (MFA_SETUP).
    """
    idp = aws("cognito-idp")
    before = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    idp.set_user_pool_mfa_config(
        UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    try:
        yield
    finally:
        # The call needs a TOTP setting; the template's pool has TOTP enabled (EnabledMfas), which
        # the local deploy leaves unset: with OPTIONAL neither asks anyone for a set-up.
        software = before.get("SoftwareTokenMfaConfiguration") or {"Enabled": True}
        idp.set_user_pool_mfa_config(
            UserPoolId=pool_id,
            MfaConfiguration=before["MfaConfiguration"],
            SoftwareTokenMfaConfiguration=software,
        )


def invite_by_api(api: Api, username: str) -> str:
    """root invites `username` (the coordinator's groups); the temporary password the local stack shows."""
    invited = api(
        "POST",
        "/users",
        user="root",
        json={"username": username, "email": f"{username}@example.org", "groups": COORDINATOR_GROUPS},
    )
    assert invited.status_code == 201, invited.text
    return str(invited.json()["temporary_password"])


def enter_password(page: Page, user: str, password: str) -> None:
    page.get_by_role("textbox", name=t("login.username")).fill(user)
    page.get_by_role("textbox", name=t("login.password")).fill(password)
    page.get_by_role("button", name=t("login.submit")).click()


def choose_new_password(page: Page, password: str) -> None:
    """Answer the first sign-in's step (the rules show before anything is typed)."""
    expect(page.get_by_text(t("login.new_password.rules"))).to_be_visible()
    page.get_by_role("textbox", name=t("login.new_password.new"), exact=True).fill(password)
    page.get_by_role("textbox", name=t("login.new_password.repeat")).fill(password)
    page.get_by_role("button", name=t("login.new_password.submit")).click()


def expect_menu(page: Page, pages: list[str]) -> None:
    """Signed in, with exactly these pages in the menu."""
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link")).to_have_count(len(pages))


def no_dialog(page: Page) -> None:
    """No dialog over the page (Streamlit's English "Page not found" was one, on a signed-out page)."""
    settle(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("Page not found")).to_have_count(0)


def shown_code(page: Page) -> str:
    """The text of the page's one code block (a key or a temporary password shown to be typed over)."""
    block = page.get_by_test_id("stCode")
    expect(block).to_have_count(1)
    return block.inner_text().strip()


def test_a_new_user_sets_up_an_authenticator_and_later_signs_in_with_a_fresh_code(
    contexts: Callable[[], BrowserContext],
    console_url: str,
    local_stack: dict[str, Any],
    api: Api,
    aws: Callable[[str], Any],
) -> None:
    # GIVEN a pool that requires TOTP, and a user root invited (temporary password, no authenticator)
    username = unique("totp")
    password = "Totp-gekozen-wachtwoord7"
    temporary = invite_by_api(api, username)
    page = contexts().new_page()
    try:
        with totp_required(aws, local_stack["outputs"]["UserPoolId"]):
            # WHEN they sign in with the temporary password and choose their own
            page.goto(console_url)
            enter_password(page, username, temporary)
            choose_new_password(page, password)
            # THEN the page asks them to set up an authenticator: a QR code and the key as text
            expect(page.get_by_role("heading", name=t("login.mfa_setup.title"))).to_be_visible()
            expect(page.get_by_test_id("stImage").locator("img")).to_be_visible()
            secret = shown_code(page)
            assert re.fullmatch(r"[A-Za-z2-7]{8,}", secret), "the key is base32 text"
            assert not english_on(page)
            shot(page, "totp-setup")
            # WHEN they type the app's current code (computed here from the key shown)
            code, setup_step = fresh_code(secret)
            page.get_by_role("textbox", name=t("login.mfa.code")).fill(code)
            with page.expect_response(_cookie_posted):
                page.get_by_role("button", name=t("login.mfa_setup.submit")).click()
                # THEN they are signed in and see their pages (a Utrecht reader's)
                expect_menu(page, MENUS["regio-utrecht"])
            open_page(page, "exports")
            no_exception(page)
            # WHEN they sign out and sign in again with their password
            with page.expect_response(_cookie_posted):
                page.get_by_role("button", name=t("sidebar.sign_out")).click()
            expect_sign_in_form(page)
            no_dialog(page)
            enter_password(page, username, password)
            # THEN the page asks for the app's code, and refuses an old one
            expect(page.get_by_role("heading", name=t("login.mfa.title"))).to_be_visible()
            stale = totp_code(secret, time.time() - 10 * STEP_SECONDS)
            page.get_by_role("textbox", name=t("login.mfa.code")).fill(stale)
            page.get_by_role("button", name=t("login.submit"), exact=True).click()
            expect(page.get_by_text(t("login.error.wrong_code"))).to_be_visible()
            expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
            shot(page, "totp-wrong-code")
            # AND with a fresh code (of a later step than the set-up's) they are signed in again
            code, _ = fresh_code(secret, not_in_step=setup_step)
            page.get_by_role("textbox", name=t("login.mfa.code")).fill(code)
            with page.expect_response(_cookie_posted):
                page.get_by_role("button", name=t("login.submit"), exact=True).click()
                expect_menu(page, MENUS["regio-utrecht"])
            open_page(page, "exports")
            # AND a reload keeps them signed in, without asking for a code again
            page.reload()
            expect_page(page, "exports")
    finally:
        api("DELETE", f"/users/{username}", user="root")


def test_the_local_totp_user_signs_in_with_a_code_from_the_key_the_stack_publishes(
    contexts: Callable[[], BrowserContext], console_url: str, local_stack: dict[str, Any]
) -> None:
    # GIVEN the local stack's `totp` user (authenticator set up at start; its key in the state file)
    secret = local_stack["sign_in_users"]["totp"]["totp_secret"]
    page = contexts().new_page()
    page.goto(console_url)
    # WHEN they sign in with the demo password THEN the code is asked for
    enter_password(page, "totp", local_stack["demo_password"])
    expect(page.get_by_role("heading", name=t("login.mfa.title"))).to_be_visible()
    assert not english_on(page)
    # WHEN they type the current code THEN they are signed in and see their pages
    code, _ = fresh_code(secret)
    page.get_by_role("textbox", name=t("login.mfa.code")).fill(code)
    with page.expect_response(_cookie_posted):
        page.get_by_role("button", name=t("login.submit"), exact=True).click()
        expect_menu(page, MENUS["regio-utrecht"])
    open_page(page, "exports")
    no_exception(page)


def utrecht_rows_in_grid(page: Page) -> list[str]:
    """The Regio cells of the table's rows in view (the data grid's accessible cells)."""
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid.locator("[role='columnheader']").first).to_be_attached()  # drawn after the run
    headers = [h.strip() for h in grid.locator("[role='columnheader']").all_inner_texts()]
    assert "Regio" in headers, headers
    column = headers.index("Regio")
    cells = []
    for row in grid.locator("[role='row']").all()[1:]:  # the first row holds the headers
        values = row.locator("[role='gridcell']").all_inner_texts()
        if len(values) == len(headers):
            cells.append(values[column].strip())
    return cells


def test_root_invites_a_utrecht_coordinator_who_sees_only_utrecht_until_root_disables_them(
    contexts: Callable[[], BrowserContext], console_url: str, local_stack: dict[str, Any], api: Api
) -> None:
    # GIVEN a finished export of every region (so there is member data to preview)
    latest_export(api)
    everyone = api("GET", "/members", user="staff", params={"limit": 200}).json()["members"]
    assert len({m["regio"] for m in everyone}) > 1, "other regions' members exist (the check can fail)"
    username = unique("coord")
    demo = local_stack["demo_password"]
    try:
        # WHEN root invites a coordinator for Utrecht with Members_Read on the Gebruikers page
        root = contexts().new_page()
        sign_in_and_keep(root, console_url, "root", demo)
        open_page(root, "users")
        # (checked before any picker is used: their screen-reader line "8 options available" is
        # the picker library's own English, not the console's)
        assert not english_on(root)
        root.get_by_text(t("users.invite.title")).click()
        form = root.get_by_test_id("stForm")
        form.get_by_role("textbox", name=t("users.col.username")).fill(username)
        form.get_by_role("textbox", name=t("users.col.email")).fill(f"{username}@example.org")
        for label, group in ((t("users.permissions"), "Members_Read"), (t("users.regions"), "Regio_Utrecht")):
            form.get_by_test_id("stMultiSelect").filter(has_text=label).click()
            root.keyboard.type(group)  # the list draws only the options in view: narrow it first
            root.get_by_role("option", name=group, exact=True).click()
            root.keyboard.press("Escape")
        form.get_by_text(t("users.confirm")).click()
        form.get_by_role("button", name=t("users.invite.submit")).click()
        # THEN the page says so and shows the temporary password once
        expect(root.get_by_text(t("users.done.invited", username=username))).to_be_visible()
        expect(root.get_by_text(t("users.temporary_password", username=username))).to_be_visible()
        temporary = shown_code(root)
        no_exception(root)
        shot(root, "root-users-invited")
        root.reload()
        expect(root.get_by_role("heading", name=t("users.title"))).to_be_visible()
        settle(root)
        expect(root.get_by_test_id("stCode")).to_have_count(0)  # once means once

        # WHEN the coordinator, in a browser of their own, signs in with it and chooses a password
        coordinator_context = contexts()
        coordinator = coordinator_context.new_page()
        coordinator.goto(console_url)
        enter_password(coordinator, username, temporary)
        with coordinator.expect_response(_cookie_posted):
            choose_new_password(coordinator, "Coordinator-eigen-wachtwoord3")
            expect_menu(coordinator, MENUS["regio-utrecht"])
        assert session_cookie(coordinator_context) is not None
        # THEN the member data they see is Utrecht's only: the table, the region filter, the file
        open_page(coordinator, "exports")
        no_exception(coordinator)
        regios = utrecht_rows_in_grid(coordinator)
        assert regios and set(regios) == {"Utrecht"}, regios
        shot(coordinator, "coordinator-exports")
        coordinator.get_by_role("tab", name=t("exports.tab.download")).click()
        with coordinator.expect_download() as download:
            coordinator.get_by_role("button", name=t("download.csv")).first.click()
        data = Path(download.value.path()).read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(data), delimiter=";"))
        column = rows[0].index("Regio")
        assert len(rows) > 1 and {r[column] for r in rows[1:]} == {"Utrecht"}

        # WHEN root disables them on the Gebruikers page (with the confirmation it asks for)
        search = root.get_by_role("textbox", name=t("users.search"))
        search.fill(username)
        search.press("Enter")
        settle(root)
        root.get_by_role("tab", name=t("users.tab.account")).click()
        disable = t("users.action.disable")
        button = root.get_by_role("button", name=disable, exact=True)
        expect(button).to_be_disabled()  # not before the confirmation
        root.get_by_text(t("users.confirm_action", action=disable, username=username)).click()
        expect(button).to_be_enabled()
        button.click()
        expect(root.get_by_text(t("users.done.action", action=disable, username=username))).to_be_visible()
        status = t("users.change.state", status=t("users.status.disabled"))
        expect(root.get_by_text(status)).to_be_visible()
        no_exception(root)
        shot(root, "root-users-disabled")

        # THEN the coordinator's next reload is the sign-in form saying their account is disabled
        with coordinator.expect_response(_cookie_posted):
            coordinator.reload()
            expect_sign_in_form(coordinator)
            expect(coordinator.get_by_text(t("session.ended.disabled"))).to_be_visible()
        assert session_cookie(coordinator_context) is None
        # (at /exports still, with no "Page not found" dialog over the form: see streamlit_app.py)
        no_dialog(coordinator)
        assert coordinator.url.rstrip("/").endswith("/exports")
        shot(coordinator, "coordinator-disabled")
    finally:
        api("DELETE", f"/users/{username}", user="root")
