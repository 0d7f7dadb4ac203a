"""Export jobs: one at a time by a conditional lock, stale heartbeats fail a job, layout and names."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from hdcn_common.export_jobs import (
    LOCK_ID,
    ExportJobs,
    JobNotActive,
    JobRunning,
    cancellation_codes,
    decode_cursor,
    queued_stale_after_seconds,
)
from hdcn_common.exports import (
    EXPORTS_PREFIX,
    ExportOptions,
    Manifest,
    PartFile,
    delete_prefix,
    export_prefix,
    is_export_id,
    new_export_id,
    part_key,
    regio_from_key,
)

from tests.unit.aws_fixtures import ExportEnv

pytestmark = pytest.mark.unit


def test_second_trigger_while_running_names_the_running_job(export_env: ExportEnv) -> None:
    jobs = export_env.jobs()
    # GIVEN a queued export
    first = jobs.create("staff", ExportOptions())
    # WHEN another is requested THEN it is refused, naming the first; no second job exists
    with pytest.raises(JobRunning) as refused:
        jobs.create("admin", ExportOptions(anonymize=True))
    assert refused.value.job["job_id"] == first["job_id"]
    listed, _ = jobs.list(limit=10)
    assert [j["job_id"] for j in listed] == [first["job_id"]]


def test_finished_job_frees_the_lock(export_env: ExportEnv) -> None:
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    jobs.start(job["job_id"])
    jobs.succeed(job["job_id"], rows=3, size=10, files=1, regions={"Oost": 3})
    jobs.release_lock(job["job_id"])
    # WHEN a new export is requested after the first finished THEN it is queued
    assert jobs.create("staff", ExportOptions())["state"] == "queued"


def test_stale_heartbeat_marks_job_failed_and_frees_lock(export_env: ExportEnv) -> None:
    jobs = export_env.jobs(stale_seconds=30)
    job = jobs.create("staff", ExportOptions())
    jobs.start(job["job_id"])
    # GIVEN its generator stopped beating a minute ago (killed: it runs no more code)
    jobs.table.update_item(
        Key={"job_id": job["job_id"]},
        UpdateExpression="SET heartbeat_at = :old",
        ExpressionAttributeValues={":old": Decimal(int(time.time()) - 60)},
    )
    # WHEN someone reads the job THEN it is failed with a readable reason
    seen = jobs.get(job["job_id"])
    assert seen is not None and seen["state"] == "failed"
    assert "heartbeat" in seen["error"] and "killed" in seen["error"]
    assert jobs.table.get_item(Key={"job_id": LOCK_ID}).get("Item") is None
    # and a generator that comes back to life cannot continue or publish
    with pytest.raises(JobNotActive):
        jobs.heartbeat(job["job_id"], 10)
    with pytest.raises(JobNotActive):
        jobs.succeed(job["job_id"], 1, 1, 1, {})


def test_trigger_after_a_dead_run_is_accepted(export_env: ExportEnv) -> None:
    jobs = export_env.jobs(stale_seconds=30, queued_stale_seconds=600)
    dead = jobs.create("staff", ExportOptions())
    jobs.table.update_item(
        Key={"job_id": dead["job_id"]},
        UpdateExpression="SET heartbeat_at = :old",
        ExpressionAttributeValues={":old": Decimal(int(time.time()) - 660)},
    )
    # WHEN a trigger finds the lock held by a dead job THEN the dead job fails and the new one is queued
    fresh = jobs.create("staff", ExportOptions())
    assert fresh["job_id"] != dead["job_id"]
    old = jobs.get(dead["job_id"])
    assert old is not None and old["state"] == "failed"


def test_a_job_is_started_once(export_env: ExportEnv) -> None:
    # GIVEN an async event delivered twice (Lambda may retry) WHEN both start it THEN only one runs
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    jobs.start(job["job_id"])
    with pytest.raises(JobNotActive):
        jobs.start(job["job_id"])


@pytest.mark.parametrize(
    "cursor", ["not-base64!", "e30=", "eyJqb2JfaWQiOiAxfQ==", "W10=", "eyJraW5kIjogIngifQ=="]
)
def test_forged_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(cursor)


def test_export_ids_and_keys() -> None:
    export_id = new_export_id()
    assert is_export_id(export_id)
    for bad in ("..", "latest", "../x", "20261125T210000Z-0000000g", "20261125T210000Z-00000000/..", ""):
        assert not is_export_id(bad)
        with pytest.raises(ValueError):
            export_prefix(bad)
    key = part_key(export_id, "Groningen/Drenthe", 3)
    assert key == f"{EXPORTS_PREFIX}export_id={export_id}/regio=Groningen%2FDrenthe/part-00003.parquet"
    assert regio_from_key(key) == "Groningen/Drenthe"


def test_manifest_round_trip_and_region_filter() -> None:
    manifest = Manifest(
        export_id="20261125T210000Z-00000001",
        created_at="c",
        completed_at="d",
        options={},
        rows=3,
        bytes=30,
        columns=["member_id"],
        files=[PartFile("k1", "Utrecht", 1, 10), PartFile("k2", "Oost", 2, 20)],
    )
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert [f.key for f in again.files_for(frozenset({"Utrecht"}))] == ["k1"]


def test_delete_prefix_refuses_anything_but_one_export(export_env: ExportEnv) -> None:
    for prefix in ("", "analytics/", EXPORTS_PREFIX, "other/"):
        with pytest.raises(ValueError):
            delete_prefix(export_env.s3, export_env.bucket, prefix)


def _age(jobs: ExportJobs, job_id: str, seconds: int) -> None:
    jobs.table.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET heartbeat_at = :old",
        ExpressionAttributeValues={":old": Decimal(int(time.time()) - seconds)},
    )


def test_a_queued_job_has_its_own_longer_limit(export_env: ExportEnv) -> None:
    jobs = export_env.jobs(stale_seconds=30, queued_stale_seconds=600)
    # GIVEN a job queued 60 s ago whose generator has not started yet (async invoke + image cold start)
    job = jobs.create("staff", ExportOptions())
    _age(jobs, job["job_id"], 60)
    # WHEN it is read THEN it is still queued (the running limit of 30 s does not apply to it)
    seen = jobs.get(job["job_id"])
    assert seen is not None and seen["state"] == "queued"
    # and the generator can still take it
    assert jobs.start(job["job_id"])["state"] == "running"
    # but a running job 60 s without a beat is dead
    _age(jobs, job["job_id"], 60)
    dead = jobs.get(job["job_id"])
    assert dead is not None and dead["state"] == "failed" and "heartbeat" in dead["error"]


def test_a_queued_job_never_taken_fails_after_the_queued_limit(export_env: ExportEnv) -> None:
    jobs = export_env.jobs(stale_seconds=30, queued_stale_seconds=600)
    job = jobs.create("staff", ExportOptions())
    _age(jobs, job["job_id"], 601)
    seen = jobs.get(job["job_id"])
    assert seen is not None and seen["state"] == "failed"
    assert "did not start within 600 s" in seen["error"]
    assert jobs.table.get_item(Key={"job_id": LOCK_ID}).get("Item") is None


def test_queued_limit_comes_from_the_template_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_QUEUED_STALE_SECONDS", "900")
    assert queued_stale_after_seconds() == 900
    monkeypatch.setenv("EXPORT_QUEUED_STALE_SECONDS", "x")
    assert queued_stale_after_seconds() == 600


def test_a_running_export_refusal_is_read_from_the_cancellation_reasons(export_env: ExportEnv) -> None:
    jobs = export_env.jobs()
    first = jobs.create("staff", ExportOptions())
    # GIVEN the transaction DynamoDB cancels because the lock item exists
    client = jobs.table.meta.client
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": jobs.table.name,
                        "Item": {"job_id": LOCK_ID, "holder": "x"},
                        "ConditionExpression": "attribute_not_exists(job_id)",
                    }
                }
            ]
        )
    # THEN its reasons name the failed condition of that item, which create() reads as "running"
    assert cancellation_codes(cancelled.value) == ["ConditionalCheckFailed"]
    with pytest.raises(JobRunning) as refused:
        jobs.create("admin", ExportOptions())
    assert refused.value.job["job_id"] == first["job_id"]
