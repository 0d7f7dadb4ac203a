"""The local stack keeps its data across `hdcn local up` restarts; `--fresh` starts over."""

from __future__ import annotations

import json
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from backend.local.launcher import LocalStackProcess
from backend.local.persistence import DATA_DIR
from tests.integration.test_no_lost_data import new_member
from tests.integration.test_restart import Client

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


def _history(s3: Any, bucket: str) -> list[tuple[str, str, bool]]:
    """Every version and delete marker of the bucket: (key, version id, is a delete marker)."""
    rows: list[tuple[str, str, bool]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        rows += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
        rows += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])]
    return sorted(rows)


def test_acknowledged_writes_survive_pruned_exports_a_stop_and_a_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    stack = LocalStackProcess(
        state_dir,
        members=20,
        extra=("--autosave-seconds", "1", "--parameter-overrides", "ExportsToKeep=1"),
    )
    client = Client(stack.start())
    try:
        # GIVEN two exports with one kept: pruning left delete markers in the versioned bucket
        for _ in range(2):
            job = client.export()
            assert client.wait_for_job(job, {"succeeded", "failed"})["state"] == "succeeded"
        latest = client.latest_export()
        _, s3 = _clients(client.state)
        bucket = client.state["outputs"]["ExportBucketName"]
        history = _history(s3, bucket)
        assert any(marker for _, _, marker in history)
        # AND a member created and updated after that, each acknowledged
        created = client.call("POST", "/members", json=new_member(uuid.uuid4().hex[:8]))
        assert created.status_code == 201, created.text
        member = created.json()
        updated = client.call(
            "PUT", f"/members/{member['member_id']}", json={"woonplaats": "Na-Snoei", "version": 1}
        )
        assert updated.status_code == 200, updated.text
        # AND the autosave (every second) is still alive: it saves after the update
        acknowledged_at = time.time()
        manifest = state_dir / DATA_DIR / "manifest.json"
        deadline = time.monotonic() + 60
        while not (manifest.exists() and json.loads(manifest.read_text())["saved_at"] > acknowledged_at):
            assert time.monotonic() < deadline, f"the autosave stopped saving:\n{stack.log_tail()}"
            time.sleep(0.2)
    finally:
        # WHEN the stack is stopped as Ctrl-C stops it
        code = stack.stop(timeout=90)
    # THEN it saved cleanly: exit 0, no half-written save left, no failure reported
    assert code == 0, stack.log_tail()
    assert not (state_dir / "data.saving").exists()
    assert "saving the local data failed" not in stack.log_path.read_text()
    # and what it saved is private to this user
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for path in (state_dir / DATA_DIR).rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    # WHEN it starts again
    client = Client(stack.start())
    try:
        # THEN the acknowledged writes are there
        after = client.call("GET", f"/members/{member['member_id']}").json()
        assert after["woonplaats"] == "Na-Snoei" and after["version"] == 2
        # and the bucket's history with them: the same versions and delete markers, the same export served
        _, s3 = _clients(client.state)
        assert _history(s3, client.state["outputs"]["ExportBucketName"]) == history
        assert client.latest_export() == latest and client.published() == {latest}
        assert stat.S_IMODE((state_dir / "local-stack.json").stat().st_mode) == 0o600
    finally:
        assert stack.stop() == 0
