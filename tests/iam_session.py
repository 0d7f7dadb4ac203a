"""The IAM check of a session stack's recorded AWS calls, shared by the session fixture and its test.

moto checks no IAM policy, so the session stack records each function's AWS calls
(`--record-aws-calls`) and these helpers evaluate them against the function's policy from the
deployed stack's translated template (`backend.local.iam_check`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from backend.local.aws_calls import FILE_NAME, read_calls
from backend.local.deploy import ACCOUNT_ID
from backend.local.iam_check import StackContext, denials, function_policies
from backend.local.template import load_template


def _cloudformation(state: dict[str, Any]) -> Any:
    return boto3.client(
        "cloudformation",
        endpoint_url=state["aws_endpoint"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


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


def recorded_calls_and_policies(
    state: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any], StackContext]:
    """Every call the stack recorded so far, each function's policy, and the stack's context."""
    calls = read_calls(Path(state["state_dir"]) / "logs" / FILE_NAME)
    cfn = _cloudformation(state)
    name = state["stack_name"]
    ctx = stack_context(cfn, name, state["region"])
    body = cfn.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    return calls, function_policies(template, ctx), ctx


def denied_calls(state: dict[str, Any]) -> list[Any]:
    """The recorded calls AWS would refuse (AccessDenied) under the functions' policies."""
    calls, policies, ctx = recorded_calls_and_policies(state)
    return list(denials(calls, policies, ctx))
