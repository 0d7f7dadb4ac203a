"""Load run: N concurrent clients for S seconds of mixed reads and writes against a local stack.

Starts its own `hdcn local up --no-console` on free loopback ports (or uses --api-url with a
running one), runs the clients, then checks that no acknowledged write was lost: every
member a client was told it created exists, and every member's final state is the last
update a client was told succeeded. Prints throughput, p50/p99 latency and errors.

    .venv/bin/python -m benchmarks.load.run_load --clients 20 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from backend.local.launcher import LocalStackProcess, id_token

REPO_ROOT = Path(__file__).resolve().parents[2]
REGIOS = ["Noord-Holland", "Zuid-Holland", "Utrecht", "Oost", "Limburg", "Brabant/Zeeland"]


@dataclass
class Results:
    """What every client saw, merged under a lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: list[str] = field(default_factory=list)
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    # member_id -> (version acknowledged, woonplaats written) of each successful update
    updates: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    deleted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1


def new_member(rng: random.Random) -> dict[str, Any]:
    """A valid new member (unique email)."""
    tag = uuid.uuid4().hex[:12]
    return {
        "voornaam": "Load",
        "achternaam": f"Test{tag}",
        "email": f"load.{tag}@example.nl",
        "geboortedatum": "1970-05-01",
        "regio": rng.choice(REGIOS),
        "lidmaatschap": "Gewoon lid",
        "status": "Aangemeld",
        "postcode": "3511 AB",
        "woonplaats": "Utrecht",
        "land": "Nederland",
        "clubblad": "Digitaal",
    }


def client(
    api: str, tokens: dict[str, str], deadline: float, seed: int, known_ids: list[str], res: Results
) -> None:
    """One client: a fixed mix of reads and writes until the deadline."""
    rng = random.Random(seed)
    session = requests.Session()
    mine: dict[str, int] = {}  # members this client created → last version it knows
    while time.time() < deadline:
        op = rng.random()
        t0 = time.perf_counter()
        kind = ""
        try:
            if op < 0.40:
                kind = "list"
                params = {"limit": "50", "regio": rng.choice(REGIOS)}
                user = rng.choice(["admin", "regio-utrecht", "staff"])
                r = session.get(
                    f"{api}/members", params=params, headers={"Authorization": tokens[user]}, timeout=60
                )
            elif op < 0.60:
                kind = "get"
                mid = rng.choice(known_ids)
                r = session.get(
                    f"{api}/members/{mid}", headers={"Authorization": tokens["admin"]}, timeout=60
                )
            elif op < 0.75:
                kind = "create"
                body = new_member(rng)
                r = session.post(
                    f"{api}/members", json=body, headers={"Authorization": tokens["staff"]}, timeout=60
                )
                if r.status_code == 201:
                    created = r.json()
                    mine[created["member_id"]] = int(created["version"])
                    with res.lock:
                        res.created[created["member_id"]] = created
            elif op < 0.92 and mine:
                kind = "update"
                mid = rng.choice(list(mine))
                town = f"Plaats{rng.randrange(10**6)}"
                r = session.put(
                    f"{api}/members/{mid}",
                    json={"woonplaats": town, "version": mine[mid]},
                    headers={"Authorization": tokens["staff"]},
                    timeout=60,
                )
                if r.status_code == 200:
                    mine[mid] = int(r.json()["version"])
                    with res.lock:
                        res.updates[mid].append((mine[mid], town))
            elif op < 0.95 and mine:
                kind = "delete"
                mid = rng.choice(list(mine))
                r = session.delete(
                    f"{api}/members/{mid}",
                    headers={"Authorization": tokens["staff"], "If-Match": str(mine[mid])},
                    timeout=60,
                )
                if r.status_code in (200, 204):
                    mine.pop(mid)
                    with res.lock:
                        res.deleted.add(mid)
            else:
                kind = "products"
                r = session.get(f"{api}/products", timeout=60)
        except requests.RequestException as err:
            with res.lock:
                res.errors.append(f"{kind}: {type(err).__name__}")
            continue
        res.record(kind, r.status_code, time.perf_counter() - t0)
        if r.status_code >= 500 or r.status_code in (400, 401, 403, 422):
            with res.lock:
                res.errors.append(f"{kind}: HTTP {r.status_code}")


def verify(api: str, token: str, res: Results) -> list[str]:
    """Acknowledged writes that the final state does not show."""
    lost: list[str] = []
    session = requests.Session()
    for mid in res.created:
        r = session.get(f"{api}/members/{mid}", headers={"Authorization": token}, timeout=60)
        if mid in res.deleted:
            if r.status_code != 404:
                lost.append(f"{mid}: deleted but still readable ({r.status_code})")
            continue
        if r.status_code != 200:
            lost.append(f"{mid}: created but GET gave {r.status_code}")
            continue
        final = r.json()
        if res.updates.get(mid):
            version, town = max(res.updates[mid])
            if int(final["version"]) != version or final.get("woonplaats") != town:
                lost.append(
                    f"{mid}: last acknowledged update v{version} not in final state (v{final['version']})"
                )
    return lost


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] if ordered else 0.0


def tokens_for(state: dict[str, Any]) -> dict[str, str]:
    return {user: id_token(state, user) for user in ("admin", "regio-utrecht", "staff")}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--state-dir", type=Path, help="keep the stack's state and logs here (default: a temp dir)"
    )
    args = parser.parse_args()

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        # Fresh data, and no saves while it runs: the measurement is of the API alone.
        stack = LocalStackProcess(
            args.state_dir or Path(tmp), members=args.members, extra=("--fresh", "--autosave-seconds", "3600")
        )
        state = stack.start()
        try:
            api = state["api_url"]
            tokens = tokens_for(state)
            first = requests.get(
                f"{api}/members",
                params={"limit": "200"},
                headers={"Authorization": tokens["admin"]},
                timeout=60,
            ).json()
            known_ids = [m["member_id"] for m in first["members"]]
            res = Results()
            deadline = time.time() + args.seconds
            started = time.time()
            threads = [
                threading.Thread(target=client, args=(api, tokens, deadline, i, known_ids, res))
                for i in range(args.clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.time() - started
            lost = verify(api, tokens["staff"], res)
        finally:
            stack.stop()

    all_lat = [x for v in res.latencies.values() for x in v]
    summary = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": len(all_lat),
        "throughput_rps": round(len(all_lat) / elapsed, 1),
        "p50_ms": round(percentile(all_lat, 50) * 1000, 1),
        "p99_ms": round(percentile(all_lat, 99) * 1000, 1),
        "errors": len(res.errors),
        "lost_writes": len(lost),
        "by_kind": {
            k: {
                "n": len(v),
                "p50_ms": round(statistics.median(v) * 1000, 1),
                "p99_ms": round(percentile(v, 99) * 1000, 1),
                "statuses": dict(res.statuses[k]),
            }
            for k, v in res.latencies.items()
        },
        "created": len(res.created),
        "updates_acknowledged": sum(len(v) for v in res.updates.values()),
        "deleted": len(res.deleted),
        "error_samples": res.errors[:10],
        "lost_samples": lost[:10],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"load-{int(time.time())}.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0 if not res.errors and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
