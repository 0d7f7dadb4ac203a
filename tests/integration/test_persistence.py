"""The local stack keeps its data across `hdcn local up` restarts; `--fresh` starts over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REPO_ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _start(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    state_file = state_dir / "local-stack.json"
    state_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.local.up",
            "--no-console",
            "--members",
            "20",
            "--state-dir",
            str(state_dir),
            "--aws-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
            "--lambda-port",
            str(free_port()),
            "--autosave-seconds",
            "3600",
            *extra,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    deadline = time.time() + 90
    while not state_file.exists():
        assert proc.poll() is None and time.time() < deadline, "local stack did not start"
        time.sleep(0.2)
    return proc, json.loads(state_file.read_text())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


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
