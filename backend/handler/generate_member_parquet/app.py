"""GenerateMemberParquetFunction (container image): run one member export job.

Invoked asynchronously by the API with `{"job_id": ...}` (the job is already queued and
holds the export lock), or by the nightly schedule with no job id (it then queues its
own job, and skips if an export is running). The job ends `succeeded` with what was
published, or `failed` with a readable reason and nothing visible in S3.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from hdcn_common.audit import AuditLog
from hdcn_common.erase_job import JobDeps, run_erasure, run_retention
from hdcn_common.erasure import Erasures, erasure_mode
from hdcn_common.export_jobs import ExportJobs, JobNotActive, JobRunning
from hdcn_common.exports import ExportOptions
from hdcn_common.member_export import discard_export, export_members, prune_exports
from hdcn_common.member_parquet import ExportFailed, install_raw_scan
from hdcn_common.members import MemberRepository
from hdcn_common.ops_metrics import record_export_finished, record_export_requested, stack_metrics
from hdcn_common.settings import client, settings, table

logger = Logger()
# Well inside EXPORT_STALE_SECONDS (template default 30): several beats may be missed before death.
HEARTBEAT_SECONDS = 5.0
# An erasure asked for up to this long before the export's job was created may still be in what the
# export read (the record is removed just after the erasure is written): leave those members out too.
ERASED_SINCE_MARGIN_SECONDS = 300
metrics = stack_metrics()  # namespace even where no template environment is set (tests)


@cache
def scan_client() -> Any:
    """A DynamoDB client of its own, made once per process.

    Its Scans return raw items (see install_raw_scan), and it makes fewer botocore attempts
    per call so the scan's own backoff loop keeps the job heartbeat going while throttled.
    """
    dynamodb = boto3.session.Session().client(
        "dynamodb", config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=30)
    )
    install_raw_scan(dynamodb)
    return dynamodb


class Heartbeat:
    """Beats for the job from a thread every few seconds while this process lives.

    A killed Lambda runs no more code, so a stale beat means a dead run; a thread (not
    the scan loop) beats, so one slow or throttled page is never mistaken for death.
    """

    def __init__(self, jobs: ExportJobs, job_id: str, every: float = HEARTBEAT_SECONDS) -> None:
        self.jobs, self.job_id, self.every = jobs, job_id, every
        self.rows = 0
        self.cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def progress(self, rows: int) -> None:
        """Called by the export after each page: record rows, stop if the job was failed meanwhile."""
        self.rows = rows
        if self.cancelled:
            raise JobNotActive(self.job_id)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.jobs.heartbeat(self.job_id, self.rows)
            except JobNotActive:
                self.cancelled = True
                return
            except Exception as err:
                # A missed beat is not fatal; the next one may get through.
                logger.warning(
                    "heartbeat failed", extra={"job_id": self.job_id, "error_type": type(err).__name__}
                )


def _run(job_id: str, context: Any) -> dict[str, Any]:
    cfg = settings()
    jobs = ExportJobs(table(cfg.export_jobs_table))
    try:
        job = jobs.start(job_id)
    except JobNotActive:
        # Already failed (stale), finished, or a duplicate delivery of the async event.
        logger.info("job is not queued; nothing to do", extra={"job_id": job_id})
        return {"job_id": job_id, "state": "skipped"}
    options = ExportOptions.from_dict(job.get("options")).as_dict()
    s3 = client("s3")
    state = "failed"
    started, rows = time.monotonic(), 0
    beat = Heartbeat(jobs, job_id)
    beat.start()
    try:
        manifest = export_members(
            dynamodb=scan_client(),
            s3=s3,
            bucket=cfg.export_bucket,
            members_table=cfg.members_table,
            export_id=job_id,
            options=options,
            created_at=str(job["created_at"]),
            today=date.today(),
            progress=beat.progress,
            remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000.0,
            erased_since=lambda: Erasures(table(cfg.export_jobs_table)).erased_since(
                _before(str(job["created_at"]), ERASED_SINCE_MARGIN_SECONDS)
            ),
        )
        # Prune while the job is still running: once it reads succeeded, a new trigger may take
        # the lock, and its folder must not look like a dead run's to this prune.
        try:
            pruned = prune_exports(s3, cfg.export_bucket, cfg.exports_to_keep, current=job_id)
            if pruned:
                logger.info("old exports pruned", extra={"pruned": pruned})
        except (ClientError, BotoCoreError) as err:
            # Not fatal: the lifecycle rule still expires old exports, and the next run prunes again.
            logger.warning("pruning old exports failed", extra={"error_type": type(err).__name__})
        regions: dict[str, int] = {}
        for f in manifest.files:
            regions[f.regio] = regions.get(f.regio, 0) + f.rows
        # The access log names every export made, before it reads succeeded: who asked, which
        # regions, how many members (the ids are in the export's own member list, too many for an
        # entry). An entry that cannot be written fails the job, whose export is then withdrawn.
        try:
            AuditLog(table(cfg.audit_table)).record(
                str(job.get("requested_by") or "schedule"),
                "export.generated",
                job_id,
                export_id=job_id,
                rows=manifest.rows,
                regions=sorted(regions),
                options=options,
            )
        except Exception:  # the log answers unavailable (its own error) or an AWS error
            discard_export(s3, cfg.export_bucket, job_id)
            raise
        try:
            jobs.succeed(
                job_id, manifest.rows, manifest.bytes, len(manifest.files), regions, manifest.unconverted
            )
        except JobNotActive:
            # Marked failed meanwhile (a stale heartbeat): withdraw the export so job and S3 agree.
            discard_export(s3, cfg.export_bucket, job_id)
            raise
        state, rows = "succeeded", manifest.rows
        logger.info(
            "export published",
            extra={
                "job_id": job_id,
                "rows": manifest.rows,
                "bytes": manifest.bytes,
                "files": len(manifest.files),
            },
        )
    except JobNotActive:
        logger.warning("job was marked failed while running; stopped", extra={"job_id": job_id})
    except ExportFailed as err:
        _fail(jobs, job_id, err.reason)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "unknown")
        logger.error("AWS call failed", extra={"job_id": job_id, "aws_error_code": code})
        _fail(jobs, job_id, f"an AWS call failed ({code}); no export was published")
    except BotoCoreError as err:
        logger.error("AWS unreachable", extra={"job_id": job_id, "error_type": type(err).__name__})
        _fail(jobs, job_id, "an AWS service could not be reached; no export was published")
    except Exception as err:
        # Never the exception text: it may quote member data.
        logger.error("export crashed", extra={"job_id": job_id, "error_type": type(err).__name__})
        _fail(jobs, job_id, f"the generator failed ({type(err).__name__}); no export was published")
    except BaseException as err:
        # Stopped from outside (a signal turned into an exception, e.g. the local stack stopping):
        # record why while AWS can still be reached, then let it end the process.
        _fail(jobs, job_id, f"the generator was stopped ({type(err).__name__}); no export was published")
        raise
    finally:
        beat.stop()
        jobs.release_lock(job_id)
        record_export_finished(metrics, rows, time.monotonic() - started, state == "succeeded")
    return {"job_id": job_id, "state": state}


def _before(iso: str, seconds: int) -> str:
    """An ISO time `seconds` earlier, in the same form the erasure records use."""
    moment = datetime.fromisoformat(iso) - timedelta(seconds=seconds)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _job_deps(context: Any) -> JobDeps:
    cfg = settings()
    return JobDeps(
        remaining=lambda: context.get_remaining_time_in_millis() / 1000.0,
        erasures=Erasures(table(cfg.export_jobs_table)),
        jobs=ExportJobs(table(cfg.export_jobs_table)),
        audit=AuditLog(table(cfg.audit_table)),
        repo=MemberRepository(table(cfg.members_table), table(cfg.member_keys_table)),
        s3=client("s3"),
        bucket=cfg.export_bucket,
    )


def _retention(request: Any, context: Any) -> dict[str, Any]:
    """The nightly retention run (schedule Input) or one by hand; dry-run unless told to apply."""
    request = request if isinstance(request, dict) else {}
    apply = request.get("apply")
    if apply is None:
        apply = os.environ.get("MEMBER_RETENTION_MODE", "dry-run") == "apply"
    report = run_retention(
        _job_deps(context),
        years=int(os.environ.get("MEMBER_RETENTION_YEARS", "2")),
        apply=bool(apply),
        mode=erasure_mode(),
        export_retention_days=int(os.environ.get("EXPORT_RETENTION_DAYS", "90")),
    )
    logger.info(
        "retention run",
        extra={"mode": report.mode, "due": len(report.due), "cannot_tell": len(report.cannot_tell)},
    )
    return {"retention": {k: v if isinstance(v, (str, int)) else len(v) for k, v in report.as_dict().items()}}


def _fail(jobs: ExportJobs, job_id: str, reason: str) -> None:
    with contextlib.suppress(JobNotActive):
        jobs.fail(job_id, reason)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and isinstance(event.get("erasure"), dict):
        # POST /members/{id}/erase: take that member out of every export (ids only in the event).
        erasure = event["erasure"]
        return run_erasure(_job_deps(context), str(erasure.get("member_id")), str(erasure.get("erasure_id")))
    if isinstance(event, dict) and "retention" in event:
        return _retention(event["retention"], context)
    job_id = event.get("job_id") if isinstance(event, dict) else None
    if not job_id:
        # The nightly schedule: queue a job of our own unless one is already running.
        jobs = ExportJobs(table(settings().export_jobs_table))
        try:
            job_id = str(jobs.create("schedule", ExportOptions(), trigger="schedule")["job_id"])
            record_export_requested(metrics, trigger="schedule")
        except JobRunning as running:
            logger.info("an export is running; nightly run skipped", extra={"job_id": running.job["job_id"]})
            return {"state": "skipped", "running_job": running.job["job_id"]}
    return _run(str(job_id), context)
