"""Stack status and health check answers as rows and labels for the ops pages, free of Streamlit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

CheckStatus = Literal["pass", "fail", "warn", "not_applicable"]
CHECK_STATUSES: tuple[CheckStatus, ...] = ("pass", "fail", "warn", "not_applicable")
STATUS_LABEL: dict[CheckStatus, str] = {
    "pass": "Pass",
    "fail": "Fail",
    "warn": "Warn",
    "not_applicable": "Not applicable",
}
STATUS_ICON: dict[CheckStatus, str] = {
    "pass": ":material/check_circle:",
    "fail": ":material/cancel:",
    "warn": ":material/warning:",
    "not_applicable": ":material/block:",
}


def _first(item: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return None


def status_tone(status: str) -> Literal["good", "busy", "bad"]:
    """How a CloudFormation status reads: complete is good, in progress busy, failed or rolled back bad."""
    status = status.upper()
    if "FAILED" in status or "ROLLBACK" in status:
        return "bad"
    if status.endswith("_IN_PROGRESS"):
        return "busy"
    if status.endswith("_COMPLETE"):
        return "good"
    return "bad"


def status_css(status: Any) -> str:
    """Cell colour for a resource or event status."""
    tone = status_tone(str(status or ""))
    colour = {"good": "#1b7f3b", "busy": "#1f5fae", "bad": "#b3261e"}[tone]
    return f"color: {colour}; font-weight: 600"


def stack_summary(stack: dict[str, Any]) -> dict[str, str]:
    nested = stack.get("stack")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else stack
    return {
        "name": str(_first(inner, "stack_name", "name", "StackName") or "webshop-backend"),
        "status": str(_first(inner, "status", "stack_status", "StackStatus") or "UNKNOWN"),
        "reason": str(_first(inner, "reason", "status_reason", "StackStatusReason") or ""),
        "updated": str(_first(inner, "last_updated", "updated_at", "LastUpdatedTime", "creation_time") or ""),
    }


def resource_rows(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources as table rows: logical id, type, physical id, status, last updated."""
    return [
        {
            "logical_id": _first(r, "logical_id", "LogicalResourceId"),
            "type": _first(r, "type", "resource_type", "ResourceType"),
            "physical_id": _first(r, "physical_id", "PhysicalResourceId"),
            "status": _first(r, "status", "resource_status", "ResourceStatus"),
            "last_updated": str(_first(r, "last_updated", "LastUpdatedTimestamp", "timestamp") or ""),
        }
        for r in stack.get("resources") or []
    ]


def output_rows(stack: dict[str, Any]) -> list[dict[str, Any]]:
    outputs = stack.get("outputs") or {}
    if isinstance(outputs, dict):
        return [{"key": k, "value": v} for k, v in outputs.items()]
    return [
        {"key": _first(o, "key", "OutputKey"), "value": _first(o, "value", "OutputValue")} for o in outputs
    ]


def event_rows(stack: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "time": str(_first(e, "timestamp", "time", "Timestamp") or ""),
            "logical_id": _first(e, "logical_id", "LogicalResourceId"),
            "type": _first(e, "type", "resource_type", "ResourceType"),
            "status": _first(e, "status", "resource_status", "ResourceStatus"),
            "reason": _first(e, "reason", "status_reason", "ResourceStatusReason") or "",
        }
        for e in stack.get("events") or []
    ]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: CheckStatus
    detail: str
    fix: str | None


def _check_status(raw: Any) -> CheckStatus:
    text = str(raw or "").lower().replace(" ", "_").replace("-", "_")
    if text in ("pass", "passed", "ok"):
        return "pass"
    if text in ("warn", "warning"):
        return "warn"
    if text in ("not_applicable", "n/a", "na", "skip", "skipped"):
        return "not_applicable"
    return "fail"


def health_checks(report: Any) -> list[Check]:
    """The checks of a health answer, failures first."""
    items = report.get("checks", []) if isinstance(report, dict) else (report or [])
    checks = [
        Check(
            id=str(_first(c, "id", "check_id", "name") or "?"),
            title=str(_first(c, "title", "name", "id") or "?"),
            status=_check_status(c.get("status")),
            detail=str(_first(c, "detail", "details", "message", "reason") or ""),
            fix=_first(c, "fix", "remedy"),
        )
        for c in items
    ]
    order = {"fail": 0, "warn": 1, "pass": 2, "not_applicable": 3}
    return sorted(checks, key=lambda c: order[c.status])


def count_statuses(checks: list[Check]) -> dict[str, int]:
    return dict(Counter(c.status for c in checks))
