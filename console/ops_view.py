"""Stack status and health check answers as rows and labels for the ops pages, free of Streamlit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from console import formats
from console.i18n import N_, t

CheckStatus = Literal["pass", "fail", "warn", "not_applicable"]
CHECK_STATUSES: tuple[CheckStatus, ...] = ("pass", "fail", "warn", "not_applicable")
STATUS_LABEL: dict[CheckStatus, str] = {  # message ids
    "pass": N_("health.status.pass"),
    "fail": N_("health.status.fail"),
    "warn": N_("health.status.warn"),
    "not_applicable": N_("health.status.not_applicable"),
}
# The checks the console runs itself (through its own API URL, as `hdcn health` does with
# HDCN_API_URL): inside the Lambda the stack's URL may not resolve, which is no fault of the stack.
CONSOLE_ENDPOINT_CHECKS = ("endpoint_health", "endpoint_authenticated")
CHECK_TITLES: dict[str, str] = {  # the checks `hdcn health` runs → their names (message ids)
    "stack_status": N_("check.stack_status"),
    "stack_resources": N_("check.stack_resources"),
    "functions_active": N_("check.functions_active"),
    "api_routes": N_("check.api_routes"),
    "endpoint_health": N_("check.endpoint_health"),
    "endpoint_authenticated": N_("check.endpoint_authenticated"),
    "generator_config": N_("check.generator_config"),
    "generator_image_tag": N_("check.generator_image_tag"),
    "generator_image_manifest": N_("check.generator_image_manifest"),
    "latest_export": N_("check.latest_export"),
    "alarms": N_("check.alarms"),
    "cold_starts": N_("check.cold_starts"),
}
TONE_LABEL: dict[str, str] = {
    "good": N_("stack.tone.good"),
    "busy": N_("stack.tone.busy"),
    "bad": N_("stack.tone.bad"),
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


def stack_sentence(summary: dict[str, str]) -> str:
    """The stack's state in one sentence: "Het systeem (webshop-backend) werkt: CREATE_COMPLETE"."""
    tone = status_tone(summary["status"])
    sentence = t(
        TONE_LABEL[tone], name=formats.md_escape(summary["name"]), status=formats.md_escape(summary["status"])
    )
    if summary["reason"] and tone != "good":
        sentence += " " + t("stack.reason", reason=formats.md_escape(summary["reason"]))
    return sentence


def resource_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources per status, failures first: the summary the Stack page opens with."""
    counts = Counter(str(r.get("status") or "UNKNOWN") for r in rows)
    order = {"bad": 0, "busy": 1, "good": 2}
    return [
        {"status": status, "tone": status_tone(status), "count": n}
        for status, n in sorted(counts.items(), key=lambda kv: (order[status_tone(kv[0])], kv[0]))
    ]


def failures_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a failed or busy status on top, then the rest in their order."""
    order = {"bad": 0, "busy": 1, "good": 2}
    return sorted(rows, key=lambda r: order[status_tone(str(r.get("status") or ""))])


def stack_summary(stack: dict[str, Any]) -> dict[str, str]:
    nested = stack.get("stack")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else stack
    return {
        "name": str(_first(inner, "stack_name", "name", "StackName") or "webshop-backend"),
        "status": str(_first(inner, "status", "stack_status", "StackStatus") or "UNKNOWN"),
        "reason": str(_first(inner, "reason", "status_reason", "StackStatusReason") or ""),
        "updated": formats.moment(
            _first(inner, "last_updated", "updated_at", "LastUpdatedTime", "creation_time")
        ),
    }


def resource_rows(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources as table rows: logical id, type, physical id, status, last updated."""
    return [
        {
            "logical_id": _first(r, "logical_id", "LogicalResourceId"),
            "type": _first(r, "type", "resource_type", "ResourceType"),
            "physical_id": _first(r, "physical_id", "PhysicalResourceId"),
            "status": _first(r, "status", "resource_status", "ResourceStatus"),
            "last_updated": formats.moment(_first(r, "last_updated", "LastUpdatedTimestamp", "timestamp")),
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
            "time": formats.moment(_first(e, "timestamp", "time", "Timestamp")),
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


def check_title(check: Check) -> str:
    """A check's name in the user's language (a check the catalogue does not know keeps its own)."""
    msgid = CHECK_TITLES.get(check.id)
    return t(msgid) if msgid else check.title


def with_console_endpoint_checks(checks: list[Check], own: dict[str, Check]) -> list[Check]:
    """The report with the endpoint checks the API could not run itself replaced by the console's own.

    `hdcn health` calls the API at the URL it is given; the OpsFunction only knows the stack's
    ApiUrl output, which may not resolve where it runs (locally it never does) and then reports
    "not applicable". The console reaches the API (it is talking to it), so it runs those two
    checks the same way and the page shows what `hdcn health` shows for the same stack.
    """
    merged = [own.get(c.id, c) if c.status == "not_applicable" else c for c in checks]
    order = {"fail": 0, "warn": 1, "pass": 2, "not_applicable": 3}
    return sorted(merged, key=lambda c: order[c.status])


def endpoint_check(check_id: str, path: str, status: int | None, error: str | None = None) -> Check:
    """The result of the console's own GET of `path` as a check (200 passes)."""
    title = t(CHECK_TITLES[check_id])
    if status == 200:
        return Check(check_id, title, "pass", t("health.endpoint_ok", path=path), None)
    detail = t("health.endpoint_failed", path=path, status=status if status is not None else error or "?")
    return Check(check_id, title, "fail", detail, t("health.endpoint_fix"))


def health_sentence(checks: list[Check]) -> tuple[Literal["good", "busy", "bad"], str]:
    """The health summary in one sentence and its tone."""
    counts = count_statuses(checks)
    values = {s: counts.get(s, 0) for s in CHECK_STATUSES}
    if values["fail"]:
        return "bad", t("health.summary.fail", **values)
    if values["warn"]:
        return "busy", t("health.summary.warn", **values)
    return "good", t("health.summary.pass", **values)
