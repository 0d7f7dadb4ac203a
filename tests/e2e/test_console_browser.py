"""The console in a real headless Chromium against the local stack: every demo user, every page, an export.

Screenshots of each page land in tests/e2e/artifacts/ (ignored by git) for people to look at.
These tests fail, not skip, when Chromium is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import MISSING, find_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Menu title → the page's heading.
HEADINGS = {
    "Overview": "Overview",
    "Exports": "Member exports",
    "Generate": "Generate a member export",
    "Members": "Members",
    "Products": "Products",
    "Stack": "Stack",
    "Health": "Health checks",
}
MENUS = {
    "admin": ["Overview", "Exports", "Generate"],
    "regio-utrecht": ["Overview", "Exports"],
    "staff": ["Overview", "Exports", "Generate", "Members", "Products"],
    "ops": ["Overview", "Stack", "Health"],
    "root": ["Overview", "Exports", "Generate", "Members", "Products", "Stack", "Health"],
}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    assert executable is not None, MISSING  # the session hook in tests/conftest.py stops earlier
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def console_url(local_stack: dict[str, Any]) -> str:
    """The console the local stack started, once it answers."""
    url = str(local_stack["console_url"])
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=5).status_code == 200:
                return url
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the console did not come up"
        time.sleep(0.5)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def sign_in(page: Page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=HEADINGS[title], exact=True)).to_be_visible()
    settle(page)


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current run (its script state, not a delay)."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=60_000)


def shot(page: Page, name: str) -> None:
    settle(page)
    # Tables and charts draw on a canvas after the run ends: give them a moment for people's
    # eyes (the screenshot is for looking at, nothing is asserted on it).
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_staff_runs_an_export_watches_it_and_previews_it(
    page: Page, console_url: str, local_stack: dict[str, Any]
) -> None:
    # GIVEN staff on Generate WHEN they start an export
    sign_in(page, console_url, "staff", local_stack["demo_password"])
    open_page(page, "Generate")
    page.get_by_role("button", name="Start export").click()
    # THEN the page follows the job live until it has succeeded
    done = page.get_by_test_id("stAlertContentSuccess").get_by_text(re.compile(r"Export \S+ succeeded"))
    expect(done).to_be_visible(timeout=120_000)
    settle(page)
    shot(page, "staff-generate-done")
    # WHEN staff opens Exports THEN the newest export is previewed with its row count
    open_page(page, "Exports")
    expect(page.get_by_text(re.compile(r"members in \d+ file"))).to_be_visible(timeout=60_000)
    no_exception(page)
    shot(page, "staff-exports-preview")
    # WHEN they search a surname THEN the row count shrinks ("of N" appears beside it)
    search = page.get_by_label("Search name or lidnummer")
    search.fill("Jansen")
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"^of \d"))).to_be_visible()
    settle(page)
    shot(page, "staff-exports-filtered")
    page.get_by_role("tab", name="Charts").click()
    expect(page.get_by_text("Members per region")).to_be_visible()
    shot(page, "staff-exports-charts")
    # WHEN they download the filtered view as CSV THEN the file holds exactly the filtered rows
    page.get_by_role("tab", name="Download").click()
    shown = int(page.get_by_test_id("stMetricValue").first.inner_text().replace(",", ""))
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").first.click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").strip().splitlines()
    assert lines[0].startswith("lidnummer,") and len(lines) - 1 == shown
    assert all("Jansen" in line for line in lines[1:])
    no_exception(page)
    # AND regio-utrecht, signed in next, previews the same export from their one region's file
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console_url, "regio-utrecht", local_stack["demo_password"])
    open_page(page, "Exports")
    expect(page.get_by_text(re.compile(r"members in 1 file\(s\) of your regions"))).to_be_visible()
    no_exception(page)
    shot(page, "regio-utrecht-exports-preview")


@pytest.mark.parametrize("user", sorted(MENUS))
def test_each_demo_user_sees_and_opens_their_pages(
    page: Page, console_url: str, local_stack: dict[str, Any], user: str
) -> None:
    # GIVEN the console WHEN a demo user signs in THEN the menu holds exactly their pages
    sign_in(page, console_url, user, local_stack["demo_password"])
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links).to_have_count(len(MENUS[user]))
    assert [t.strip().split("\n")[-1] for t in links.all_inner_texts()] == MENUS[user]  # after the icon
    # WHEN each page is opened THEN it renders without an exception, and is photographed
    for title in MENUS[user]:
        open_page(page, title)
        no_exception(page)
        shot(page, f"{user}-{title.lower()}")
    # AND a signed-out user is back at the form
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_wrong_password_is_refused_plainly(page: Page, console_url: str) -> None:
    page.goto(console_url)
    page.get_by_role("textbox", name="Username").fill("staff")
    page.get_by_role("textbox", name="Password").fill("Not-the-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    shot(page, "login-wrong-password")
