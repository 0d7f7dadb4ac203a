"""GET /ops/stack and GET /ops/health: stack state and the deploy health checks (ops roles only)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import BadRequest, Forbidden, create_resolver, error_response, require_caller
from hdcn_common.audit import MAX_PERIOD_DAYS, AuditLog
from hdcn_common.health_checks import HealthConfig, HealthReport, run_checks
from hdcn_common.pagination import InvalidCursor, decode_cursor, encode_cursor
from hdcn_common.settings import client, settings, table
from hdcn_common.stack_info import StackSummary, summarize

logger = Logger()
metrics = Metrics()
app = create_resolver()


def _require_ops() -> None:
    """401 without a verified token, 403 without System_Logs_Read or System_CRUD."""
    if not require_caller(app).can_read_ops:
        raise Forbidden("needs System_Logs_Read or System_CRUD")


@app.get("/ops/stack")
def get_stack() -> StackSummary:
    """Stack status and reason, resources, outputs and the last 50 events."""
    _require_ops()
    return summarize(client, settings().stack_name)


@app.get("/ops/health")
def get_health_checks() -> HealthReport:
    """The deploy health checks, as `hdcn health` runs them."""
    _require_ops()
    env = os.environ
    config = HealthConfig(
        stack_name=settings().stack_name,
        # The caller's own (verified) token makes the authenticated read: this function holds none.
        token=app.current_event.headers.get("Authorization")
        or app.current_event.headers.get("authorization"),
        max_export_age_hours=float(env.get("OPS_MAX_EXPORT_AGE_HOURS", "168")),
        cold_start_threshold_ms=float(env.get("OPS_COLD_START_THRESHOLD_MS", "5000")),
    )
    report = run_checks(client, config)
    logger.info("health checks run", extra={"ok": report.ok, "counts": report.counts})
    return report


@app.get("/audit")
def get_audit(
    since: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    until: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    member: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """The access log, newest first: filters by user, action, member and period (default: last 7 days)."""
    _require_ops()
    today = datetime.now(UTC).date()
    try:
        last = datetime.fromisoformat(until).date() if until else today
        first = datetime.fromisoformat(since).date() if since else last - timedelta(days=6)
    except ValueError:
        raise BadRequest("since and until are dates: YYYY-MM-DD") from None
    if first > last or (last - first).days > MAX_PERIOD_DAYS:
        raise BadRequest(f"the period runs forward and spans at most {MAX_PERIOD_DAYS} days")
    position = decode_cursor(cursor, {"day": str, "entry": str}) if cursor else None
    if position is not None and set(position) != {"day", "entry"}:
        raise InvalidCursor("bad cursor")
    entries, following = AuditLog(table(settings().audit_table)).search(
        first, last, actor=user, action=action, member=member, limit=limit, cursor=position
    )
    return {
        "entries": [_plain(e) for e in entries],
        "next_cursor": encode_cursor(following) if following else None,
    }


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if hasattr(v, "to_integral_value") else v for k, v in entry.items()}


@app.exception_handler(InvalidCursor)
def _bad_cursor(_: InvalidCursor) -> Response[str]:
    return error_response(400, "bad_cursor", "the cursor is not one this API handed out")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
