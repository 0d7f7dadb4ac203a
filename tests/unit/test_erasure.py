"""Erasure (POST/GET /members/{id}/erase) and its job on moto: modes, guards, exports, every version."""

from __future__ import annotations

import io
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from hdcn_common.audit import AuditLog
from hdcn_common.erase_job import JobDeps, end_of_membership, run_erasure, run_retention
from hdcn_common.erasure import WIPE_KEEPS, Erasures
from hdcn_common.export_jobs import ExportJobs
from hdcn_common.exports import list_published, manifest_key, member_ids_key, read_manifest, read_member_ids
from hdcn_common.members import MemberRepository

from backend.local.runtime import LambdaContext, load_handler
from backend.local.template import functions, load_template
from tests.unit.api_events import call_api
from tests.unit.aws_fixtures import REGION, ExportEnv
from tests.unit.test_generator import _run_export

pytestmark = pytest.mark.unit
STAFF = "Members_CRUD,Regio_All"
UTRECHT_STAFF = "Members_CRUD,Regio_Utrecht"
READER = "Members_Read,Regio_All"


@dataclass
class Env:
    export: ExportEnv
    invoked: list[dict[str, Any]] = field(default_factory=list)

    @property
    def s3(self) -> Any:
        return self.export.s3

    @property
    def bucket(self) -> str:
        return self.export.bucket

    def table(self, var: str) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(os.environ[var])

    def repo(self) -> MemberRepository:
        return MemberRepository(self.table("MEMBERS_TABLE"), self.table("MEMBER_KEYS_TABLE"))

    def deps(self) -> JobDeps:
        return JobDeps(
            erasures=Erasures(self.table("EXPORT_JOBS_TABLE")),
            jobs=ExportJobs(self.table("EXPORT_JOBS_TABLE")),
            audit=AuditLog(self.table("AUDIT_TABLE")),
            repo=self.repo(),
            s3=self.s3,
            bucket=self.bucket,
            sleep=lambda s: None,
        )

    def run_jobs(self) -> list[dict[str, Any]]:
        """Deliver the recorded async invokes to the generator's handler, as Lambda would."""
        handler = load_handler(functions(load_template())["GenerateMemberParquetFunction"])
        ctx = LambdaContext("gen", 1024, "arn:aws:lambda:eu-west-1:123456789012:function:gen", "r2", 9e12)
        results = [handler(event, ctx) for event in self.invoked]
        self.invoked.clear()
        return results


