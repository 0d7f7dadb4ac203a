"""Member exports for readers: GET /analytics/exports (more routes come with the export issue)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from hdcn_common.api import Forbidden, create_resolver, require_caller
from hdcn_common.settings import settings, table

logger = Logger()
metrics = Metrics()
app = create_resolver()
EXPORT_KIND = "member-export"


@app.get("/analytics/exports")
def list_exports() -> dict[str, Any]:
    """Published exports, newest first, for callers who may read member data."""
    caller = require_caller(app)
    if not caller.can_read_members:
        raise Forbidden("reading member exports needs a member role and a region")
    resp = table(settings().export_jobs_table).query(
        IndexName="kind-created-index",
        KeyConditionExpression=Key("kind").eq(EXPORT_KIND),
        ScanIndexForward=False,
        Limit=100,
    )
    exports = [
        {"export_id": i["job_id"], "created_at": i["created_at"], "rows": int(i.get("rows", 0))}
        for i in resp.get("Items", [])
        if i.get("state") == "succeeded"
    ]
    return {"exports": exports}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
