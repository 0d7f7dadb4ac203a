"""The console in a real headless Chromium against the local stack: every demo user, every page, in Dutch.

One browser for the module (a new context per test). Each page is checked against the
message catalogue: no English text of the catalogue shows in Dutch mode, and no table
header is a raw field name. Screenshots of each page land in tests/e2e/artifacts/ (ignored
by git) for people to look at. These tests fail, not skip, when Chromium is missing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console.i18n import catalogue_messages, language, t
from console.member_model import FIELDS
from console.session import ROUTE as SESSION_ROUTE
from tests.browser import MISSING, find_chromium
from tests.conftest import reset_nieuw

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
# Page key → (menu title id, heading id).
PAGES = {
    "overview": ("nav.overview", "overview.title"),
    "exports": ("nav.exports", "exports.title"),
    "generate": ("nav.generate", "generate.title"),
    "members": ("nav.members", "members.title"),
    "products": ("nav.products", "products.title"),
    "stack": ("nav.stack", "stack.title"),
    "health": ("nav.health", "health.title"),
    "audit": ("nav.audit", "audit.title"),
    "users": ("nav.users", "users.title"),
}
MENUS = {
    "admin": ["overview", "exports", "generate"],
    "regio-utrecht": ["overview", "exports"],
    "staff": ["overview", "exports", "generate", "members", "products"],
    "ops": ["overview", "stack", "health", "audit"],
    "root": ["overview", "exports", "generate", "members", "products", "stack", "health", "audit", "users"],
    "beheer": ["overview", "users"],
}
# Streamlit's own English defaults that a page must replace (placeholders of its pickers).
STREAMLIT_ENGLISH = ("Choose options", "Choose an option", "No options to select")
RAW_FIELD_NAMES = frozenset(f.name for f in FIELDS) | {"lid_sinds", "leeftijd", "jaren_lid"}


@cache
def english_fragments() -> tuple[str, ...]:
    """The English catalogue's texts (and the fixed parts of its templates) that Dutch never uses."""
    nl, en = catalogue_messages("nl"), catalogue_messages("en")
    dutch = " ".join(nl.values())
    found = set()
    for msgid, text in en.items():
        if text == nl.get(msgid):
            continue
        for part in re.split(r"\{\w*\}", text):
            part = part.strip(" .,:;·()—…*✓")
            # Short bits ("min", "IBAN") are the same in both or too common to tell apart.
            if len(part) >= 6 and part not in dutch:
                found.add(part)
    return tuple(sorted(found | set(STREAMLIT_ENGLISH)))


def english_on(page: Page) -> list[str]:
    """English catalogue texts visible on the page."""
    text = page.locator("body").inner_text()
    return [f for f in english_fragments() if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)]


def raw_headers_on(page: Page) -> list[str]:
    """Table headers (the data grid's accessible column headers) that are a raw field name."""
    headers = page.locator("[role='columnheader']").all_inner_texts()
    return [h.strip() for h in headers if h.strip() in RAW_FIELD_NAMES]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    assert executable is not None, MISSING  # the session hook in tests/conftest.py stops earlier
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
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
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def sign_in(page: Page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name=t("login.username")).fill(user)
    page.get_by_role("textbox", name=t("login.password")).fill(password)
    page.get_by_role("button", name=t("login.submit")).click()
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()


def sign_out(page: Page) -> None:
    """Sign out and wait until the page has expired the session cookie (its post to the session
    route answered) and shows the form: a sign-in right after must not find the old session."""
    with page.expect_response(
        lambda r: r.url.endswith(SESSION_ROUTE) and r.request.method == "POST" and r.status == 204
    ):
        page.get_by_role("button", name=t("sidebar.sign_out")).click()
    expect(page.get_by_role("button", name=t("login.submit"))).to_be_visible()


def open_page(page: Page, key: str) -> None:
    menu, heading = PAGES[key]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=t(menu), exact=True).click()
    expect(page.get_by_role("heading", name=t(heading), exact=True)).to_be_visible()
    settle(page)


