"""The local stack stopped or killed mid-request: nothing acknowledged is lost, no export half-published.

Each test runs a private stack (it is stopped and started again) with the fault proxy,
whose `delay` rule holds a request in flight at a known point while the stack stops.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.local.launcher import LocalStackProcess, id_token
from backend.local.persistence import DATA_DIR
from tests.conftest import STALE_FASTER
from tests.integration.test_no_lost_data import new_member

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GENERATOR = "GenerateMemberParquetFunction"


class Client:
    """Staff's calls to one run of the stack (new ports and tokens after every start)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.session = requests.Session()
        self.session.headers["Authorization"] = id_token(state, "staff")

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.state["api_url"] + path, timeout=120, **kwargs)

    def faults(self, rules: list[dict[str, Any]]) -> None:
        requests.post(f"{self.state['fault_proxy']}/__faults", json=rules, timeout=10).raise_for_status()

    def fault_hits(self) -> int:
        rules = requests.get(f"{self.state['fault_proxy']}/__faults", timeout=10).json()
        return sum(int(r["hits"]) for r in rules)

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.call("GET", f"/analytics/jobs/{job_id}").json()
        return job

    def wait_for_job(self, job_id: str, states: set[str], seconds: float = 180) -> dict[str, Any]:
        """Poll until the job is in one of `states` (a wait, not a timing assertion)."""
        deadline = time.monotonic() + seconds
        while (job := self.job(job_id)).get("state") not in states:
            assert time.monotonic() < deadline, f"job stayed {job.get('state')}"
            time.sleep(0.5)
        return job

    def export(self) -> str:
        """Start an export; its job id."""
        resp = self.call("POST", "/analytics/generate-parquet", json={})
        assert resp.status_code == 202, resp.text
        return str(resp.json()["job_id"])

    def published_and_held_export(self, hold_seconds: float) -> tuple[str, str]:
        """A published export, then another held at its first S3 upload (running): their job ids."""
        previous = self.export()
        assert self.wait_for_job(previous, {"succeeded", "failed"})["state"] == "succeeded"
        self.faults([{"service": "s3", "operation": "PUT", "error": "delay", "seconds": hold_seconds}])
        running = self.export()
        self.wait_for_job(running, {"running"})
        self.wait_until_held()
        return previous, running

    def latest_export(self) -> str:
        return str(self.call("GET", "/analytics/download-parquet/latest").json()["export_id"])

    def published(self) -> set[str]:
        return {e["export_id"] for e in self.call("GET", "/analytics/exports").json()["exports"]}

    def generator_pids(self) -> list[int]:
        listing = requests.get(f"{self.state['lambda_endpoint']}/local/invocations", timeout=10).json()
        return [int(i["pid"]) for i in listing if i["function"] == GENERATOR and i["running"]]

    def wait_until_held(self, seconds: float = 60) -> None:
        """Until a delayed call is being held by the fault proxy."""
        deadline = time.monotonic() + seconds
        while self.fault_hits() == 0:
            assert time.monotonic() < deadline, "no call reached the delayed operation"
            time.sleep(0.1)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStackProcess]:
    """A private stack that saves only when it stops (or every 2 s where a test asks for it)."""
    own = LocalStackProcess(tmp_path / "state", members=20, fault_proxy=True)
    yield own
    own.kill()


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_clean_stop_mid_request_finishes_it_and_fails_the_running_export(stack: LocalStackProcess) -> None:
    stack.extra = ("--autosave-seconds", "3600")
    client = Client(stack.start())
    # GIVEN a member read at its version, a published export, and another export held at its
    # first S3 upload, so it is running when the stack stops
    member = client.call("POST", "/members", json=new_member(uuid.uuid4().hex[:8])).json()
    previous, running = client.published_and_held_export(hold_seconds=60)
    # AND an update held at its DynamoDB write, so it is in flight when the stack stops
    client.faults([{"service": "dynamodb", "operation": "PutItem", "error": "delay", "seconds": 3}])
    answers: dict[str, requests.Response] = {}
    update = threading.Thread(
        target=lambda: answers.update(
            put=client.call(
                "PUT",
                f"/members/{member['member_id']}",
                json={"woonplaats": "Tijdens-Stop", "version": member["version"]},
            )
        )
    )
    update.start()
    client.wait_until_held()

    # WHEN the stack is stopped as Ctrl-C stops it
    assert stack.proc is not None
    stack.proc.terminate()
    # and another write arrives while it stops
    late_email = new_member(uuid.uuid4().hex[:8])
    try:
        late: requests.Response | None = client.call("POST", "/members", json=late_email)
    except requests.ConnectionError:
        late = None  # refused: the caller was told nothing was done
    update.join(timeout=120)

    # THEN the request in flight was finished and acknowledged, and the stack stopped cleanly
    assert answers["put"].status_code == 200, answers["put"].text
    assert stack.proc.wait(timeout=90) == 0
    stack.proc = None
    # and a write that arrived while stopping was refused with a retry hint, or else kept
    if late is not None:
        assert late.status_code in (201, 503), late.text
        if late.status_code == 503:
            assert late.headers.get("Retry-After") and late.json()["error"]["code"]

    # WHEN it starts again
    client = Client(stack.start())
    # THEN the acknowledged update is there
    after = client.call("GET", f"/members/{member['member_id']}").json()
    assert after["woonplaats"] == "Tijdens-Stop" and after["version"] == member["version"] + 1
    # and the late write is there exactly when it was acknowledged
    found = client.call("GET", "/members", params={"email": late_email["email"]}).json()["members"]
    assert (late is not None and late.status_code == 201) == bool(found)
    # and the export it interrupted ended failed with its reason, nothing of it published
    job = client.job(running)
    assert job["state"] == "failed" and "InvocationStopped" in job["error"]
    assert client.latest_export() == previous
    assert running not in client.published()
    # and the export lock was released: a new export is accepted (its run is stopped in turn)
    client.export()
    assert stack.stop() == 0


def test_killed_stack_restarts_from_its_last_save_and_the_orphaned_export_fails(
    stack: LocalStackProcess,
) -> None:
    stack.extra = ("--autosave-seconds", "2", *STALE_FASTER)
    client = Client(stack.start())
    # GIVEN a published export, and another held at its first S3 upload, running when a save is made
    previous, running = client.published_and_held_export(hold_seconds=300)
    [generator] = client.generator_pids()
    saved = stack.state_dir / DATA_DIR / "manifest.json"
    held_at = time.time()
    deadline = time.monotonic() + 60
    while not (saved.exists() and json.loads(saved.read_text())["saved_at"] > held_at):
        assert time.monotonic() < deadline, "no save was made"
        time.sleep(0.2)

    # WHEN the stack is killed, with no chance to clean up
    stack.kill()

    # THEN its orphaned generator stops by itself rather than running on to its timeout
    deadline = time.monotonic() + 60
    while _alive(generator):
        assert time.monotonic() < deadline, "the generator kept running after the stack died"
        time.sleep(0.2)

    # WHEN it starts again from the last save
    client = Client(stack.start())
    # THEN the saved running job ends failed once its heartbeat is stale, with the reason
    job = client.wait_for_job(running, {"failed", "succeeded"}, seconds=120)
    assert job["state"] == "failed" and "heartbeat" in job["error"]
    # and the previous export is still the one served; nothing of the killed run is published
    assert client.latest_export() == previous
    assert running not in client.published()
    # and its lock was freed: the next export is accepted
    client.export()
    assert stack.stop() == 0
    assert not os.path.exists(stack.state_dir / "local-stack.json")
