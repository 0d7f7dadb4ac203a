"""Every AWS call a function made on the local stack is allowed by that function's IAM policy.

moto checks no IAM policy: a function calling beyond its role works locally and fails on AWS
with AccessDenied. The session stack records each function's AWS operations
(`--record-aws-calls`, `backend.local.aws_calls`); this test first takes every route itself
(so it stands alone), then evaluates every call recorded in the session so far against the
function's policy from the deployed stack's translated template (`backend.local.iam_check`).
Calls made after it (its file name no longer says when it runs once the suite runs in parallel
workers) are checked by the session fixture when its stack stops (`tests/conftest.py`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from backend.local.iam_check import denials
from tests.iam_session import recorded_calls_and_policies
from tests.integration.test_members_api import new_member
from tests.integration.test_products_api import new_product

pytestmark = pytest.mark.integration
Api = Callable[..., requests.Response]


def _tour(api: Api) -> None:
    """Every route, by a caller allowed to take it: each function makes its AWS calls."""
    assert api("GET", "/health").status_code == 200
    member = api("POST", "/members", user="staff", json=new_member()).json()
    path = f"/members/{member['member_id']}"
    assert api("GET", path, user="staff").status_code == 200
    assert api("GET", f"{path}/data-export", user="staff").status_code == 200
    assert api("GET", "/members", user="staff", params={"limit": 5}).status_code == 200
    assert api("PUT", path, user="staff", json={"woonplaats": "Utrecht", "version": 1}).status_code == 200
    assert api("DELETE", path, user="staff", params={"version": 2}).status_code in (200, 204)
    product = api("POST", "/products", user="staff", json=new_product()).json()
    product_path = f"/products/{product['product_id']}"
    assert api("GET", product_path).status_code == 200
    assert api("GET", "/products").status_code == 200
    api("PUT", product_path, user="staff", json={"stock": 2, "version": 1})
    api("DELETE", product_path, user="staff", params={"version": 2})
    started = api("POST", "/analytics/generate-parquet", user="staff", json={})
    assert started.status_code in (202, 409), started.text
    body = started.json()
    job_id = (
        body["job_id"] if started.status_code == 202 else body["error"]["details"]["running_job"]["job_id"]
    )
    deadline = time.monotonic() + 120  # a wait for the export, not a timing assertion
    while api("GET", f"/analytics/jobs/{job_id}", user="staff").json().get("state") in ("queued", "running"):
        assert time.monotonic() < deadline, "the export did not end"
        time.sleep(0.5)
    assert api("GET", "/analytics/jobs", user="staff").status_code == 200
    assert api("GET", "/analytics/exports", user="admin").status_code == 200
    download = api("GET", "/analytics/download-parquet/latest", user="admin")
    assert download.status_code == 200, download.text
    # the presigned link is fetched as the function that signed it (its role must allow GetObject)
    assert requests.get(download.json()["files"][0]["url"], timeout=30).status_code == 200
    assert api("GET", "/ops/stack", user="ops").status_code == 200
    assert api("GET", "/ops/health", user="ops").status_code == 200
    assert api("GET", "/audit", user="ops").status_code == 200
    name = f"iam-{uuid.uuid4().hex[:10]}"
    invite = {"username": name, "email": f"{name}@example.nl", "groups": ["Members_Read", "Regio_Utrecht"]}
    assert api("POST", "/users", user="root", json=invite).status_code == 201
    assert api("GET", "/users", user="root").status_code == 200
    changed = api("PUT", f"/users/{name}/groups", user="root", json={"groups": ["Members_Read"]})
    assert changed.status_code == 200
    for action in ("disable", "enable", "reset-password"):
        assert api("POST", f"/users/{name}/{action}", user="root").status_code == 200
    assert api("DELETE", f"/users/{name}", user="root").status_code == 204


def test_every_recorded_aws_call_is_allowed_by_the_functions_policy(
    api: Api, local_stack: dict[str, Any]
) -> None:
    # GIVEN every route taken, and the calls of the whole session recorded by function
    _tour(api)
    calls, policies, ctx = recorded_calls_and_policies(local_stack)
    # THEN every function of the stack made calls (the recording works, presigned URLs included)
    assert {c["function"] for c in calls} >= set(policies) - {"HealthFunction"}
    assert any(c.get("presigned") for c in calls)
    # WHEN each call's IAM actions and resources are evaluated against its function's policy
    denied = denials(calls, policies, ctx)
    # THEN none would be refused by AWS
    assert not denied, "AWS would refuse (AccessDenied):\n" + "\n".join(str(d) for d in denied)
