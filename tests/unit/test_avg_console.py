"""AppTest of the console's AVG parts: the Toegangslog page, and the member page's data export and erasure.

The console talks over HTTP to the test server of `test_console_apptest` (the API's shapes,
including the erase contract); downloads are read back from the files Streamlit serves.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from console import audit_view, members_view
from console.i18n import t
from tests.unit.test_console_apptest import FakeApi, _handler, button, messages, page_keys, signed_in

pytestmark = pytest.mark.unit

DUTCH_MOMENT = re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The API test server of the console's AppTests (with the access log and the erase contract)."""
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HDCN_API_URL", api.base)
    st.cache_data.clear()  # process-wide caches: every test starts from empty ones
    st.cache_resource.clear()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def served_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MemoryMediaFileStorage]]:
    """The in-memory file stores AppTest gives each run (a download button's bytes live there)."""
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, media_endpoint: str) -> None:
            super().__init__(media_endpoint)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    yield stores


def download(at: AppTest, stores: list[MemoryMediaFileStorage], label: str) -> tuple[str, bytes]:
    """The file name and bytes behind the download button labelled `label` on the last run."""
    (found,) = [b for b in at.get("download_button") if b.proto.label == label]
    name = found.proto.url.rsplit("/", 1)[-1]
    for store in reversed(stores):
        try:
            served = store.get_file(name)
        except Exception:  # noqa: S112 - another run's store: look in the next one
            continue
        return str(served.filename), served.content
    raise AssertionError(f"no served file {name}")


def audit_table(at: AppTest) -> Any:
    return at.dataframe[0].value


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # the BOM Dutch Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


# ---------------------------------------------------------------------------- who sees the page
@pytest.mark.parametrize("user", ["admin", "regio-utrecht", "staff", "beheer"])
def test_the_access_log_is_hidden_from_roles_without_system_rights(fake: FakeApi, user: str) -> None:
    # GIVEN a user without System_Logs_Read or System_CRUD WHEN signed in THEN no Toegangslog page
    at = signed_in(user)
    assert "audit" not in page_keys(at)
    with pytest.raises(ValueError):
        at.switch_page("app_pages/audit.py")


@pytest.mark.parametrize("user", ["ops", "root"])
def test_the_access_log_shows_the_last_week_in_dutch(fake: FakeApi, user: str) -> None:
    # GIVEN ops or root WHEN they open the Toegangslog THEN the last seven days' first page is shown
    at = signed_in(user)
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception and not at.error, messages(at)
    assert at.title[0].value == "Toegangslog"
    table = audit_table(at)
    assert len(table) == audit_view.PAGE_SIZE
    headers = [audit_view.column_label(c) for c in table.columns]
    assert headers == ["Tijdstip", "Gebruiker", "Actie", "Betreft", "Details", "Functie"]
    assert all(DUTCH_MOMENT.match(v) for v in table["at"]), table["at"].head()
    assert set(table["action"]) <= {t(m) for m in audit_view.ACTIONS.values()}
    # AND the period asked for is the last week (and the UTC day before, for Amsterdam's midnight)
    query = fake.audit_calls[-1]
    today = date.fromisoformat(query["until"][0])
    assert query["since"] == [(today - timedelta(days=7)).isoformat()]
    assert at.date_input(key="audit_since").value == today - timedelta(days=6)


def test_filters_narrow_the_table(fake: FakeApi) -> None:
    # GIVEN ops on the Toegangslog
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    # WHEN filtering on a user THEN only that user's entries remain
    at.text_input(key="audit_user").input("admin").run()
    table = audit_table(at)
    assert len(table) > 0 and set(table["actor"]) == {"admin"}
    # WHEN an action is chosen as well THEN only that action of that user, with its details in Dutch
    at.selectbox(key="audit_action").select("export.download").run()
    table = audit_table(at)
    assert len(table) > 0 and set(table["actor"]) == {"admin"}
    assert set(table["action"]) == {"Downloadlink van export uitgegeven"}
    assert set(table["details"]) == {"regio's: Utrecht, Limburg; rijen: 400"}
    assert fake.audit_calls[-1]["action"] == ["export.download"]
    # WHEN the action filter goes back to "alle" and the period is one old day THEN nothing is found
    at.selectbox(key="audit_action").select("").run()
    old = date.today() - timedelta(days=40)
    at.date_input(key="audit_since").set_value(old).run()
    at.date_input(key="audit_until").set_value(old).run()
    assert not at.dataframe and t("audit.none") in messages(at)


