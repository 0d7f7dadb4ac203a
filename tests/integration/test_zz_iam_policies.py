"""Every AWS call a function made on the local stack is allowed by that function's IAM policy.

moto checks no IAM policy: a function calling beyond its role works locally and fails on AWS
with AccessDenied. The session stack records each function's AWS operations
(`--record-aws-calls`, `backend.local.aws_calls`); this test first takes every route itself
(so it stands alone), then evaluates every call recorded in the session so far (it is named to
run last in this folder, after the other tests' calls) against the function's policy from the
deployed stack's translated template (`backend.local.iam_check`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.local.aws_calls import FILE_NAME, read_calls
from backend.local.deploy import ACCOUNT_ID
from backend.local.iam_check import StackContext, denials, function_policies
from backend.local.template import load_template
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


def stack_context(cfn: Any, stack_name: str, region: str) -> StackContext:
    """The deployed stack's parameters (defaults included), physical ids and types."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    parameters = {k: str(v.get("Default", "")) for k, v in load_template().get("Parameters", {}).items()}
    parameters.update({p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])})
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    return StackContext(
        region=region,
        account_id=ACCOUNT_ID,
        stack_name=stack_name,
        stack_id=stack["StackId"],
        parameters=parameters,
        physical_ids={
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in resources
            if r.get("LogicalResourceId")
        },
        resource_types={
            r["LogicalResourceId"]: r["ResourceType"] for r in resources if r.get("LogicalResourceId")
        },
    )


def test_every_recorded_aws_call_is_allowed_by_the_functions_policy(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # GIVEN every route taken, and the calls of the whole session recorded by function
    _tour(api)
    calls = read_calls(Path(local_stack["state_dir"]) / "logs" / FILE_NAME)
    cfn = aws("cloudformation")
    name = local_stack["stack_name"]
    ctx = stack_context(cfn, name, local_stack["region"])
    body = cfn.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    policies = function_policies(template, ctx)
    # THEN every function of the stack made calls (the recording works, presigned URLs included)
    assert {c["function"] for c in calls} >= set(policies) - {"HealthFunction"}
    assert any(c.get("presigned") for c in calls)
    # WHEN each call's IAM actions and resources are evaluated against its function's policy
    denied = denials(calls, policies, ctx)
    # THEN none would be refused by AWS
    assert not denied, "AWS would refuse (AccessDenied):\n" + "\n".join(str(d) for d in denied)
