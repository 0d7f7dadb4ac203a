"""ExportJobsFunction: start member exports and follow their jobs.

POST /analytics/generate-parquet queues a job (one at a time: a second trigger gets 409
naming the running job; a transaction cancelled by conflicts or throttling is a 503, never a
409) and invokes the generator asynchronously, so it answers at once
whatever the table size. GET /analytics/jobs/{job_id} and GET /analytics/jobs show state,
progress and the reason of a failure; reading a job whose generator stopped heartbeating
marks it failed.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from hdcn_common.api import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    create_resolver,
    require_caller,
)
from hdcn_common.audit import AuditLog
from hdcn_common.auth import Caller
from hdcn_common.enums import Regio
from hdcn_common.export_jobs import ExportJobs, JobNotActive, JobRunning, JobsBusy, view_for
from hdcn_common.exports import ExportOptions, is_export_id
from hdcn_common.ops_metrics import record_export_requested
from hdcn_common.settings import client, settings, table
from pydantic import BaseModel, ConfigDict

logger = Logger()
metrics = Metrics()
app = create_resolver()


class ExportRequest(BaseModel):
    """Body of POST /analytics/generate-parquet (all optional)."""

    model_config = ConfigDict(extra="forbid")

    active_only: bool = False
    regio: Regio | None = None
    anonymize: bool = False


def _exporter() -> Caller:
    caller = require_caller(app)
    if not caller.can_export:
        raise Forbidden("exports need Members_Export or Members_CRUD and a region")
    return caller


def _view(job: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A job as this caller may see it (regional callers: their regions only)."""
    return view_for(job, caller.username, caller.regions, caller.all_regions)


def _jobs() -> ExportJobs:
    return ExportJobs(table(settings().export_jobs_table))


@app.post("/analytics/generate-parquet", status_code=202)
def generate_parquet(request: ExportRequest | None = None) -> tuple[dict[str, Any], int]:
    """Queue an export job and start the generator; 202 with the job."""
    caller = _exporter()
    request = request or ExportRequest()
    if request.regio is not None and not caller.may_see_region(request.regio.value):
        raise Forbidden("you may not export members of that region")
    options = ExportOptions(
        active_only=request.active_only,
        regio=request.regio.value if request.regio else None,
        anonymize=request.anonymize,
    )
    jobs = _jobs()
    AuditLog(table(settings().audit_table)).record(
        caller.username, "export.request", options.regio or "all regions", options=options.as_dict()
    )
    try:
        job = jobs.create(caller.username, options)
    except JobRunning as running:
        raise Conflict(
            f"export {running.job['job_id']} is still running; wait for it to finish",
            details={"running_job": _view(running.job, caller)},
            code="export_running",
        ) from None
    except JobsBusy:
        # Conflicts or throttling cancelled the transaction: nothing runs, so not a 409.
        raise ServiceUnavailable("the export could not be queued right now; try again shortly") from None
    job_id = str(job["job_id"])
    try:
        client("lambda").invoke(
            FunctionName=settings().generator_function,
            InvocationType="Event",
            Payload=json.dumps({"job_id": job_id}).encode(),
        )
    except (ClientError, BotoCoreError) as err:
        # The job must not hold the lock for an export that never starts.
        logger.error("generator invoke failed", extra={"job_id": job_id, "error_type": type(err).__name__})
        with contextlib.suppress(JobNotActive):
            jobs.fail(job_id, "the export generator could not be started; try again")
        jobs.release_lock(job_id)
        raise ServiceUnavailable("the export generator could not be started; try again shortly") from None
    record_export_requested(metrics)
    logger.info("export queued", extra={"job_id": job_id})
    return _view(job, caller), 202


@app.get("/analytics/jobs/<job_id>")
def get_job(job_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """One job: state, progress, counts, timings and a readable error."""
    caller = _exporter()
    if not is_export_id(job_id):
        raise BadRequest("not a job id")
    job = _jobs().get(job_id)
    if job is None:
        raise NotFound("no such job")
    return _view(job, caller)


@app.get("/analytics/jobs")
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Job history, newest first, paginated with an opaque cursor."""
    caller = _exporter()
    try:
        items, next_cursor = _jobs().list(limit=limit, cursor=cursor)
    except ValueError:
        raise BadRequest("bad cursor") from None
    return {"jobs": [_view(i, caller) for i in items], "next_cursor": next_cursor}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