def open_member(page: Page, lidnummer: int) -> None:
    """On the members page, find one member by lidnummer and click their row to open them."""
    open_page(page, "members")
    search = page.get_by_label(t("filter.search"))
    search.fill(str(lidnummer))
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"· 1 leden gevonden$"))).to_be_visible()
    settle(page)
    grid = page.get_by_test_id("stDataFrame").first.bounding_box()
    assert grid is not None
    page.mouse.click(grid["x"] + 16, grid["y"] + 36 + 17)  # the first row's selection cell


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


def test_english_texts_are_found_when_they_show() -> None:
    # The check below must be able to fail: English UI texts are among the fragments it looks for.
    fragments = english_fragments()
    with language("en"):
        assert {t("sidebar.sign_out"), t("exports.tab.charts"), t("members.previous")} <= set(fragments)
    assert "Afmelden" not in fragments


def test_staff_runs_an_export_watches_it_and_downloads_it_in_dutch(
    page: Page, console_url: str, local_stack: dict[str, Any]
) -> None:
    # GIVEN staff on Generate WHEN they start an export
    sign_in(page, console_url, "staff", local_stack["demo_password"])
    open_page(page, "generate")
    page.get_by_role("button", name=t("generate.start")).click()
    # THEN the page follows the job live until it has succeeded
    done = page.get_by_test_id("stAlertContentSuccess").get_by_text(t("job.label.succeeded"))
    expect(done).to_be_visible(timeout=120_000)
    settle(page)
    shot(page, "staff-generate-done")
    # WHEN staff opens Exports THEN the newest export is previewed with its member count
    open_page(page, "exports")
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=60_000)
    no_exception(page)
    shot(page, "staff-exports-preview")
    # the grid's headers are readable (so the raw-name check below has something to check)
    headers = [h.strip() for h in page.locator("[role='columnheader']").all_inner_texts()]
    assert "Lidnummer" in headers and "Ingangsdatum" in headers, headers
    total = page.get_by_test_id("stMetricValue").first.inner_text()
    # WHEN they search a surname THEN the count shrinks and says of how many
    search = page.get_by_label(t("filter.search"))
    search.fill("Jansen")
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"^van [\d.]+ leden in deze export$"))).to_be_visible()
    settle(page)
    shot(page, "staff-exports-filtered")
    page.get_by_role("tab", name=t("exports.tab.charts")).click()
    expect(page.get_by_text(t("chart.per_region"))).to_be_visible()
    shot(page, "staff-exports-charts")
    # WHEN they download the filtered view as CSV THEN a Dutch CSV with exactly those rows
    page.get_by_role("tab", name=t("exports.tab.download")).click()
    shown = int(page.get_by_test_id("stMetricValue").first.inner_text().replace(".", ""))
    assert shown < int(total.replace(".", ""))
    with page.expect_download() as download:
        page.get_by_role("button", name=t("download.csv")).first.click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:2] == ["Lidnummer", "Voornaam"] and len(rows) - 1 == shown
    surname = rows[0].index("Achternaam")
    assert all(r[surname] == "Jansen" for r in rows[1:])
    assert not english_on(page)
    no_exception(page)
    # AND regio-utrecht, signed in next, previews the same export from their one region's file
    sign_out(page)
    sign_in(page, console_url, "regio-utrecht", local_stack["demo_password"])
    open_page(page, "exports")
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    no_exception(page)
    shot(page, "regio-utrecht-exports-preview")


