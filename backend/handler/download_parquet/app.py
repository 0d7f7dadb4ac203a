"""Member exports for readers: which exports they may read, and short-lived URLs to their files.

Only published exports (their manifest exists) are listed or served, and only the files
of the caller's regions: a regional user never gets a URL to another region's rows.
Names are validated before any S3 call, so nothing outside the export prefix is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import BadRequest, Forbidden, NotFound, create_resolver, require_caller
from hdcn_common.audit import AuditLog
from hdcn_common.auth import Caller
from hdcn_common.export_jobs import ExportJobs, decode_cursor
from hdcn_common.exports import Manifest, PartFile, is_export_id, list_published, read_manifest
from hdcn_common.settings import client, settings, table

logger = Logger()
metrics = Metrics()
app = create_resolver()
URL_SECONDS = 300  # presigned URLs live five minutes: enough to start a download, short if leaked


def _reader() -> Caller:
    caller = require_caller(app)
    if not caller.can_read_members:
        raise Forbidden("reading member exports needs a member role and a region")
    return caller


def _visible_files(manifest: Manifest, caller: Caller) -> list[PartFile]:
    # Rows without a known regio are only for callers who see every region.
    return list(manifest.files) if caller.all_regions else manifest.files_for(caller.regions)


@app.get("/analytics/exports")
def list_exports(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Published exports holding rows of the caller's regions, newest first."""
    caller = _reader()
    try:
        decode_cursor(cursor)
    except ValueError:
        raise BadRequest("bad cursor") from None
    cfg = settings()
    published = set(list_published(client("s3"), cfg.export_bucket))
    items, next_cursor = ExportJobs(table(cfg.export_jobs_table)).list(
        limit=limit, cursor=cursor, reconcile=False
    )
    exports = []
    for job in items:
        if job.get("state") != "succeeded" or job["job_id"] not in published:
            continue
        regions = {str(k): int(v) for k, v in (job.get("regions") or {}).items()}
        mine = regions if caller.all_regions else {k: v for k, v in regions.items() if k in caller.regions}
        if not mine:
            continue
        exports.append(
            {
                "export_id": job["job_id"],
                "created_at": job.get("created_at"),
                "finished_at": job.get("finished_at"),
                "options": job.get("options", {}),
                "rows": sum(mine.values()),
                "regions": mine,
            }
        )
    return {"exports": exports, "next_cursor": next_cursor}


@app.get("/analytics/download-parquet/<filename>")
def download_parquet(filename: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """Presigned URLs to the files of one export (`latest` or an export id), caller's regions only."""
    caller = _reader()
    if filename != "latest" and not is_export_id(filename):
        raise BadRequest("name an export id or 'latest'")
    cfg = settings()
    s3 = client("s3")
    candidates = list_published(s3, cfg.export_bucket) if filename == "latest" else [filename]
    for export_id in candidates:
        manifest = read_manifest(s3, cfg.export_bucket, export_id)
        if manifest is None:
            continue
        files = _visible_files(manifest, caller)
        if not files:
            continue
        urls = [
            {
                "regio": f.regio,
                "rows": f.rows,
                "bytes": f.bytes,
                "name": f.key.rsplit("/", 2)[-2] + "/" + f.key.rsplit("/", 1)[-1],
                "url": s3.generate_presigned_url(
                    "get_object", Params={"Bucket": cfg.export_bucket, "Key": f.key}, ExpiresIn=URL_SECONDS
                ),
            }
            for f in files
        ]
        # Logged before the links are handed out: who may now read which regions of which export.
        AuditLog(table(cfg.audit_table)).record(
            caller.username,
            "export.download",
            export_id,
            regions=sorted({f.regio for f in files}),
            rows=sum(f.rows for f in files),
        )
        logger.info("export download", extra={"export_id": export_id, "files": len(urls)})
        return {
            "export_id": export_id,
            "created_at": manifest.created_at,
            "options": manifest.options,
            "columns": manifest.columns,
            "rows": sum(f.rows for f in files),
            "expires_in": URL_SECONDS,
            "files": urls,
        }
    raise NotFound(
        "no published export with rows of your regions" if filename == "latest" else "no such export"
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
