"""The local stack keeps its data across `hdcn local up` restarts; `--fresh` starts over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from backend.local.launcher import LocalStackProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _start(state_dir: Path, *extra: str) -> tuple[LocalStackProcess, dict[str, Any]]:
    stack = LocalStackProcess(state_dir, members=20, extra=("--autosave-seconds", "3600", *extra))
    return stack, stack.start()


def _stop(stack: LocalStackProcess) -> None:
    assert stack.stop(timeout=60) == 0


def _clients(state: dict[str, Any]) -> tuple[Any, Any]:
    kw = {
        "endpoint_url": state["aws_endpoint"],
        "region_name": state["region"],
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return boto3.resource("dynamodb", **kw), boto3.client("s3", **kw)


def test_data_survives_a_restart_and_fresh_starts_over(tmp_path: Path) -> None:
    # GIVEN a local stack with a member, a job and an export object written into it
    proc, state = _start(tmp_path)
    try:
        ddb, s3 = _clients(state)
        members = ddb.Table(state["outputs"]["MembersTableName"])
        members.put_item(
            Item={"member_id": "persist-test-1", "regio": "Utrecht", "lidnummer": 9001, "version": 1}
        )
        ddb.Table(state["outputs"]["ExportJobsTableName"]).put_item(
            Item={"job_id": "job-persist", "kind": "member-export", "created_at": "2026-11-25T00:00:00Z"}
        )
        s3.put_object(
            Bucket=state["outputs"]["ExportBucketName"], Key="analytics/parquet/x.parquet", Body=b"PAR1"
        )
        before = members.scan(Select="COUNT")["Count"]
    finally:
        # WHEN it is stopped cleanly
        _stop(proc)

    # THEN a new start restores all of it, into the new physical tables and bucket
    proc, state = _start(tmp_path)
    try:
        ddb, s3 = _clients(state)
        members = ddb.Table(state["outputs"]["MembersTableName"])
        assert members.get_item(Key={"member_id": "persist-test-1"})["Item"]["lidnummer"] == 9001
        assert members.scan(Select="COUNT")["Count"] == before
        jobs = ddb.Table(state["outputs"]["ExportJobsTableName"])
        assert "Item" in jobs.get_item(Key={"job_id": "job-persist"})
        body = s3.get_object(Bucket=state["outputs"]["ExportBucketName"], Key="analytics/parquet/x.parquet")[
            "Body"
        ]
        assert body.read() == b"PAR1"
    finally:
        _stop(proc)

    # AND --fresh ignores the saved data: only the seed is there
    proc, state = _start(tmp_path, "--fresh")
    try:
        ddb, _ = _clients(state)
        members = ddb.Table(state["outputs"]["MembersTableName"])
        assert "Item" not in members.get_item(Key={"member_id": "persist-test-1"})
        assert members.scan(Select="COUNT")["Count"] == 20
    finally:
        _stop(proc)