@pytest.fixture
def env(export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """GIVEN the template's tables and bucket with members, and the generator's async invoke recorded."""
    e = Env(export_env)
    load_handler(functions(load_template())["MembersFunction"])
    module = sys.modules["hdcn_fn_MembersFunction"]
    real_client = module.client

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            assert kwargs["InvocationType"] == "Event"
            e.invoked.append(json.loads(kwargs["Payload"]))
            return {"StatusCode": 202}

    monkeypatch.setattr(module, "client", lambda s: FakeLambda() if s == "lambda" else real_client(s))
    yield e


def _create(regio: str = "Utrecht", **extra: Any) -> dict[str, Any]:
    body = {
        "voornaam": "Zwaantje",
        "achternaam": f"Erasedottir{uuid.uuid4().hex[:6]}",
        "email": f"zwaantje.{uuid.uuid4().hex[:8]}@example.nl",
        "regio": regio,
        "bankrekeningnummer": "NL91ABNA0417164300",
        "telefoon": "0612345678",
        **extra,
    }
    status, member = call_api("POST", "/members", STAFF, body)
    assert status == 201, member
    return member


def _all_versions_text(env: Env) -> list[tuple[str, bytes]]:
    """Every object version under the bucket, read by VersionId (Parquet as its rows' text)."""
    out = []
    for page in env.s3.get_paginator("list_object_versions").paginate(Bucket=env.bucket):
        for v in page.get("Versions", []):
            body = env.s3.get_object(Bucket=env.bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            if v["Key"].endswith(".parquet"):
                body = json.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str).encode()
            out.append((v["Key"], body))
    return out


def _assert_gone_from_bucket(env: Env, member: dict[str, Any]) -> None:
    for key, body in _all_versions_text(env):
        for value in (member["member_id"], member["achternaam"], member["email"], "NL91ABNA0417164300"):
            assert value.encode() not in body, f"{key} still holds the member"


# ---------------------------------------------------------------- the API


def test_erase_delete_mode_removes_record_releases_email_and_rewrites_exports(env: Env) -> None:
    # GIVEN a member in two published exports (one full, one of Utrecht only)
    member = _create()
    _run_export(env.export, "20261125T210000Z-00000001")
    _run_export(env.export, "20261125T210100Z-00000002", regio="Utrecht")
    assert member["member_id"] in (read_member_ids(env.s3, env.bucket, "20261125T210000Z-00000001") or ())
    # WHEN staff erase them
    status, erasure = call_api("POST", f"/members/{member['member_id']}/erase", STAFF, username="staff")
    # THEN 202 with a queued erasure, the record is gone at once and the email can be used again
    assert status == 202, erasure
    assert (
        erasure["status"] == "queued" and erasure["mode"] == "delete" and erasure["requested_by"] == "staff"
    )
    assert erasure["finished_at"] is None and erasure["error"] is None
    assert call_api("GET", f"/members/{member['member_id']}", STAFF)[0] == 404
    status, found = call_api("GET", "/members", STAFF, query={"email": member["email"]})
    assert status == 200 and found["members"] == []
    # WHEN the job runs
    [result] = env.run_jobs()
    assert result["status"] == "done", result
    status, done = call_api("GET", f"/members/{member['member_id']}/erase", STAFF)
    # THEN both exports were rewritten without them, still published, the other rows kept
    assert status == 200 and done["status"] == "done", done
    assert done["exports_rewritten"] == 2 and done["exports_withdrawn"] == 0 and done["versions_deleted"] > 0
    assert done["exports_done"] == done["exports_total"] == 2 and done["finished_at"]
    published = list_published(env.s3, env.bucket)
    assert published == ["20261125T210100Z-00000002", "20261125T210000Z-00000001"]
    full = read_manifest(env.s3, env.bucket, "20261125T210000Z-00000001")
    assert full is not None and full.rows == len(env.export.members)
    # and not one object version in the bucket holds their id, name, email or IBAN
    _assert_gone_from_bucket(env, member)
    # and the email is free again
    assert call_api("POST", "/members", STAFF, {**_body_like(member), "email": member["email"]})[0] == 201


def _body_like(member: dict[str, Any]) -> dict[str, Any]:
    return {k: member[k] for k in ("voornaam", "achternaam", "regio")}


def test_erase_is_idempotent_while_under_way(env: Env) -> None:
    member = _create()
    first = call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    # WHEN the request is repeated before the job ran THEN the same erasure, no second job
    again = call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    assert first[0] == again[0] == 202
    assert again[1]["erasure_id"] == first[1]["erasure_id"] and len(env.invoked) == 1
    env.run_jobs()
    # and once done, the member is unknown: 404, and no new job
    assert call_api("POST", f"/members/{member['member_id']}/erase", STAFF)[0] == 404
    assert env.invoked == []


def test_erase_guards_region_version_and_role(env: Env) -> None:
    member = _create(regio="Oost")
    path = f"/members/{member['member_id']}/erase"
    # a regional writer of another region gets the 404 a GET gives, and no erasure starts
    assert call_api("POST", path, UTRECHT_STAFF)[0] == 404
    assert call_api("GET", path, STAFF)[0] == 404
    # a reader may not erase
    assert call_api("POST", path, READER)[0] == 403
    assert call_api("GET", path, READER)[0] == 403
    # a stale If-Match is a 409, nothing erased
    status, body = call_api("POST", path, STAFF, headers={"If-Match": str(member["version"] + 1)})
    assert status == 409, body
    assert call_api("GET", f"/members/{member['member_id']}", STAFF)[0] == 200
    assert env.invoked == []
    # an unknown member is a 404
    assert call_api("POST", f"/members/{uuid.uuid4()}/erase", STAFF)[0] == 404
    # the right version erases; a body is ignored, never a 500
    status, _ = call_api("POST", path, STAFF, {"anything": 1}, headers={"If-Match": str(member["version"])})
    assert status == 202
    # the regional writer of Oost sees the erasure after the record is gone, Utrecht does not
    assert call_api("GET", path, "Members_CRUD,Regio_Oost")[0] == 200
    assert call_api("GET", path, UTRECHT_STAFF)[0] == 404


def test_wipe_mode_keeps_membership_history_only(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERASURE_MODE", "wipe")
    member = _create(
        status="Opgezegd", lidmaatschap="Gewoon lid", ingangsdatum="2001-05-01", kenteken="AB-12-CD"
    )
    _run_export(env.export, "20261125T210000Z-00000001")
    status, erasure = call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    assert status == 202 and erasure["mode"] == "wipe"
    stored = env.repo().get(member["member_id"])
    # THEN the record keeps ids and membership history, nothing personal
    assert stored is not None and set(stored) <= WIPE_KEEPS | {"erased_at"}
    assert stored["lidnummer"] == member["lidnummer"] and stored["status"] == "Opgezegd"
    assert str(stored["ingangsdatum"]) == "2001-05-01" and "email" not in stored and "kenteken" not in stored
    status, shown = call_api("GET", f"/members/{member['member_id']}", STAFF)
    assert status == 200 and shown.get("achternaam") is None
    env.run_jobs()
    # and the exports no longer hold the row (new exports skip wiped records too)
    _assert_gone_from_bucket(env, member)
    _run_export(env.export, "20261125T220000Z-00000003")
    assert member["member_id"] not in (read_member_ids(env.s3, env.bucket, "20261125T220000Z-00000003") or ())
    # and the email is free for a new registration
    assert call_api("POST", "/members", STAFF, {**_body_like(member), "email": member["email"]})[0] == 201


def test_anonymised_and_listless_exports_are_withdrawn_with_every_version(env: Env) -> None:
    member = _create()
    _run_export(env.export, "20261125T210000Z-00000001", anonymize=True)
    _run_export(env.export, "20261125T210100Z-00000002")
    # an export from before member lists were kept cannot say who it holds
    env.s3.delete_object(Bucket=env.bucket, Key=member_ids_key("20261125T210100Z-00000002"))
    _run_export(env.export, "20261125T210200Z-00000003")
    call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    env.run_jobs()
    status, done = call_api("GET", f"/members/{member['member_id']}/erase", STAFF)
    assert status == 200 and done["status"] == "done"
    assert done["exports_withdrawn"] == 2 and done["exports_rewritten"] == 1
    assert list_published(env.s3, env.bucket) == ["20261125T210200Z-00000003"]
    # no version or delete marker of the withdrawn exports is left
    left = env.s3.list_object_versions(
        Bucket=env.bucket, Prefix="analytics/parquet/members/export_id=20261125T2101"
    )
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    _assert_gone_from_bucket(env, member)


def test_dead_export_leftovers_lose_every_version(env: Env) -> None:
    # GIVEN an export that was pruned: only noncurrent versions and delete markers remain
    member = _create()
    _run_export(env.export, "20261125T210000Z-00000001")
    env.s3.delete_object(Bucket=env.bucket, Key=manifest_key("20261125T210000Z-00000001"))
    for page in env.s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket):
        for o in page.get("Contents", []):
            env.s3.delete_object(Bucket=env.bucket, Key=o["Key"])
    call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    env.run_jobs()
    # THEN nothing of that export is left in any version
    left = env.s3.list_object_versions(Bucket=env.bucket)
    assert not left.get("Versions") and not left.get("DeleteMarkers")


def test_export_running_during_the_erasure_leaves_the_member_out(env: Env) -> None:
    # GIVEN an export whose scan already read the member (erasure asked for while it ran)
    member = _create()
    erasures = env.deps().erasures
    # WHEN the erasure is recorded before the export publishes
    erasures.create(member["member_id"], "Utrecht", "delete", "staff")
    from hdcn_common.member_export import export_members

    from tests.unit.test_generator import TODAY

    manifest = export_members(
        dynamodb=env.export.scan_client(),
        s3=env.s3,
        bucket=env.bucket,
        members_table=env.export.members_table,
        export_id="20261125T210000Z-00000009",
        options={},
        created_at="2026-11-25T21:00:00+00:00",
        today=TODAY,
        erased_since=lambda: erasures.erased_since("2000-01-01"),
    )
    # THEN the published export does not hold them, in any version
    assert manifest.rows == len(env.export.members)
    assert member["member_id"] not in (read_member_ids(env.s3, env.bucket, "20261125T210000Z-00000009") or ())
    _assert_gone_from_bucket(env, member)


def test_job_delivered_twice_runs_once(env: Env) -> None:
    member = _create()
    call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    event = env.invoked[0]
    env.invoked.append(event)
    results = env.run_jobs()
    assert [r["status"] for r in results] == ["done", "skipped"]


def test_access_log_names_the_erasure_without_personal_data(env: Env) -> None:
    member = _create()
    call_api("POST", f"/members/{member['member_id']}/erase", STAFF, username="staff")
    env.run_jobs()
    entries = AuditLog(env.table("AUDIT_TABLE")).history(member["member_id"])
    actions = [e["action"] for e in entries]
    assert "member.erase" in actions and "member.erase.finished" in actions
    text = json.dumps(entries, default=str)
    for value in (member["achternaam"], member["email"], "NL91ABNA0417164300"):
        assert value not in text


# ---------------------------------------------------------------- retention


def test_end_of_membership_is_the_last_change_or_unknown() -> None:
    assert end_of_membership({"updated_at": "2019-03-01T10:00:00"}) == date(2019, 3, 1)
    assert end_of_membership({}) is None and end_of_membership({"updated_at": "NA"}) is None


def test_retention_dry_run_reports_and_apply_erases(env: Env) -> None:
    repo = env.repo()
    old = _create(status="Opgezegd")
    recent = _create(status="Opgezegd")
    unknown = _create(status="Opgezegd")
    active = _create(status="Actief")
    table = env.table("MEMBERS_TABLE")
    for m, when in (
        (old, "2015-01-01T00:00:00"),
        (recent, "2026-01-01T00:00:00"),
        (active, "2010-01-01T00:00:00"),
    ):
        table.update_item(
            Key={"member_id": m["member_id"]},
            UpdateExpression="SET updated_at = :u",
            ExpressionAttributeValues={":u": when},
        )
    table.update_item(Key={"member_id": unknown["member_id"]}, UpdateExpression="REMOVE updated_at")
    _run_export(env.export, "20261125T210000Z-00000001")
    _run_export(env.export, "20200101T000000Z-00000002")  # older than ExportRetentionDays
    # WHEN the dry run runs THEN it reports, changes nothing
    report = run_retention(
        env.deps(), years=2, apply=False, mode="delete", export_retention_days=90, today=date(2026, 12, 1)
    )
    assert old["member_id"] in report.due and recent["member_id"] not in report.due
    assert active["member_id"] not in report.due and unknown["member_id"] in report.cannot_tell
    assert report.exports_removed == ["20200101T000000Z-00000002"] and report.erased == []
    assert repo.get(old["member_id"]) is not None
    assert len(list_published(env.s3, env.bucket)) == 2
    reports = env.s3.list_objects_v2(Bucket=env.bucket, Prefix="reports/retention/")["Contents"]
    assert len(reports) == 1
    # WHEN it applies THEN the due member is erased from the table and the exports; the others stay
    report = run_retention(
        env.deps(), years=2, apply=True, mode="delete", export_retention_days=90, today=date(2026, 12, 1)
    )
    assert report.erased == report.due and old["member_id"] in report.erased
    assert repo.get(old["member_id"]) is None and repo.get(unknown["member_id"]) is not None
    assert list_published(env.s3, env.bucket) == ["20261125T210000Z-00000001"]
    left = env.s3.list_object_versions(Bucket=env.bucket, Prefix="analytics/parquet/members/export_id=2020")
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    assert old["member_id"] not in (read_member_ids(env.s3, env.bucket, "20261125T210000Z-00000001") or ())


def test_erase_job_direct_reports_skipped_for_unknown_erasure(env: Env) -> None:
    assert run_erasure(env.deps(), "nobody", "nothing")["status"] == "skipped"


def test_export_publishing_after_the_erase_pass_is_taken_again(env: Env) -> None:
    # GIVEN an export that read the member and checked for erasures just before this one was asked for,
    # and has not published yet when the erase job looks (its manifest is still to come)
    member = _create()
    export_id = "20261125T210000Z-0000000a"
    _run_export(env.export, export_id)
    manifest = env.s3.get_object(Bucket=env.bucket, Key=manifest_key(export_id))["Body"].read()
    env.s3.delete_object(Bucket=env.bucket, Key=manifest_key(export_id))
    state = {"running": True}
    deps = env.deps()
    deps.jobs.get = lambda job_id, reconcile=True: {"state": "running"} if state["running"] else None

    def publish_late(_: float) -> None:
        # WHILE the erase job waits, the export publishes (with the member) and finishes
        env.s3.put_object(Bucket=env.bucket, Key=manifest_key(export_id), Body=manifest)
        state["running"] = False

    deps.sleep = publish_late
    erasure, _ = deps.erasures.create(member["member_id"], "Utrecht", "delete", "staff")
    env.repo().delete(env.repo().get(member["member_id"]) or {}, None)
    # WHEN the erase job runs
    result = run_erasure(deps, member["member_id"], str(erasure["erasure_id"]))
    # THEN it waited for the export, then rewrote it: no version holds the member
    assert result["status"] == "done" and result["exports_rewritten"] == 1, result
    assert list_published(env.s3, env.bucket) == [export_id]
    _assert_gone_from_bucket(env, member)


def test_erase_job_gives_up_on_an_export_that_never_finishes(env: Env) -> None:
    member = _create()
    _run_export(env.export, "20261125T210000Z-0000000b")
    env.s3.delete_object(Bucket=env.bucket, Key=manifest_key("20261125T210000Z-0000000b"))
    deps = env.deps()
    deps.jobs.get = lambda job_id, reconcile=True: {"state": "running"}
    deps.remaining = lambda: 10.0  # below the margin: no time to wait
    erasure, _ = deps.erasures.create(member["member_id"], "Utrecht", "delete", "staff")
    result = run_erasure(deps, member["member_id"], str(erasure["erasure_id"]))
    latest = deps.erasures.latest(member["member_id"]) or {}
    assert result["status"] == "failed" and "export was still being written" in str(latest["error"])


def test_failed_start_is_503_and_asking_again_runs_the_export_pass(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = _create()
    _run_export(env.export, "20261125T210000Z-00000001")
    module = sys.modules["hdcn_fn_MembersFunction"]
    working = module.client

    class BrokenLambda:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://lambda")

    # GIVEN the erase job cannot be started
    monkeypatch.setattr(module, "client", lambda s: BrokenLambda() if s == "lambda" else working(s))
    status, body = call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    # THEN 503, the record is gone, the erasure reads failed with a reason
    assert status == 503, body
    assert call_api("GET", f"/members/{member['member_id']}", STAFF)[0] == 404
    status, failed = call_api("GET", f"/members/{member['member_id']}/erase", STAFF)
    assert status == 200 and failed["status"] == "failed" and failed["error"]
    # WHEN asked again once the job can start THEN the same erasure runs its export pass
    monkeypatch.setattr(module, "client", working)
    status, again = call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    assert status == 202 and again["erasure_id"] == failed["erasure_id"] and again["status"] == "queued"
    [result] = env.run_jobs()
    assert result["status"] == "done"
    _assert_gone_from_bucket(env, member)


def test_a_dead_erasure_reads_failed_and_a_new_one_may_start(env: Env) -> None:
    member = _create()
    call_api("POST", f"/members/{member['member_id']}/erase", STAFF)
    env.invoked.clear()  # the job never runs (its invoke was lost)
    erasures = Erasures(env.table("EXPORT_JOBS_TABLE"), stale_seconds=-1)
    latest = erasures.latest(member["member_id"])
    assert latest is not None and latest["status"] == "failed" and "stopped" in str(latest["error"])
