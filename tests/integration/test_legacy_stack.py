"""The local stack playing the club's old system (`--data legacy`): API, export, migration check, console.

A private stack of its own, seeded with the old shapes: numbers as text, mixed dates, `NA`,
applicants without a lidnummer, shared and mixed-case emails, unknown fields, no versions.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from hdcn_common.member_fields import FIELD_BY_NAME, ReadState, read_value
from streamlit.testing.v1 import AppTest

from backend.local.launcher import LocalStackProcess
from backend.local.launcher import id_token as demo_id_token
from backend.local.seed import generate_legacy_members
from tests.conftest import REPO_ROOT
from tests.integration.test_console_stack import point_console_at

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LEGACY = 160
Api = Callable[..., requests.Response]


@pytest.fixture(scope="module")
def legacy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    stack = LocalStackProcess(tmp_path_factory.mktemp("legacy"), members=LEGACY, extra=("--data", "legacy"))
    state = stack.start()
    yield state
    with contextlib.suppress(subprocess.TimeoutExpired):
        stack.stop(timeout=60)


@pytest.fixture(scope="module")
def api(legacy_stack: dict[str, Any]) -> Api:
    session, tokens = requests.Session(), {}

    def call(method: str, path: str, user: str = "root", **kwargs: Any) -> requests.Response:
        if user not in tokens:
            tokens[user] = demo_id_token(legacy_stack, user)
        headers = {"Authorization": tokens[user], **kwargs.pop("headers", {})}
        return session.request(method, legacy_stack["api_url"] + path, headers=headers, timeout=60, **kwargs)

    return call


def _all_members(api: Api, user: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        resp = api("GET", "/members", user=user, params=params)
        assert resp.status_code == 200, resp.text
        found.extend(resp.json()["members"])
        cursor = resp.json().get("next_cursor")
        if not cursor:
            return found


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


def test_every_old_record_lists_opens_and_edits_with_its_values(api: Api) -> None:
    records = {r["member_id"]: r for r in generate_legacy_members(LEGACY)}
    # WHEN root pages through the members THEN every old record is there, each value as stored
    listed = {m["member_id"]: m for m in _all_members(api, "root")}
    assert set(listed) == set(records)
    for member_id, record in records.items():
        for key, raw in record.items():
            assert listed[member_id][key] == _plain(raw), key
    # AND a regional reader sees only their region's records
    utrecht = _all_members(api, "regio-utrecht")
    assert utrecht and {m["regio"] for m in utrecht} == {"Utrecht"}
    # WHEN staff changes one field of records with odd values THEN only that field changes
    odd = [r for r in records.values() if any(p in str(r.get("geboortedatum")) for p in ("-19", "-20", "NA"))]
    for record in odd[:8]:
        before = api("GET", f"/members/{record['member_id']}", user="staff").json()
        assert before["version"] == 0
        resp = api(
            "PUT", f"/members/{record['member_id']}", user="staff", json={"woonplaats": "Zeist", "version": 0}
        )
        assert resp.status_code == 200, resp.text
        after = api("GET", f"/members/{record['member_id']}", user="staff").json()
        assert after["woonplaats"] == "Zeist" and after["version"] == 1
        for key, value in before.items():
            if key not in ("woonplaats", "version", "updated_at"):
                assert after[key] == value, key


def test_export_keeps_every_record_and_counts_what_does_not_convert(api: Api) -> None:
    resp = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]
    deadline = time.monotonic() + 120
    while (job := api("GET", f"/analytics/jobs/{job_id}", user="staff").json())["state"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["state"] == "succeeded", job
    records = list(generate_legacy_members(LEGACY))
    invalid_dates = sum(
        read_value(FIELD_BY_NAME["geboortedatum"], r.get("geboortedatum")).state is ReadState.INVALID
        for r in records
    )
    assert job["rows"] == LEGACY and job["unconverted"]["geboortedatum"] == invalid_dates > 0
    assert job["unconverted"]["lidnummer"] > 0
    # AND the file a national admin downloads holds every member with typed columns
    files = api("GET", f"/analytics/download-parquet/{job_id}", user="admin").json()["files"]
    table = pa.concat_tables(
        pq.read_table(io.BytesIO(requests.get(f["url"], timeout=30).content)) for f in files
    )
    assert table.num_rows == LEGACY
    assert table.schema.field("nieuwsbrief").type == pa.bool_()
    assert table.schema.field("ingangsdatum").type == pa.date32()


def test_members_check_reports_then_apply_makes_the_table_ready(
    legacy_stack: dict[str, Any], api: Api
) -> None:
    state_dir = Path(legacy_stack["state_dir"])
    cmd = [sys.executable, "-m", "console.cli", "members", "check", "--local", "--state-dir", str(state_dir)]
    env = {"PATH": "/usr/bin:/bin"}
    report = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env)
    # THEN the report counts per field, names no member, and says the table is not ready yet
    assert report.returncode == 1, report.stderr
    assert "geboortedatum" in report.stdout and "lidnummer counter" in report.stdout
    for record in generate_legacy_members(LEGACY):
        assert record["achternaam"] not in report.stdout and record["member_id"] not in report.stdout
    applied = subprocess.run(
        [*cmd, "--apply"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stdout
    # AND a new member gets a lidnummer above every existing one
    highest = max(
        v
        for r in generate_legacy_members(LEGACY)
        if isinstance(v := read_value(FIELD_BY_NAME["lidnummer"], r.get("lidnummer")).value, int)
    )
    body = {"voornaam": "Nieuw", "achternaam": "Lid", "email": "nieuw.lid@example.nl", "regio": "Oost"}
    created = api("POST", "/members", user="staff", json=body)
    assert created.status_code == 201 and created.json()["lidnummer"] > highest


def test_console_opens_the_old_records(legacy_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the console on the legacy stack WHEN staff signs in and opens every page THEN none fails
    point_console_at(legacy_stack, monkeypatch)
    at = AppTest.from_file(str(REPO_ROOT / "console" / "streamlit_app.py"), default_timeout=90).run()
    at.text_input(key="login_username").input("root")
    at.text_input(key="login_password").input(legacy_stack["demo_password"])
    at.button[0].click().run()
    assert "tokens" in at.session_state
    for page in ("overview", "members", "exports"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, at.exception)


def test_an_old_record_is_erased_from_the_table_and_every_export(api: Api) -> None:
    # GIVEN an old record (version 0, as the club's import wrote it) in a published export
    records = list(generate_legacy_members(LEGACY))
    record = next(r for r in records if r.get("email") and r.get("regio") == "Utrecht" and "version" not in r)
    member_id = record["member_id"]
    exports = api("GET", "/analytics/exports", user="admin").json()["exports"]
    assert exports, "the export test above published one"
    # WHEN staff erases it
    started = api("POST", f"/members/{member_id}/erase", user="staff")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 180  # a wait for the job, not a timing assertion
    while (erasure := api("GET", f"/members/{member_id}/erase", user="staff").json())["status"] not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline, erasure
        time.sleep(0.5)
    # THEN the job finished over every export, the record is gone, and no downloadable file holds it
    assert erasure["status"] == "done", erasure
    assert erasure["exports_total"] >= 1 and erasure["exports_done"] == erasure["exports_total"]
    assert api("GET", f"/members/{member_id}", user="staff").status_code == 404
    for export in api("GET", "/analytics/exports", user="admin").json()["exports"]:
        files = api("GET", f"/analytics/download-parquet/{export['export_id']}", user="admin").json()["files"]
        for f in files:
            content = requests.get(f["url"], timeout=30).content
            assert member_id.encode() not in content
            assert member_id not in pq.read_table(io.BytesIO(content)).column("member_id").to_pylist()