@pytest.mark.parametrize("user", sorted(MENUS))
def test_each_demo_user_sees_every_page_in_dutch(
    page: Page, console_url: str, local_stack: dict[str, Any], user: str
) -> None:
    # GIVEN the console WHEN a demo user signs in THEN the menu holds exactly their pages, in Dutch
    sign_in(page, console_url, user, local_stack["demo_password"])
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links).to_have_count(len(MENUS[user]))
    titles = [t(PAGES[k][0]) for k in MENUS[user]]
    assert [x.strip().split("\n")[-1] for x in links.all_inner_texts()] == titles  # after the icon
    # WHEN each page is opened THEN it renders, shows no English UI text and no raw field header
    for key in MENUS[user]:
        open_page(page, key)
        no_exception(page)
        shot(page, f"{user}-{key}")
        assert not english_on(page), (user, key, english_on(page))
        assert not raw_headers_on(page), (user, key, raw_headers_on(page))
    # AND a signed-out user is back at the form
    sign_out(page)


def test_nieuw_chooses_a_password_at_the_first_sign_in_and_sees_their_pages(
    page: Page, console_url: str, local_stack: dict[str, Any]
) -> None:
    # GIVEN `nieuw` with the temporary password `hdcn local up` printed
    temporary = reset_nieuw(local_stack)
    page.goto(console_url)
    page.get_by_role("textbox", name=t("login.username")).fill("nieuw")
    page.get_by_role("textbox", name=t("login.password")).fill(temporary)
    page.get_by_role("button", name=t("login.submit")).click()
    # THEN the page asks for a new password and shows the rules before one is typed
    expect(page.get_by_text(t("login.new_password.rules"))).to_be_visible()
    assert not english_on(page)
    shot(page, "login-new-password")
    # WHEN a password meeting the rules is typed twice THEN nieuw is signed in and sees their pages
    page.get_by_role("textbox", name=t("login.new_password.new"), exact=True).fill(
        "Nieuw-gekozen-wachtwoord9"
    )
    page.get_by_role("textbox", name=t("login.new_password.repeat")).fill("Nieuw-gekozen-wachtwoord9")
    page.get_by_role("button", name=t("login.new_password.submit")).click()
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links).to_have_count(len(MENUS["regio-utrecht"]))
    open_page(page, "exports")
    no_exception(page)


MARKDOWN_NAME = "![x](http://example.invalid/x.png)"


def test_a_row_click_opens_a_member_whose_name_stays_inert(
    page: Page, console_url: str, local_stack: dict[str, Any], api: Any
) -> None:
    # GIVEN a member named like a Markdown image and a formula
    created = api(
        "POST",
        "/members",
        user="staff",
        json={
            "voornaam": MARKDOWN_NAME,
            "achternaam": "=1+1",
            "email": f"inert-{time.time_ns()}@example.org",
            "regio": "Utrecht",
        },
    )
    assert created.status_code == 201, created.text
    member = created.json()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        # WHEN staff finds them by lidnummer and clicks their row
        sign_in(page, console_url, "staff", local_stack["demo_password"])
        open_member(page, member["lidnummer"])
        # THEN the member opens below, and their name shows as text in the delete confirmation
        caption = t("member.caption", lidnummer=member["lidnummer"], updated="")
        expect(page.get_by_text(caption.split(" · ")[0], exact=False).first).to_be_visible()
        page.get_by_text(t("member.delete_section")).click()
        confirm = page.get_by_test_id("stCheckbox").filter(has_text=t("member.delete_confirm", name="")[:12])
        expect(confirm).to_be_visible()
        # shown as the literal text (a zero-width space keeps the URL from being autolinked)
        assert MARKDOWN_NAME in confirm.inner_text().replace("\u200b", "")
        assert confirm.locator("a, img").count() == 0
        settle(page)
        shot(page, "staff-members-inert-name")
        assert page.locator("img[src*='example.invalid']").count() == 0
        assert not [u for u in fetched if "example.invalid" in u]
    finally:
        api("DELETE", f"/members/{member['member_id']}", user="staff")


