"""What CloudFormation says about the stack: status, resources, outputs, events, processed template.

Used by `GET /ops/stack`, the health checks and `hdcn status`, so all three read the
stack the same way. Only boto3 answers are read; nothing here changes the stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

ClientFactory = Callable[[str], Any]
EVENTS_SHOWN = 50


class StackResource(BaseModel):
    """One row of `describe_stack_resources`."""

    logical_id: str
    type: str
    physical_id: str | None
    status: str
    status_reason: str | None = None
    last_updated: str | None = None


class StackEvent(BaseModel):
    """One stack event, newest first."""

    timestamp: str | None
    logical_id: str
    type: str
    status: str
    reason: str | None = None


class StackSummary(BaseModel):
    """The answer of `GET /ops/stack`."""

    stack_name: str
    status: str
    status_reason: str | None
    created: str | None
    last_updated: str | None
    parameters: dict[str, str]
    outputs: dict[str, str]
    resources: list[StackResource]
    events: list[StackEvent]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def describe_stack(cfn: Any, stack_name: str) -> dict[str, Any]:
    """The `describe_stacks` entry of the stack (raises the client's ClientError if missing)."""
    stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return stack


def list_resources(cfn: Any, stack_name: str) -> list[StackResource]:
    """Every resource of the stack with its status (paginated, as `sam list resources` reads it)."""
    rows: list[StackResource] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for r in page.get("StackResourceSummaries", []):
            rows.append(
                StackResource(
                    logical_id=r.get("LogicalResourceId", ""),
                    type=r.get("ResourceType", ""),
                    physical_id=r.get("PhysicalResourceId") or None,
                    status=r.get("ResourceStatus", ""),
                    status_reason=r.get("ResourceStatusReason"),
                    last_updated=_iso(r.get("LastUpdatedTimestamp")),
                )
            )
    return rows


def recent_events(cfn: Any, stack_name: str, limit: int = EVENTS_SHOWN) -> list[StackEvent]:
    """The newest `limit` stack events."""
    events: list[StackEvent] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_name):
        for e in page.get("StackEvents", []):
            events.append(
                StackEvent(
                    timestamp=_iso(e.get("Timestamp")),
                    logical_id=e.get("LogicalResourceId", ""),
                    type=e.get("ResourceType", ""),
                    status=e.get("ResourceStatus", ""),
                    reason=e.get("ResourceStatusReason"),
                )
            )
            if len(events) >= limit:
                return events
    return events


def summarize(clients: ClientFactory, stack_name: str) -> StackSummary:
    """Status and reason, resources, outputs, parameters and the last 50 events of the stack."""
    cfn = clients("cloudformation")
    stack = describe_stack(cfn, stack_name)
    return StackSummary(
        stack_name=stack["StackName"],
        status=stack["StackStatus"],
        status_reason=stack.get("StackStatusReason"),
        created=_iso(stack.get("CreationTime")),
        last_updated=_iso(stack.get("LastUpdatedTime")),
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=list_resources(cfn, stack_name),
        events=recent_events(cfn, stack_name),
    )


def processed_template(cfn: Any, stack_name: str) -> dict[str, Any]:
    """The template CloudFormation deployed after the SAM transform (JSON; a dict or a string)."""
    body = cfn.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    if isinstance(body, str):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    return dict(body)