def test_a_period_running_backwards_is_refused_before_asking(fake: FakeApi) -> None:
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    at.date_input(key="audit_until").set_value(date.today() - timedelta(days=3)).run()
    asked = len(fake.audit_calls)
    # WHEN the start date is put after the end date THEN the page says so and asks the API nothing
    at.date_input(key="audit_since").set_value(date.today()).run()
    assert t("audit.error.period_backwards") in messages(at)
    assert len(fake.audit_calls) == asked and not at.dataframe


def test_a_lidnummer_is_looked_up_for_whoever_may_read_members(fake: FakeApi) -> None:
    member = next(m for m in fake.members.values() if m["member_id"] == fake.audit_entries[0]["target"])
    # GIVEN root (every right) WHEN they type a lidnummer THEN the log is searched by that member's id
    at = signed_in("root")
    at.switch_page("app_pages/audit.py").run()
    at.text_input(key="audit_member").input(str(member["lidnummer"])).run()
    assert not at.exception and not at.error, messages(at)
    table = audit_table(at)
    assert len(table) > 0 and set(table["target"]) == {member["member_id"]}
    # GIVEN ops (no member rights) WHEN they type a lidnummer THEN the page says to use the member id
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    at.text_input(key="audit_member").input(str(member["lidnummer"])).run()
    assert t("audit.member_no_lookup") in messages(at)
    at.text_input(key="audit_member").input(member["member_id"]).run()
    assert set(audit_table(at)["target"]) == {member["member_id"]}


def test_the_table_pages_through_the_api_cursor(fake: FakeApi) -> None:
    # GIVEN 120 entries in the last week and pages of 50
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    first = list(audit_table(at)["at"])
    assert button(at, "audit.previous").disabled
    # WHEN next is clicked twice THEN pages of 50 and then 20 follow, and next is disabled at the end
    button(at, "audit.next").click().run()
    second = list(audit_table(at)["at"])
    assert len(second) == 50 and second != first
    button(at, "audit.next").click().run()
    assert len(audit_table(at)) == 20
    assert button(at, "audit.next").disabled
    # AND previous goes back a page
    button(at, "audit.previous").click().run()
    assert list(audit_table(at)["at"]) == second
    # WHEN a filter changes THEN the table starts again at the first page
    at.text_input(key="audit_user").input("staff").run()
    assert button(at, "audit.previous").disabled


