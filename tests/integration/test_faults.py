"""Dependency failures injected between the functions and AWS: the API answers 503 with a retry hint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.fixture
def faults(local_stack: dict[str, Any]) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """Set fault rules on the stack's fault proxy; always cleared afterwards (the stack is shared)."""
    url = f"{local_stack['fault_proxy']}/__faults"

    def set_rules(rules: list[dict[str, Any]]) -> None:
        requests.post(url, json=rules, timeout=10).raise_for_status()

    yield set_rules
    requests.delete(url, timeout=10).raise_for_status()


def test_dynamodb_throttling_gives_503_with_retry_after(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    # GIVEN DynamoDB throttles every Query (beyond what botocore's retries absorb)
    faults([{"service": "dynamodb", "operation": "Query", "error": "throttle", "count": -1}])
    # WHEN a reader lists exports (a Query on the jobs table)
    resp = api("GET", "/analytics/exports", user="admin")
    # THEN the API says the service is busy and when to retry, in its error shape, not a 500
    assert resp.status_code == 503
    assert resp.headers.get("Retry-After")
    assert resp.json()["error"]["code"] == "service_unavailable"


def test_short_throttling_is_absorbed_by_retries(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    # GIVEN DynamoDB throttles only the next two Queries
    faults([{"service": "dynamodb", "operation": "Query", "error": "throttle", "count": 2}])
    # WHEN a reader lists exports THEN botocore's backoff retries succeed and the caller sees 200
    assert api("GET", "/analytics/exports", user="admin").status_code == 200


def test_dependency_unreachable_gives_503(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    faults([{"service": "dynamodb", "error": "unavailable", "count": -1}])
    resp = api("GET", "/analytics/exports", user="admin")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "service_unavailable"


def _wait_for_job(api: Callable[..., requests.Response], job_id: str, seconds: float = 180) -> dict[str, Any]:
    """Poll until the job ends (a wait, not a timing assertion)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = api("GET", f"/analytics/jobs/{job_id}", user="staff").json()
        if job.get("state") in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job stayed {job.get('state')}"
        time.sleep(0.5)


@pytest.mark.slow
def test_s3_failing_during_an_export_fails_the_job_and_keeps_the_previous_export(
    api: Callable[..., requests.Response],
    faults: Callable[[list[dict[str, Any]]], None],
    aws: Callable[[str], Any],
    local_stack: dict[str, Any],
) -> None:
    # GIVEN a published export
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert started.status_code == 202, started.text
    previous = _wait_for_job(api, started.json()["job_id"])
    assert previous["state"] == "succeeded"

    # WHEN S3 refuses every write while the next export runs
    faults([{"service": "s3", "operation": "PUT", "error": "unavailable", "count": -1}])
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert started.status_code == 202, started.text
    failed = _wait_for_job(api, started.json()["job_id"])
    faults([])

    # THEN the job ends failed with a readable reason
    assert failed["state"] == "failed"
    assert failed.get("error")
    # and readers still get the previous export, in full
    latest = api("GET", "/analytics/download-parquet/latest", user="admin")
    assert latest.status_code == 200 and latest.json()["export_id"] == previous["job_id"]
    # and nothing of the failed run is published (no manifest, so it is invisible)
    listed = aws("s3").list_objects_v2(
        Bucket=local_stack["outputs"]["ExportBucketName"],
        Prefix=f"analytics/parquet/members/export_id={failed['job_id']}/",
    )
    assert not any(o["Key"].endswith("_manifest.json") for o in listed.get("Contents", []))
    exports = api("GET", "/analytics/exports", user="admin").json()["exports"]
    assert failed["job_id"] not in {e["export_id"] for e in exports}


# The generator's start held this long: above the session stack's ExportStaleAfterSeconds (15,
# tests/conftest.py), so a queued job judged by the running job's heartbeat rule would have failed.
QUEUED_START_DELAY_S = 25


@pytest.mark.slow
def test_a_queued_export_survives_a_slow_generator_start(
    api: Callable[..., requests.Response],
    faults: Callable[[list[dict[str, Any]]], None],
    local_stack: dict[str, Any],
) -> None:
    """GIVEN the generator's asynchronous start held 25 s after the API's invoke, as a cold start can be."""
    faults(
        [
            {
                "service": "lambda",
                "operation": "Invoke",
                "error": "delay",
                "seconds": QUEUED_START_DELAY_S,
                "count": 1,
            }
        ]
    )
    # WHEN staff triggers an export and readers keep reading its job meanwhile (each read reconciles)
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert started.status_code == 202, started.text
    job = _wait_for_job(api, started.json()["job_id"], seconds=QUEUED_START_DELAY_S + 180)
    # THEN the start really was held (the rule was hit) and the job was not failed as stale: it ran
    rules = requests.get(f"{local_stack['fault_proxy']}/__faults", timeout=10).json()
    assert rules[0]["hits"] == 1
    assert job["state"] == "succeeded", job


def test_a_replayed_export_create_returns_the_first_answer(
    api: Callable[..., requests.Response],
    faults: Callable[[list[dict[str, Any]]], None],
    local_stack: dict[str, Any],
) -> None:
    """GIVEN the create transaction is applied but its answer lost, so botocore sends it again."""
    faults([{"service": "dynamodb", "operation": "TransactWriteItems", "error": "lost-answer", "count": 1}])
    # WHEN staff triggers an export
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    rules = requests.get(f"{local_stack['fault_proxy']}/__faults", timeout=10).json()
    faults([])
    # THEN the answer was really lost once, and the retry got the first answer: 202, not 409 naming itself
    assert rules[0]["hits"] == 1
    assert started.status_code == 202, started.text
    job = _wait_for_job(api, started.json()["job_id"])
    assert job["state"] == "succeeded", job
