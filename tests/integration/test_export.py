"""Member Parquet exports on the local stack: trigger, job, region-scoped download, kill, dedup."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

pytestmark = pytest.mark.integration
Api = Callable[..., requests.Response]
PII_COLUMNS = {"voornaam", "achternaam", "email", "telefoon", "straat", "bankrekeningnummer", "kenteken"}


def _wait_for_job(api: Api, job_id: str, states: set[str], seconds: float = 90) -> dict[str, Any]:
    """Poll the job until it reaches one of `states` (a wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = api("GET", f"/analytics/jobs/{job_id}", user="staff").json()
        if job.get("state") in states:
            return job
        assert time.monotonic() < deadline, f"job stayed {job.get('state')}: {job}"
        time.sleep(0.5)


def _export(api: Api, **options: Any) -> dict[str, Any]:
    resp = api("POST", "/analytics/generate-parquet", user="staff", json=options)
    assert resp.status_code == 202, resp.text
    return _wait_for_job(api, resp.json()["job_id"], {"succeeded", "failed"})


def _download(api: Api, user: str, name: str) -> tuple[dict[str, Any], pa.Table]:
    resp = api("GET", f"/analytics/download-parquet/{name}", user=user)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    tables = []
    for f in body["files"]:
        got = requests.get(f["url"], timeout=30)
        assert got.status_code == 200
        tables.append(pq.read_table(io.BytesIO(got.content)))
    return body, pa.concat_tables(tables, promote_options="permissive")


def _members(aws: Callable[[str], Any], local_stack: dict[str, Any]) -> list[dict[str, Any]]:
    table = local_stack["outputs"]["MembersTableName"]
    items: list[dict[str, Any]] = []
    for page in aws("dynamodb").get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items


@pytest.fixture(scope="module")
def full_export(api: Api) -> dict[str, Any]:
    """GIVEN staff has run a full export to the end."""
    job = _export(api)
    assert job["state"] == "succeeded", job
    return job


def test_staff_export_downloads_equal_the_members_table(
    api: Api, full_export: dict[str, Any], aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # WHEN admin downloads the export
    body, table = _download(api, "admin", full_export["job_id"])
    members = _members(aws, local_stack)
    # THEN the rows are the Members table's: same count, same ids, typed columns
    assert full_export["rows"] == table.num_rows == len(members) == body["rows"]
    assert sorted(table.column("member_id").to_pylist()) == sorted(m["member_id"]["S"] for m in members)
    assert table.schema.field("geboortedatum").type == pa.date32()
    assert table.schema.field("lidnummer").type == pa.int32()
    assert pa.types.is_dictionary(table.schema.field("regio").type)
    assert table.schema.field("leeftijd").type == pa.int16()
    # and the job tells what happened
    assert full_export["bytes"] > 0 and full_export["duration_seconds"] is not None
    assert full_export["requested_by"] == "staff" and full_export["error"] is None


def test_regional_reader_gets_only_their_region(
    api: Api, full_export: dict[str, Any], aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # WHEN regio-utrecht downloads the same export
    body, table = _download(api, "regio-utrecht", full_export["job_id"])
    utrecht = [m for m in _members(aws, local_stack) if m.get("regio", {}).get("S") == "Utrecht"]
    # THEN only Utrecht files and rows come back
    assert {f["regio"] for f in body["files"]} == {"Utrecht"}
    assert set(table.column("regio").to_pylist()) == {"Utrecht"}
    assert table.num_rows == len(utrecht) > 0
    # and the listing shows them only their region's rows
    listed = api("GET", "/analytics/exports", user="regio-utrecht").json()["exports"]
    mine = next(e for e in listed if e["export_id"] == full_export["job_id"])
    assert mine["regions"] == {"Utrecht": len(utrecht)}


def test_anonymized_export_holds_no_personal_data(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # GIVEN an anonymized export
    job = _export(api, anonymize=True)
    assert job["state"] == "succeeded", job
    # WHEN admin downloads it
    _, table = _download(api, "admin", job["job_id"])
    members = _members(aws, local_stack)
    # THEN no PII column exists and no PII value appears in any cell
    assert not (set(table.column_names) & (PII_COLUMNS | {"member_id", "geboortedatum"}))
    cells = {str(v) for col in table.columns for v in col.to_pylist()}
    for m in members[:50]:
        for field in ("achternaam", "email", "telefoon", "straat", "bankrekeningnummer", "kenteken"):
            value = m.get(field, {}).get("S")
            if value and len(value) > 3:
                assert value not in cells
    assert table.num_rows == len(members)


@pytest.mark.parametrize("name", ["..", "...", "latest.parquet", "export_id=x", "%2E%2E", "a%2Fb", "x" * 65])
def test_download_names_are_validated(api: Api, name: str) -> None:
    # WHEN a name that is no export id (path-like, traversal, too long) is asked for THEN 400, never a read
    resp = api("GET", f"/analytics/download-parquet/{name}", user="admin")
    assert resp.status_code in (400, 403, 404, 422), resp.text
    assert resp.status_code != 200


def test_unknown_export_id_is_404(api: Api) -> None:
    resp = api("GET", "/analytics/download-parquet/20200101T000000Z-00000000", user="admin")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


def test_roles_are_enforced(api: Api) -> None:
    # A reader may not trigger, ops may not read member exports, anonymous callers are stopped at the gateway.
    assert api("POST", "/analytics/generate-parquet", user="regio-utrecht", json={}).status_code == 403
    assert api("GET", "/analytics/jobs", user="regio-utrecht").status_code == 403
    assert api("GET", "/analytics/download-parquet/latest", user="ops").status_code == 403
    assert api("GET", "/analytics/exports", user="ops").status_code == 403
    assert api("POST", "/analytics/generate-parquet", json={}).status_code == 401


def test_bad_options_are_422(api: Api) -> None:
    resp = api("POST", "/analytics/generate-parquet", user="staff", json={"regio": "Atlantis"})
    assert resp.status_code == 422
    resp = api("POST", "/analytics/generate-parquet", user="staff", json={"unknown": True})
    assert resp.status_code == 422


def test_job_history_lists_jobs_newest_first(api: Api, full_export: dict[str, Any]) -> None:
    resp = api("GET", "/analytics/jobs?limit=100", user="admin")
    assert resp.status_code == 200
    jobs = resp.json()["jobs"]
    assert full_export["job_id"] in [j["job_id"] for j in jobs]
    created = [j["created_at"] for j in jobs]
    assert created == sorted(created, reverse=True)
    assert api("GET", "/analytics/jobs?cursor=not-a-cursor", user="admin").status_code == 400


@pytest.fixture
def scan_throttled(local_stack: dict[str, Any]) -> Iterator[None]:
    """GIVEN DynamoDB throttles every Scan (an export then waits, heartbeating, inside its run)."""
    url = f"{local_stack['fault_proxy']}/__faults"
    rule = [{"service": "dynamodb", "operation": "Scan", "error": "throttle", "count": -1}]
    requests.post(url, json=rule, timeout=10).raise_for_status()
    yield
    requests.delete(url, timeout=10).raise_for_status()


def test_killed_generator_keeps_previous_export_and_fails_its_job(
    api: Api,
    full_export: dict[str, Any],
    local_stack: dict[str, Any],
    aws: Callable[[str], Any],
    scan_throttled: None,
) -> None:
    before = api("GET", "/analytics/download-parquet/latest", user="admin").json()["export_id"]
    # WHEN staff starts an export that is kept busy by throttling
    requested = time.time()
    resp = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]
    # THEN a second trigger is refused, naming the running job (no parallel duplicate)
    second = api("POST", "/analytics/generate-parquet", user="admin", json={})
    assert second.status_code == 409
    assert second.json()["error"]["details"]["running_job"]["job_id"] == job_id
    _wait_for_job(api, job_id, {"running"}, seconds=60)
    # WHEN its generator process is killed mid-run
    listing = requests.get(f"{local_stack['lambda_endpoint']}/local/invocations", timeout=10).json()
    # Only the invocation this test started (an earlier test's generator may still be exiting).
    running = [
        i
        for i in listing
        if i["function"] == "GenerateMemberParquetFunction" and i["running"] and i["started"] >= requested
    ]
    assert len(running) == 1
    os.kill(running[0]["pid"], signal.SIGKILL)
    # THEN once its heartbeat is stale the job reads failed, with a reason
    job = _wait_for_job(api, job_id, {"failed", "succeeded"}, seconds=120)
    assert job["state"] == "failed"
    assert "heartbeat" in job["error"]
    # and the previous export is still the one served, downloadable
    body, table = _download(api, "admin", "latest")
    assert body["export_id"] == before and table.num_rows > 0
    # and nothing of the killed run is published
    bucket = local_stack["outputs"]["ExportBucketName"]
    listed = aws("s3").list_objects_v2(
        Bucket=bucket, Prefix=f"analytics/parquet/members/export_id={job_id}/_manifest.json"
    )
    assert listed.get("KeyCount", 0) == 0
    assert job_id not in [
        e["export_id"] for e in api("GET", "/analytics/exports", user="admin").json()["exports"]
    ]
    # and once throttling ends, the next export starts (the dead run's lock was freed)
    requests.delete(f"{local_stack['fault_proxy']}/__faults", timeout=10).raise_for_status()
    assert _export(api)["state"] == "succeeded"


def test_nightly_schedule_is_deployed_and_off_by_default(aws: Callable[[str], Any]) -> None:
    # GIVEN the stack deployed with template defaults THEN the nightly rule exists, disabled
    rules = aws("events").list_rules()["Rules"]
    nightly = [r for r in rules if r.get("ScheduleExpression") == "cron(0 2 * * ? *)"]
    assert len(nightly) == 1 and nightly[0]["State"] == "DISABLED"
    targets = aws("events").list_targets_by_rule(Rule=nightly[0]["Name"])["Targets"]
    assert targets and ":function:" in targets[0]["Arn"]


def test_local_s3_refuses_altered_sigv2_and_expired_links(
    api: Api, full_export: dict[str, Any], local_stack: dict[str, Any]
) -> None:
    """GIVEN a download link from the API WHEN it is altered, signed with SigV2 or expired THEN 403, as S3."""
    from datetime import UTC, datetime, timedelta
    from unittest import mock
    from urllib.parse import unquote, urlsplit

    import boto3
    from botocore.config import Config

    body = api("GET", "/analytics/download-parquet/latest", user="admin").json()
    url = body["files"][0]["url"]
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert requests.get(url, timeout=30).status_code == 200
    key = unquote(urlsplit(url).path.split("/", 2)[2])
    other = next(f["url"] for f in body["files"][1:])
    altered = url.replace(urlsplit(url).path, urlsplit(other).path)
    refused = requests.get(altered, timeout=30)
    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text

    def presign(version: str, at: datetime) -> str:
        s3 = boto3.client(
            "s3",
            endpoint_url=local_stack["aws_endpoint"],
            region_name=local_stack["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=Config(signature_version=version),
        )
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            bucket = local_stack["outputs"]["ExportBucketName"]
            return str(
                s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
            )

    now = datetime.now(UTC)
    assert requests.get(presign("s3v4", now), timeout=30).status_code == 200
    sigv2 = requests.get(presign("s3", now), timeout=30)
    assert sigv2.status_code == 403 and "<Code>AccessDenied</Code>" in sigv2.text
    expired = requests.get(presign("s3v4", now - timedelta(minutes=10)), timeout=30)
    assert expired.status_code == 403 and "Request has expired" in expired.text
