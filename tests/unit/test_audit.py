"""The access log: member reads and changes are logged (ids, never the data), searchable, and required."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from hdcn_common import settings as settings_module
from hdcn_common.member_export import export_members

from backend.local.seed import generate_members
from tests.unit.api_events import call_api
from tests.unit.aws_fixtures import REGION, SEEDED_MEMBERS, ExportEnv, MemberTables

pytestmark = pytest.mark.unit


def _call(function: str, method: str, path: str, groups: str, body: Any = None, **query: str) -> Any:
    """`function` names the expected handler (readability); the template routes the call."""
    return call_api(method, path, groups, body, query=query or None)


CRUD = "Members_CRUD,Regio_All"


def _entries(table_name: str) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb", region_name=REGION).Table(table_name).scan()["Items"]


def test_reads_and_changes_are_logged_with_ids_and_no_personal_data(
    member_tables: MemberTables, template_resources: dict[str, str]
) -> None:
    # GIVEN a seeded member WHEN staff lists, opens, changes and deletes it
    member = next(iter(generate_members(SEEDED_MEMBERS)))
    path = f"/members/{member['member_id']}"
    assert _call("MembersFunction", "GET", "/members", CRUD, limit="5")[0] == 200
    assert _call("MembersFunction", "GET", path, CRUD)[0] == 200
    assert _call("MembersFunction", "PUT", path, CRUD, {"woonplaats": "Zeist", "version": 1})[0] == 200
    assert _call("MembersFunction", "DELETE", path, CRUD)[0] == 204
    # THEN each is an entry naming the member, by whom, from which function
    entries = _entries(template_resources["AuditLogTable"])
    actions = {e["action"] for e in entries}
    assert {"member.list", "member.read", "member.update", "member.delete"} <= actions
    update = next(e for e in entries if e["action"] == "member.update")
    assert update["target"] == member["member_id"] and update["actor"] == "tester"
    assert update["fields"] == ["woonplaats"]
    # AND the log holds none of the member's personal data
    text = json.dumps(entries, default=str)
    for field in ("voornaam", "achternaam", "email", "bankrekeningnummer", "telefoon", "kenteken", "straat"):
        assert str(member[field]) not in text, field
    assert "Zeist" not in text


def test_the_log_is_searchable_by_ops_and_not_by_others(
    member_tables: MemberTables, template_resources: dict[str, str]
) -> None:
    members = list(generate_members(SEEDED_MEMBERS))[:7]
    for m in members:
        assert _call("MembersFunction", "GET", f"/members/{m['member_id']}", CRUD)[0] == 200
    # WHEN ops pages through member reads 3 at a time THEN every read comes once, newest first
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"action": "member.read", "limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page = _call("OpsFunction", "GET", "/audit", "System_Logs_Read", **query)
        assert status == 200, page
        seen.extend(e["target"] for e in page["entries"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [m["member_id"] for m in reversed(members)]
    # AND a filter by member finds that member's entries only
    status, page = _call("OpsFunction", "GET", "/audit", "System_CRUD", member=members[2]["member_id"])
    assert status == 200 and [e["target"] for e in page["entries"]] == [members[2]["member_id"]]
    # AND member staff may not read the log; a bad period or cursor is a 400
    assert _call("OpsFunction", "GET", "/audit", CRUD)[0] == 403
    assert (
        _call("OpsFunction", "GET", "/audit", "System_CRUD", since="2026-12-31", until="2026-01-01")[0] == 400
    )
    assert _call("OpsFunction", "GET", "/audit", "System_CRUD", cursor="bm90LWEtY3Vyc29y")[0] == 400


def test_without_the_log_nothing_happens(
    member_tables: MemberTables, template_resources: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an access log that cannot be written
    member = next(iter(generate_members(SEEDED_MEMBERS)))
    monkeypatch.setenv("AUDIT_TABLE", "no-such-table")
    settings_module.settings.cache_clear()
    # WHEN staff changes or reads the member THEN 503, and the member is unchanged
    path = f"/members/{member['member_id']}"
    status, body = _call("MembersFunction", "PUT", path, CRUD, {"woonplaats": "Zeist", "version": 1})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert _call("MembersFunction", "GET", path, CRUD)[0] == 503
    stored = member_tables.repo.get(member["member_id"])
    assert stored is not None and stored["woonplaats"] == member["woonplaats"] and stored["version"] == 1


def test_a_members_data_export_holds_record_history_and_exports(export_env: ExportEnv) -> None:
    # GIVEN a member who was changed and then exported, and another export that predates nothing
    member = export_env.members[3]
    path = f"/members/{member['member_id']}"
    assert _call("MembersFunction", "PUT", path, CRUD, {"woonplaats": "Zeist", "version": 1})[0] == 200
    export_members(
        dynamodb=export_env.scan_client(),
        s3=export_env.s3,
        bucket=export_env.bucket,
        members_table=export_env.members_table,
        export_id="20261125T210000Z-000000aa",
        options={"regio": member["regio"]},
        created_at="2026-11-25T21:00:00+00:00",
    )
    other = "Utrecht" if member["regio"] != "Utrecht" else "Oost"
    export_members(
        dynamodb=export_env.scan_client(),
        s3=export_env.s3,
        bucket=export_env.bucket,
        members_table=export_env.members_table,
        export_id="20261125T220000Z-000000bb",
        options={"regio": other},
        created_at="2026-11-25T22:00:00+00:00",
    )
    # WHEN staff asks for everything held about the member
    status, body = _call("MembersFunction", "GET", f"{path}/data-export", CRUD)
    assert status == 200, body
    # THEN the record as stored, its change in the history, and only the export that holds them
    assert body["record"]["woonplaats"] == "Zeist" and body["record"]["email"] == member["email"]
    assert any(e["action"] == "member.update" and e["fields"] == ["woonplaats"] for e in body["history"])
    assert [e["export_id"] for e in body["exports"]] == ["20261125T210000Z-000000aa"]
    # AND a reader without Members_CRUD may not ask
    assert _call("MembersFunction", "GET", f"{path}/data-export", "Members_Read,Regio_All")[0] == 403
