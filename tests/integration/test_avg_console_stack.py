"""The console's AVG parts against the session's local stack: the Toegangslog, a member's data, erasure."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from streamlit.testing.v1 import AppTest

from console.i18n import t
from tests.integration.test_console_stack import button, point_console_at, sign_in

pytestmark = pytest.mark.integration

Api = Callable[..., requests.Response]


@pytest.fixture
def console_env(local_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    point_console_at(local_stack, monkeypatch)
    return local_stack


def latest_export(api: Api) -> str:
    """The id of a finished export: staff runs one (or follows the one running) to the end."""
    resp = api("POST", "/analytics/generate-parquet", user="staff", json={})
    if resp.status_code == 409:
        job_id = resp.json()["error"]["details"]["running_job"]["job_id"]
    else:
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["job_id"]
    deadline = time.monotonic() + 180
    while True:
        job = api("GET", f"/analytics/jobs/{job_id}", user="staff").json()
        if job.get("state") in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["state"] == "succeeded", job
    exports = api("GET", "/analytics/exports", user="admin").json()["exports"]
    return str(max(exports, key=lambda e: str(e.get("created_at")))["export_id"])


def new_member(api: Api) -> dict[str, Any]:
    body = {
        "voornaam": "Avg",
        "achternaam": f"Proef-{uuid.uuid4().hex[:6]}",
        "email": f"avg-{uuid.uuid4().hex[:12]}@example.nl",
        "regio": "Utrecht",
        "lidmaatschap": "Gewoon lid",
        "status": "Aangemeld",
        "postcode": "3511 AB",
        "geboortedatum": "1970-03-05",
    }
    created = api("POST", "/members", user="staff", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def open_member(at: AppTest, member: dict[str, Any]) -> None:
    at.switch_page("app_pages/members.py").run()
    at.selectbox(key="mem_chosen").select(str(member["member_id"])).run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_root_sees_admin_s_export_download_in_the_access_log(console_env: dict[str, Any], api: Api) -> None:
    # GIVEN admin has been handed the download links of the latest export
    export_id = latest_export(api)
    resp = api("GET", f"/analytics/download-parquet/{export_id}", user="admin")
    assert resp.status_code == 200, resp.text
    # WHEN root opens the Toegangslog and filters on admin's export downloads
    at = sign_in("root", console_env["demo_password"])
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.text_input(key="audit_user").input("admin").run()
    at.selectbox(key="audit_action").select("export.download").run()
    # THEN that download is in the table, in Dutch
    table = at.dataframe[0].value
    mine = table[table["target"] == export_id]
    assert len(mine) >= 1, table
    assert set(mine["action"]) == {"Downloadlink van export uitgegeven"}
    assert set(table["actor"]) == {"admin"}
    # AND the CSV made of it holds the same entries
    button(at, "audit.csv.prepare").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, data, count, cut = at.session_state["audit_csv"]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert count == len(rows) - 1 and not cut
    assert any(r[3] == export_id and r[1] == "admin" for r in rows[1:])


def test_staff_downloads_a_member_s_data_with_its_change_history(
    console_env: dict[str, Any], api: Api
) -> None:
    # GIVEN a member with a change
    member = new_member(api)
    path = f"/members/{member['member_id']}"
    changed = api("PUT", path, user="staff", json={"woonplaats": "Zeist", "version": member["version"]})
    assert changed.status_code == 200, changed.text
    # WHEN staff opens the member and requests their data
    at = sign_in("staff", console_env["demo_password"])
    open_member(at, changed.json())
    button(at, "avg.data_export.fetch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # THEN the file offered holds the record as changed and its history from the access log
    member_id, data = at.session_state["avg_data_export"]
    assert member_id == member["member_id"]
    assert data["record"]["woonplaats"] == "Zeist"
    actions = [e["action"] for e in data["history"]]
    assert "member.create" in actions and "member.update" in actions
    assert any(b.proto.label == t("avg.data_export.download") for b in at.get("download_button"))
    # AND the data request itself is in the access log root reads
    at = sign_in("root", console_env["demo_password"])
    at.switch_page("app_pages/audit.py").run()
    at.text_input(key="audit_member").input(str(member["lidnummer"])).run()
    table = at.dataframe[0].value
    assert "Gegevens opgevraagd (AVG)" in set(table["action"]), table


def test_staff_erases_a_member_from_the_member_page(console_env: dict[str, Any], api: Api) -> None:
    member = new_member(api)
    probe = api("GET", f"/members/{member['member_id']}/erase", user="staff")
    if probe.status_code == 403 and "MISSING_AUTHENTICATION_TOKEN" in probe.text.upper():
        pytest.skip("the erase route is not on this stack yet (issue 16's backend)")
    # GIVEN staff with the member opened
    at = sign_in("staff", console_env["demo_password"])
    open_member(at, member)
    # WHEN they type the lidnummer and confirm
    at.text_input(key=f"avg_erase_typed_{member['member_id']}").input(str(member["lidnummer"])).run()
    button(at, "avg.erase.submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # THEN the page follows the job until it is done, and says so
    deadline = time.monotonic() + 300
    while "avg_erase_watch" in at.session_state and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    assert "avg_erase_watch" not in at.session_state
    done = " ".join(str(s.value) for s in at.success)
    assert t("avg.erase.done", lidnummer=str(member["lidnummer"])) in done, [e.value for e in at.error]
    erasure = api("GET", f"/members/{member['member_id']}/erase", user="staff").json()
    assert erasure.get("status", erasure.get("erasure", {}).get("status")) == "done"
    # AND no list shows the member's name any more
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"q": member["achternaam"], "limit": 200}
    for _ in range(50):
        page = api("GET", "/members", user="staff", params=params).json()
        found.extend(page["members"])
        if not page.get("next_cursor"):
            break
        params["cursor"] = page["next_cursor"]
    assert all(m.get("achternaam") != member["achternaam"] for m in found)
