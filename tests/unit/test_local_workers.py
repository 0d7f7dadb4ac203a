"""The local runtime's execution environments: a process per worker, one request at a time each."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from backend.local.runtime import FunctionError, FunctionPool, LambdaContext
from backend.local.template import FunctionSpec

pytestmark = pytest.mark.unit

PROBE = "tests/unit/fixtures/probe_function"


def _spec(timeout: int = 30, memory: int = 512) -> FunctionSpec:
    return FunctionSpec("ProbeFunction", PROBE, "app.handler", "Zip", timeout, memory, ())


def _context() -> LambdaContext:
    return LambdaContext(
        "probe", 512, "arn:aws:lambda:eu-west-1:1:function:probe", str(uuid.uuid4()), time.time() + 30
    )


class Pool:
    """A FunctionPool of the probe function with the platform lines it wrote."""

    def __init__(self, limit: int, **spec: Any) -> None:
        self.lines: list[str] = []
        self.pool = FunctionPool(
            _spec(**spec), {}, limit, lambda _group, lines: self.lines.extend(lines), "/aws/lambda/probe"
        )

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.pool.invoke(event, _context())
        return result

    def reports(self) -> list[str]:
        return [line for line in self.lines if line.startswith("REPORT")]


@pytest.fixture
def pool_of() -> Iterator[Any]:
    made: list[Pool] = []

    def make(limit: int = 2, **spec: Any) -> Pool:
        made.append(Pool(limit, **spec))
        return made[-1]

    yield make
    for p in made:
        p.pool.stop()


def test_a_warm_worker_is_reused_and_only_its_first_request_is_a_cold_start(pool_of: Any) -> None:
    pool = pool_of(limit=2)
    # GIVEN requests one after another WHEN run THEN one process serves them all
    pids = {pool.invoke({})["pid"] for _ in range(3)}
    assert len(pids) == 1
    # AND each wrote a REPORT line; only the first carries an Init Duration
    reports = pool.reports()
    assert len(reports) == 3
    assert "Init Duration" in reports[0] and not any("Init Duration" in r for r in reports[1:])


def test_concurrent_requests_get_their_own_worker_up_to_the_limit(pool_of: Any) -> None:
    pool = pool_of(limit=2)
    # GIVEN six requests at once for a function limited to two environments
    with ThreadPoolExecutor(6) as threads:
        runs = list(threads.map(lambda _: pool.invoke({"sleep": 0.3}), range(6)))
    # THEN at most two processes ran them, and no process ever ran two requests at the same time
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        by_pid.setdefault(run["pid"], []).append(run)
    assert 1 <= len(by_pid) <= 2 and pool.pool.size <= 2
    for spans in by_pid.values():
        spans.sort(key=lambda r: r["started"])
        assert all(a["ended"] <= b["started"] for a, b in itertools.pairwise(spans))


def test_a_request_over_the_timeout_ends_its_worker(pool_of: Any) -> None:
    pool = pool_of(limit=1, timeout=1)
    first = pool.invoke({})["pid"]
    # WHEN a request runs past the function's timeout THEN it fails as Lambda's would
    with pytest.raises(FunctionError) as failed:
        pool.invoke({"sleep": 30})
    assert failed.value.kind == "Sandbox.Timedout"
    # AND the next request gets a new execution environment
    assert pool.invoke({})["pid"] != first


def test_a_request_over_the_memory_size_ends_its_worker(pool_of: Any) -> None:
    pool = pool_of(limit=1, memory=128)
    with pytest.raises(FunctionError) as failed:
        pool.invoke({"allocate_mb": 400, "sleep": 10})
    assert failed.value.kind == "Runtime.OutOfMemory"


def test_an_unhandled_error_is_reported_and_the_worker_stays_warm(pool_of: Any) -> None:
    pool = pool_of(limit=1)
    first = pool.invoke({})["pid"]
    with pytest.raises(FunctionError) as failed:
        pool.invoke({"fail": True})
    assert failed.value.kind == "ValueError" and "asked to fail" in failed.value.message
    assert pool.invoke({})["pid"] == first


def test_idle_workers_are_stopped(pool_of: Any) -> None:
    pool = pool_of(limit=1)
    first = pool.invoke({})["pid"]
    # WHEN the idle time has passed THEN the worker is stopped, and the next request is a cold start
    assert pool.pool.reap(idle_seconds=0) == 1 and pool.pool.size == 0
    assert pool.invoke({})["pid"] != first
    assert "Init Duration" in pool.reports()[-1]


def test_a_worker_killed_while_idle_is_replaced(pool_of: Any) -> None:
    pool = pool_of(limit=1)
    first = pool.invoke({})["pid"]
    # GIVEN its one warm worker was killed from outside WHEN the next request comes THEN a new one runs it
    [idle] = pool.pool._idle  # the warm worker, as the pool holds it
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while idle.alive:  # until its process has ended (a wait, not a timing assertion)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert pool.invoke({})["pid"] != first
    assert pool.pool.size == 1
