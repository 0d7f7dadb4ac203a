"""GET /ops/stack and GET /ops/health: stack state and the deploy health checks (ops roles only)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import Forbidden, create_resolver, require_caller
from hdcn_common.health_checks import HealthConfig, HealthReport, run_checks
from hdcn_common.settings import client, settings
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
