"""No member PII in the local stack's logs after every route has been exercised.

Every route of the template is called (by users of each kind) with a seeded member's id
in its path, a name and email in the query string and a whole member record as body;
an export is run over all members. Then the logs the stack wrote (the up process's
stdout/stderr with every function's Powertools JSON, and the gateway log) are searched
for the seeded members' full names, emails and IBANs, and for the values sent.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.local.seed import generate_members
from backend.local.template import load_template, routes
from tests.conftest import TEST_MEMBERS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = ("staff", "admin", "regio-utrecht", "root")


def full_name(member: dict[str, Any]) -> str:
    parts = [member["voornaam"], member.get("tussenvoegsel") or "", member["achternaam"]]
    return " ".join(p for p in parts if p)


def pii_values(members: list[dict[str, Any]]) -> set[str]:
    """Exact, distinctive values only (full name, full email, IBAN): no common words."""
    values: set[str] = set()
    for m in members:
        values.update({full_name(m), m["email"], m["bankrekeningnummer"]})
    return values


def find_pii(text: str, values: set[str]) -> list[str]:
    """The values that occur in `text`, as written or JSON-escaped."""
    return sorted(v for v in values if v in text or json.dumps(v)[1:-1] in text)


def _fill(path: str, member: dict[str, Any]) -> str:
    # A seeded member's id wherever the route takes one; a plausible name elsewhere.
    return re.sub(r"\{([^}]+)\}", lambda m: member["member_id"] if "member" in m.group(1) else "probe", path)


def _wait_for_export(api: Callable[..., requests.Response], job_id: str) -> None:
    # The export runs in a child process: wait for it to end so its logs are written (no timing asserted).
    deadline = time.time() + 120
    while time.time() < deadline:
        job = api("GET", f"/analytics/jobs/{job_id}", user="staff").json()
        if job.get("state") not in ("queued", "running"):
            return
        time.sleep(0.5)


def test_finder_sees_plain_and_escaped_values() -> None:
    # The scan itself must be able to fail: a planted value is found, written plainly or JSON-escaped.
    assert find_pii('{"naam": "Jan de Vries"}', {"Jan de Vries"}) == ["Jan de Vries"]
    assert find_pii(json.dumps({"n": "Jürgen Müller"}), {"Jürgen Müller"}) == ["Jürgen Müller"]
    assert find_pii("nothing here", {"Jan de Vries"}) == []


def test_logs_hold_no_member_pii_after_every_route(
    api: Callable[..., requests.Response], local_stack: dict[str, Any]
) -> None:
    members = list(generate_members(TEST_MEMBERS))
    target, body_member = members[7], members[11]
    probe = {
        **{k: v for k, v in body_member.items() if k not in ("member_id", "lidnummer", "version")},
        "email": f"pii-probe-{uuid.uuid4().hex[:8]}@example.nl",
        "voornaam": "Probeertje",
        "achternaam": "Logscanner",
    }
    query = {"q": full_name(target), "email": target["email"], "search": target["bankrekeningnummer"]}
    # GIVEN every template route called by several users with PII in path, query and body
    for route in routes(load_template()):
        path = _fill(route.path, target)
        for user in USERS:
            if route.method == "GET":
                api("GET", path, user=user, params=query)
            else:
                api(route.method, path, user=user, json=probe)
    # and an export of every member run to its end
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert started.status_code in (202, 409)  # 409: another test's export holds the lock
    if started.status_code == 202:
        _wait_for_export(api, started.json()["job_id"])
    # and the ops checks run, so at least one handler has logged through Powertools
    assert api("GET", "/ops/health", user="ops").status_code == 200

    state_dir = Path(local_stack["state_dir"])
    up_log = (state_dir / "up.log").read_text(encoding="utf-8", errors="replace")
    logs = [up_log] + [
        p.read_text(encoding="utf-8", errors="replace")
        for pattern in ("*.log", "*.jsonl")  # .jsonl: the functions' recorded AWS calls
        for p in sorted((state_dir / "logs").glob(pattern))
    ]
    # The scan reads the right files: the handlers' JSON lines with their correlation ids are there.
    assert '"correlation_id"' in up_log and '"message":"health checks run"' in up_log
    # THEN no seeded member's full name, email or IBAN, nor any probe value, is in any log
    values = pii_values(members) | {probe["email"], "Probeertje Logscanner", "Probeertje"}
    found = {v for text in logs for v in find_pii(text, values)}
    assert not found, f"PII in logs: {sorted(found)[:10]}"