def test_the_csv_holds_every_page_of_the_filtered_entries(
    fake: FakeApi, served_files: list[MemoryMediaFileStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN ops on the Toegangslog, filtered on member updates, and the API read in pages of 8
    monkeypatch.setattr(audit_view, "CSV_PAGE_SIZE", 8)
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    at.selectbox(key="audit_action").select("member.update").run()
    assert not at.get("download_button")  # made on request only: reading every page takes calls
    # WHEN they make the CSV
    button(at, "audit.csv.prepare").click().run()
    assert not at.exception and not at.warning, messages(at)
    name, data = download(at, served_files, t("audit.csv.download", rows="30"))
    # THEN it is a Dutch CSV of all 30 updates of the week, read in four pages
    assert name.startswith("toegangslog-") and name.endswith(".csv")
    rows = csv_rows(data)
    assert rows[0] == ["Tijdstip", "Gebruiker", "Actie", "Betreft", "Details", "Functie"]
    assert len(rows) == 31
    assert [q.get("limit") for q in fake.audit_calls[-4:]] == [["8"]] * 4
    assert {r[2] for r in rows[1:]} == {"Lid gewijzigd"}
    assert all(DUTCH_MOMENT.match(r[0]) for r in rows[1:])
    # AND a logged text that looks like a formula stays text
    assert all(r[4].startswith("velden: ") for r in rows[1:])
    assert not any(cell.startswith(("=", "+", "@")) for r in rows for cell in r)


def test_the_csv_is_capped_and_says_so(
    fake: FakeApi, served_files: list[MemoryMediaFileStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a cap below the week's 120 entries
    monkeypatch.setattr(audit_view, "CSV_CAP", 70)
    at = signed_in("ops")
    at.switch_page("app_pages/audit.py").run()
    # WHEN the CSV is made THEN it holds the newest 70 and the page says it was cut
    button(at, "audit.csv.prepare").click().run()
    assert t("audit.csv.cut", cap="70") in messages(at)
    _, data = download(at, served_files, t("audit.csv.download", rows="70"))
    assert len(csv_rows(data)) == 71
    # AND with a cap the entries fit in, there is no such note
    monkeypatch.setattr(audit_view, "CSV_CAP", 120)
    at.text_input(key="audit_user").input("root").run()
    button(at, "audit.csv.prepare").click().run()
    assert t("audit.csv.cut", cap="120") not in messages(at)


# ---------------------------------------------------------------------------- the member page
def open_member(at: AppTest, fake: FakeApi, nth: int = 1) -> dict[str, Any]:
    member = sorted(fake.members.values(), key=lambda m: m["lidnummer"])[nth]
    at.switch_page("app_pages/members.py").run()
    at.selectbox(key="mem_chosen").select(member["member_id"]).run()
    assert not at.exception
    return dict(member)


def test_a_member_s_data_is_downloaded_as_json_named_by_lidnummer(
    fake: FakeApi, served_files: list[MemoryMediaFileStorage]
) -> None:
    # GIVEN staff with a member opened
    at = signed_in("staff")
    member = open_member(at, fake)
    # THEN nothing is asked before the button (a data request is logged as one)
    assert fake.data_export_calls == []
    # WHEN they request the member's data
    button(at, "avg.data_export.fetch").click().run()
    assert not at.exception and not at.error, messages(at)
    assert fake.data_export_calls == [member["member_id"]]
    # THEN a JSON file named by lidnummer holds the API's answer: record, history, exports
    name, data = download(at, served_files, t("avg.data_export.download"))
    assert name == f"avg-gegevens-lid-{member['lidnummer']}.json"
    assert member["achternaam"] not in name
    held = json.loads(data)
    assert held["record"]["member_id"] == member["member_id"]
    assert held["record"]["achternaam"] == member["achternaam"]
    assert held["exports"][0]["holds_member"] is True
    # AND another rerun does not ask again
    at.run()
    assert fake.data_export_calls == [member["member_id"]]


def test_erasure_needs_the_typed_lidnummer_then_shows_progress_until_done(fake: FakeApi) -> None:
    # GIVEN staff with a member opened
    at = signed_in("staff")
    member = open_member(at, fake, nth=2)
    member_id = member["member_id"]
    typed = at.text_input(key=f"avg_erase_typed_{member_id}")
    assert str(member["lidnummer"]) in typed.label
    # WHEN a wrong lidnummer is typed THEN nothing is sent and the page says nothing was erased
    typed.input(str(member["lidnummer"] + 1)).run()
    button(at, "avg.erase.submit").click().run()
    assert fake.erase_calls == []
    assert t("avg.erase.wrong_lidnummer") in messages(at)
    # WHEN the right one is typed THEN the erasure is asked for with the version read
    at.text_input(key=f"avg_erase_typed_{member_id}").input(f" {member['lidnummer']} ").run()
    button(at, "avg.erase.submit").click().run()
    assert not at.exception, at.exception
    assert fake.erase_calls == [(member_id, str(member["version"]))]
    # AND the member's form closes at once (its data is being erased; it must not stay on screen)
    assert at.selectbox(key="mem_chosen").value is None
    # AND its progress is shown while the job runs
    assert at.session_state["avg_erase_watch"]["member_id"] == member_id
    assert [s.state for s in at.status] == ["running"]
    assert t("erase.counts", done="1", total="3") in str(at.get("progress")[0].proto.text)
    # WHEN the polling fragment keeps running THEN the job ends and the outcome is said in Dutch
    for _ in range(5):
        if "avg_erase_watch" not in at.session_state:
            break
        at.run()
    assert "avg_erase_watch" not in at.session_state
    done = " ".join(str(s.value) for s in at.success)
    assert t("avg.erase.done", lidnummer=str(member["lidnummer"])) in done
    assert t("erase.done.delete") in done and "herschreven: 2, ingetrokken: 1" in done
    # AND the erased member is closed and gone from the list
    assert at.selectbox(key="mem_chosen").value is None
    assert members_view.who(member) not in at.selectbox(key="mem_chosen").options


def test_an_erasure_refused_for_a_stale_version_is_said_plainly(fake: FakeApi) -> None:
    # GIVEN staff with a member opened WHEN someone else changes it before the erasure is confirmed
    at = signed_in("staff")
    member = open_member(at, fake, nth=3)
    fake.members[member["member_id"]]["version"] += 1
    at.text_input(key=f"avg_erase_typed_{member['member_id']}").input(str(member["lidnummer"])).run()
    button(at, "avg.erase.submit").click().run()
    # THEN the 409 is explained and nothing is being watched
    assert t("avg.erase.conflict") in messages(at)
    assert "avg_erase_watch" not in at.session_state


# ---------------------------------------------------------------------------- the plain logic
def test_the_period_is_read_in_amsterdam_days() -> None:
    # GIVEN the period 1-12 to 1-12 (Amsterdam) WHEN the API is asked THEN the UTC day before too
    day = date(2026, 12, 1)
    filters = audit_view.AuditFilters(day, day)
    assert filters.params() == {"since": "2026-11-30", "until": "2026-12-01"}
    # AND 23:30 UTC on 30-11 is 00:30 on 1-12 in Amsterdam (kept); 23:30 UTC on 1-12 is the 2nd (dropped)
    assert filters.keeps({"at": "2026-11-30T23:30:00+00:00"})
    assert not filters.keeps({"at": "2026-11-30T22:30:00+00:00"})
    assert not filters.keeps({"at": "2026-12-01T23:30:00+00:00"})
    # AND the API's longest period is refused here first
    assert audit_view.AuditFilters(day - timedelta(days=400), day).problem() == "audit.error.period_too_long"
    assert audit_view.AuditFilters(day - timedelta(days=399), day).problem() is None


def test_an_entry_reads_as_dutch_words() -> None:
    entry = {
        "at": "2026-12-01T10:00:00+00:00",
        "actor": "staff",
        "action": "member.list",
        "target": "1200 members",
        "member_ids": ["a", "b", "c"],
        "regions": ["Utrecht"],
        "expires_at": 1,
    }
    row = audit_view.entry_frame([entry]).iloc[0]
    assert row["at"] == "01-12-2026 11:00"
    assert row["action"] == "Ledenlijst bekeken" and row["target"] == "1.200 leden"
    assert row["details"] == "leden: 3; regio's: Utrecht"
    # AND an action this console does not know shows its code
    assert audit_view.action_label("member.teleport") == "member.teleport"
    assert audit_view.target_text("1 members") == "1 lid"
    assert audit_view.target_text("email lookup") == "zoeken op e-mailadres"


def test_all_entries_follows_the_cursor_and_knows_when_it_cut() -> None:
    pages = {None: (["e1", "e2"], "c1"), "c1": (["e3", "e4"], "c2"), "c2": ([], None)}
    calls: list[tuple[str | None, int]] = []

    def fetch(cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
        calls.append((cursor, limit))
        return pages[cursor]

    # a cap the entries fit in: all of them, not cut, though the last cursor led to an empty page
    assert audit_view.all_entries(fetch, cap=4) == (["e1", "e2", "e3", "e4"], False)
    assert calls[-1] == ("c2", 1)
    # a cap below them: the newest up to the cap, cut
    assert audit_view.all_entries(fetch, cap=3) == (["e1", "e2", "e3"], True)


def test_a_failed_erasure_is_said_plainly_with_its_reason(fake: FakeApi) -> None:
    # GIVEN an erase job that will fail WHEN staff confirms an erasure and the page follows it
    fake.erase_fails = True
    at = signed_in("staff")
    member = open_member(at, fake, nth=4)
    at.text_input(key=f"avg_erase_typed_{member['member_id']}").input(str(member["lidnummer"])).run()
    button(at, "avg.erase.submit").click().run()
    for _ in range(5):
        if "avg_erase_watch" not in at.session_state:
            break
        at.run()
    # THEN the failure and its reason are shown, and no success
    assert "avg_erase_watch" not in at.session_state
    failed = " ".join(str(e.value) for e in at.error)
    assert t("avg.erase.failed", lidnummer=str(member["lidnummer"])) in failed
    assert "could not be rewritten" in failed and not at.success
