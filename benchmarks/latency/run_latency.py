"""Latency of the local stack with many members: a member page, a name search, an export.

Starts its own `hdcn local up --no-console` with N members on free loopback ports and
measures, as the issue's targets name them: `GET /members` first page (p50), a name
search over all members (p50), an export of all members (seconds until the job
succeeded), and `/health` and a member page while that export runs (p95).

    .venv/bin/python -m benchmarks.latency.run_latency --members 10000 [--runtime inline]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from backend.local.launcher import LocalStackProcess, id_token

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _timed(session: requests.Session, url: str, **kwargs: Any) -> float:
    started = time.perf_counter()
    resp = session.get(url, timeout=120, **kwargs)
    resp.raise_for_status()
    return time.perf_counter() - started


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(state: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The figures, in milliseconds and seconds."""
    api = state["api_url"]
    session = requests.Session()
    session.headers["Authorization"] = id_token(state, "staff")
    # Warm both functions first: the figures are for warm execution environments (cold starts
    # are in the functions' REPORT lines and the health check).
    _timed(session, f"{api}/members")
    _timed(session, f"{api}/health")
    page = [_timed(session, f"{api}/members") for _ in range(repeat)]
    search = [_timed(session, f"{api}/members", params={"q": "Jansen"}) for _ in range(max(3, repeat // 4))]

    started = time.perf_counter()
    job = session.post(f"{api}/analytics/generate-parquet", json={}, timeout=60).json()
    during_health: list[float] = []
    during_page: list[float] = []
    done = threading.Event()

    def probe() -> None:
        probe_session = requests.Session()
        probe_session.headers["Authorization"] = session.headers["Authorization"]
        while not done.is_set():
            during_health.append(_timed(probe_session, f"{api}/health"))
            during_page.append(_timed(probe_session, f"{api}/members"))

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    while True:
        state_now = session.get(f"{api}/analytics/jobs/{job['job_id']}", timeout=60).json()
        if state_now.get("state") in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    export_seconds = time.perf_counter() - started
    done.set()
    prober.join()
    return {
        "members_page_p50_ms": round(statistics.median(page) * 1000, 1),
        "name_search_p50_ms": round(statistics.median(search) * 1000, 1),
        "export_state": state_now.get("state"),
        "export_rows": state_now.get("rows"),
        "export_seconds": round(export_seconds, 2),
        "health_during_export_p95_ms": round(_pct(during_health, 95) * 1000, 1) if during_health else None,
        "page_during_export_p95_ms": round(_pct(during_page, 95) * 1000, 1) if during_page else None,
        "samples_during_export": len(during_health),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--runtime", choices=("workers", "inline"), help="default: the stack's own default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hdcn-latency-") as tmp:
        extra = ("--runtime", args.runtime) if args.runtime else ()
        stack = LocalStackProcess(Path(tmp), members=args.members, extra=extra)
        started = time.perf_counter()
        state = stack.start()
        start_seconds = time.perf_counter() - started
        try:
            figures = {
                "members": args.members,
                "runtime": args.runtime or "default",
                "start_seconds": round(start_seconds, 1),
            }
            figures.update(measure(state, args.repeat))
        finally:
            stack.stop()
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"latency-{args.members}-{args.runtime or 'default'}-{int(time.time())}.json").write_text(
        json.dumps(figures)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
