"""Concurrent conflicting writes: the final state is exactly what each caller was told.

Every 2xx write must be in the final state and every 409 must not be; concurrent export
triggers must end up as one job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.slow]
Api = Callable[..., requests.Response]


def new_member(tag: str) -> dict[str, Any]:
    """A valid new member, its name and email unique by `tag`."""
    return {
        "voornaam": "Race",
        "achternaam": f"Test{tag}",
        "email": f"race.{tag}@example.nl",
        "regio": "Utrecht",
    }


def test_mixed_concurrent_updates_and_deletes_lose_nothing(api: Api) -> None:
    # GIVEN eight members, each read once at version 1
    members = []
    for _ in range(8):
        resp = api("POST", "/members", user="staff", json=new_member(uuid.uuid4().hex[:10]))
        assert resp.status_code == 201
        members.append(resp.json())

    # WHEN for each member six callers update from the version they read while two try to delete it
    def update(member: dict[str, Any], n: int) -> tuple[str, str, int, str, int | None]:
        town = f"Stad{n}-{uuid.uuid4().hex[:6]}"
        r = api(
            "PUT",
            f"/members/{member['member_id']}",
            user="staff",
            json={"woonplaats": town, "version": member["version"]},
        )
        return ("update", member["member_id"], r.status_code, town, r.json().get("version") if r.ok else None)

    def delete(member: dict[str, Any]) -> tuple[str, str, int, str, int | None]:
        r = api(
            "DELETE",
            f"/members/{member['member_id']}",
            user="staff",
            headers={"If-Match": str(member["version"])},
        )
        return ("delete", member["member_id"], r.status_code, "", None)

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = []
        for m in members:
            futures += [pool.submit(update, m, n) for n in range(6)]
            futures += [pool.submit(delete, m) for _ in range(2)]
        outcomes = [f.result() for f in futures]

    # THEN per member exactly one write won (all of them raced from version 1), the losers got 409,
    # and the final state is the winner's: its update is there, or it is gone if a delete won.
    for m in members:
        mine = [o for o in outcomes if o[1] == m["member_id"]]
        statuses = sorted(o[2] for o in mine)
        assert all(s in (200, 204, 404, 409) for s in statuses), statuses
        winners = [o for o in mine if o[2] in (200, 204)]
        assert len(winners) == 1, mine
        final = api("GET", f"/members/{m['member_id']}", user="staff")
        kind, _, _, town, version = winners[0]
        if kind == "delete":
            assert final.status_code == 404
        else:
            assert final.status_code == 200
            assert final.json()["woonplaats"] == town and final.json()["version"] == version == 2
            api("DELETE", f"/members/{m['member_id']}", user="staff")


def test_acknowledged_sequential_updates_under_contention_all_land(api: Api) -> None:
    # GIVEN one member and ten writers that retry on 409 with the fresh version (as the console does)
    created = api("POST", "/members", user="staff", json=new_member(uuid.uuid4().hex[:10])).json()
    member_id = created["member_id"]

    def writer(n: int) -> list[tuple[int, str]]:
        acknowledged = []
        for attempt in range(3):
            current = api("GET", f"/members/{member_id}", user="staff").json()
            note = f"writer {n} attempt {attempt}"
            r = api(
                "PUT",
                f"/members/{member_id}",
                user="staff",
                json={"notities": note, "version": current["version"]},
            )
            if r.status_code == 200:
                acknowledged.append((r.json()["version"], note))
            else:
                assert r.status_code == 409, r.text
        return acknowledged

    with ThreadPoolExecutor(max_workers=10) as pool:
        acks = [a for result in pool.map(writer, range(10)) for a in result]

    # THEN every acknowledged write got its own version, and the final state is the last one acknowledged
    versions = [v for v, _ in acks]
    assert len(versions) == len(set(versions))
    final = api("GET", f"/members/{member_id}", user="staff").json()
    assert final["version"] == 1 + len(acks)
    assert final["notities"] == max(acks)[1]
    api("DELETE", f"/members/{member_id}", user="staff")


def test_concurrent_export_triggers_make_one_job(api: Api) -> None:
    # GIVEN no export running (wait out one another test may have started)
    import time

    deadline = time.time() + 120
    while True:
        jobs = api("GET", "/analytics/jobs", user="staff").json()
        listed = jobs.get("jobs", jobs) if isinstance(jobs, dict) else jobs
        if not any(j.get("state") in ("queued", "running") for j in listed):
            break
        assert time.time() < deadline, "an earlier export did not finish"
        time.sleep(1)

    # WHEN eight callers trigger an export at once
    def trigger(_: int) -> requests.Response:
        return api("POST", "/analytics/generate-parquet", user="staff", json={})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(trigger, range(8)))

    # THEN one job was started: one 202, the others 409 naming that same job
    started = [r.json()["job_id"] for r in responses if r.status_code == 202]
    refused = [
        r.json()["error"]["details"]["running_job"]["job_id"] for r in responses if r.status_code == 409
    ]
    assert len(started) == 1, [r.status_code for r in responses]
    assert len(started) + len(refused) == 8
    assert set(refused) <= set(started)
    # and it finishes (so later tests start from a quiet stack)
    deadline = time.time() + 180
    while api("GET", f"/analytics/jobs/{started[0]}", user="staff").json()["state"] not in (
        "succeeded",
        "failed",
    ):
        assert time.time() < deadline
        time.sleep(1)