def test_wrong_password_is_refused_plainly_and_english_is_one_choice_away(
    page: Page, console_url: str
) -> None:
    page.goto(console_url)
    page.get_by_role("textbox", name=t("login.username")).fill("staff")
    page.get_by_role("textbox", name=t("login.password")).fill("Not-the-password-1")
    page.get_by_role("button", name=t("login.submit")).click()
    expect(page.get_by_text(t("login.error.wrong_password"))).to_be_visible()
    assert not english_on(page)
    shot(page, "login-wrong-password")
    # WHEN English is chosen in the sidebar THEN the form speaks English
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="English").click()
    with language("en"):
        expect(page.get_by_role("button", name=t("login.submit"))).to_be_visible()
    shot(page, "login-english")


def test_root_filters_the_access_log_and_downloads_it_as_a_dutch_csv(
    page: Page, console_url: str, local_stack: dict[str, Any], api: Any
) -> None:
    # GIVEN staff has read a member (an entry in the access log)
    listed = api("GET", "/members", user="staff", params={"limit": 1}).json()["members"]
    assert api("GET", f"/members/{listed[0]['member_id']}", user="staff").status_code == 200
    # WHEN root opens the Toegangslog and filters on staff
    sign_in(page, console_url, "root", local_stack["demo_password"])
    open_page(page, "audit")
    user = page.get_by_label(t("audit.user"))
    user.fill("staff")
    user.press("Enter")
    expect(page.get_by_text(re.compile(r"^Pagina 1, [\d.]+ regels"))).to_be_visible()
    no_exception(page)
    shot(page, "root-audit-filtered")
    # THEN the CSV made of it is a Dutch file of staff's entries only
    page.get_by_role("button", name=t("audit.csv.prepare")).click()
    settle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"^CSV downloaden")).click()
    assert download.value.suggested_filename.startswith("toegangslog-")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Tijdstip", "Gebruiker", "Actie", "Betreft", "Details", "Functie"]
    assert len(rows) > 1 and {r[1] for r in rows[1:]} == {"staff"}
    assert any(r[2] == "Lid bekeken" and r[3] == listed[0]["member_id"] for r in rows[1:])
    assert all(re.fullmatch(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}", r[0]) for r in rows[1:])
    assert not english_on(page)


def test_staff_downloads_a_member_s_data_and_a_wrong_lidnummer_erases_nothing(
    page: Page, console_url: str, local_stack: dict[str, Any], api: Any
) -> None:
    # GIVEN a member staff can find by lidnummer
    created = api(
        "POST",
        "/members",
        user="staff",
        json={
            "voornaam": "Avg",
            "achternaam": "Browserproef",
            "email": f"avg-{time.time_ns()}@example.org",
            "regio": "Utrecht",
        },
    )
    assert created.status_code == 201, created.text
    member = created.json()
    try:
        sign_in(page, console_url, "staff", local_stack["demo_password"])
        open_member(page, member["lidnummer"])
        # WHEN staff requests the member's data THEN a JSON file named by lidnummer holds the record
        page.get_by_text(t("avg.data_export.title")).click()
        page.get_by_role("button", name=t("avg.data_export.fetch")).click()
        with page.expect_download() as download:
            page.get_by_role("button", name=t("avg.data_export.download")).click()
        assert download.value.suggested_filename == f"avg-gegevens-lid-{member['lidnummer']}.json"
        held = json.loads(Path(download.value.path()).read_bytes())
        assert held["record"]["achternaam"] == "Browserproef"
        # WHEN a wrong lidnummer is typed to erase THEN the page says nothing was erased
        page.get_by_text(t("avg.erase.title")).click()
        typed = page.get_by_label(t("avg.erase.type_lidnummer", lidnummer=member["lidnummer"]))
        typed.fill(str(member["lidnummer"] + 1))
        typed.press("Enter")
        settle(page)
        page.get_by_role("button", name=t("avg.erase.submit")).click()
        expect(page.get_by_text(t("avg.erase.wrong_lidnummer"))).to_be_visible()
        no_exception(page)
        assert not english_on(page)
        shot(page, "staff-member-avg")
        assert api("GET", f"/members/{member['member_id']}", user="staff").status_code == 200
    finally:
        api("DELETE", f"/members/{member['member_id']}", user="staff")
