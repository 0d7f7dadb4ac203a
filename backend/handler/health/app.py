"""GET /health: the API is up, which version and stage answer (public)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import create_resolver
from hdcn_common.settings import settings

logger = Logger()
metrics = Metrics()
app = create_resolver()


@app.get("/health")
def get_health() -> dict[str, str]:
    """Liveness of the request path gateway → function → response."""
    cfg = settings()
    return {"status": "ok", "service": "webshop-backend", "version": cfg.version, "stage": cfg.stage}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
