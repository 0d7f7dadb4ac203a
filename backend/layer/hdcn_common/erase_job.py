"""The erase job and the nightly retention job (run by the generator function, which has pyarrow).

An erase job takes a queued erasure (the member record is already gone or wiped), takes the
erase lock (one job rewrites exports at a time), takes the member out of every export and every
object version, and ends `done` or `failed`. The retention job finds members `Opgezegd` for more
than N years, reports them (ids and counts only) and, when told to apply, erases them the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hdcn_common.audit import AuditLog
from hdcn_common.erasure import ErasureNotActive, Erasures, remove_member_record
from hdcn_common.export_erasure import ErasureCounts, erase_from_exports, export_versions, purge_export
from hdcn_common.export_jobs import ExportJobs
from hdcn_common.exports import read_manifest
from hdcn_common.members import MemberRepository

log = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 120.0
FINISH_MARGIN_SECONDS = 30.0  # stop waiting for a running export while there is time to record why
REPORTS_PREFIX = "reports/retention/"


@dataclass
class JobDeps:
    """What the jobs touch: tables (boto3 Table resources), the S3 client and the bucket."""

    erasures: Erasures
    jobs: ExportJobs
    audit: AuditLog
    repo: MemberRepository
    s3: Any
    bucket: str
    sleep: Callable[[float], None] = time.sleep
    # Seconds left before the function's timeout (the Lambda context's), for waiting on a running export.
    remaining: Callable[[], float] = lambda: float("inf")


def _is_running_export(jobs: ExportJobs) -> Callable[[str], bool]:
    def running(export_id: str) -> bool:
        job = jobs.get(export_id)
        return job is not None and job.get("state") in ACTIVE_EXPORT

    return running


ACTIVE_EXPORT = ("queued", "running")


def _take_lock(deps: JobDeps, holder: str, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while not deps.erasures.acquire_lock(holder):
        if time.monotonic() > deadline:
            return False
        deps.sleep(1.0)
    return True


def run_erasure(
    deps: JobDeps, member_id: str, erasure_id: str, lock_wait: float = LOCK_WAIT_SECONDS
) -> dict[str, Any]:
    """One member's erase job; returns its final record (or a skip note for a duplicate delivery)."""
    try:
        deps.erasures.start(member_id, erasure_id)
    except ErasureNotActive:
        return {"erasure_id": erasure_id, "status": "skipped"}
    return _erase_exports(deps, [(member_id, erasure_id)], "erase-job", lock_wait)


def _erase_exports(
    deps: JobDeps, erasures: list[tuple[str, str]], actor: str, lock_wait: float
) -> dict[str, Any]:
    holder = erasures[0][1] if len(erasures) == 1 else f"retention-{int(time.time())}"
    member_ids = frozenset(m for m, _ in erasures)
    counts = ErasureCounts()
    status, error = "failed", None
    if not _take_lock(deps, holder, lock_wait):
        error = "another erase job kept the exports busy; ask for the erasure again"
    else:
        try:

            def progress(c: ErasureCounts) -> None:
                for m, e in erasures:
                    deps.erasures.progress(m, e, c.as_progress())

            running = _is_running_export(deps.jobs)
            counts = erase_from_exports(
                deps.s3, deps.bucket, member_ids, is_running=running, on_progress=progress
            )
            # An export that was being written is taken again once it has finished (published or not).
            while counts.running and deps.remaining() > FINISH_MARGIN_SECONDS:
                deps.sleep(2.0)
                finished = frozenset(e for e in counts.running if not running(e))
                if finished:
                    erase_from_exports(
                        deps.s3,
                        deps.bucket,
                        member_ids,
                        is_running=running,
                        on_progress=progress,
                        counts=counts,
                        only=finished,
                    )
            _recount_jobs(deps, counts.rewritten_ids)
            if counts.running:
                error = "an export was still being written when the erase job ran out of time; ask again"
            else:
                status = "done"
        except ErasureNotActive:
            error = "the erasure was marked failed while its job ran"
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "unknown")
            error = f"an AWS call failed ({code}); ask for the erasure again"
        except BotoCoreError:
            error = "an AWS service could not be reached; ask for the erasure again"
        except Exception as err:
            # Never the exception text: it may quote member data.
            error = f"the erase job failed ({type(err).__name__}); ask for the erasure again"
        finally:
            deps.erasures.release_lock(holder)
    for m, e in erasures:
        try:
            deps.erasures.finish(m, e, status, error)
        except ErasureNotActive:
            log.warning("erasure no longer active", extra={"erasure_id": e})
        deps.audit.record(
            actor,
            "member.erase.finished",
            m,
            erasure_id=e,
            status=status,
            exports_rewritten=counts.exports_rewritten,
            exports_withdrawn=counts.exports_withdrawn,
            versions_deleted=counts.versions_deleted,
            error=error,
        )
    log.info("erase job finished", extra={"status": status, "members": len(erasures), **counts.as_progress()})
    result = deps.erasures.latest(erasures[0][0]) or {}
    return {"erasure_id": erasures[0][1], "status": result.get("status", status), **counts.as_progress()}


def _recount_jobs(deps: JobDeps, export_ids: list[str]) -> None:
    """A rewritten export's job record shows the rows that are left (GET /analytics/exports reads it)."""
    for export_id in export_ids:
        manifest = read_manifest(deps.s3, deps.bucket, export_id)
        if manifest is None:
            continue
        regions: dict[str, int] = {}
        for f in manifest.files:
            regions[f.regio] = regions.get(f.regio, 0) + f.rows
        try:
            deps.jobs.table.update_item(
                Key={"job_id": export_id},
                UpdateExpression="SET #r = :rows, #rg = :regions, #f = :files, #b = :bytes",
                ConditionExpression="attribute_exists(job_id)",
                # rows, regions, files and bytes are DynamoDB reserved words.
                ExpressionAttributeNames={"#r": "rows", "#rg": "regions", "#f": "files", "#b": "bytes"},
                ExpressionAttributeValues={
                    ":rows": manifest.rows,
                    ":regions": regions,
                    ":files": len(manifest.files),
                    ":bytes": manifest.bytes,
                },
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


# ---------------------------------------------------------------- retention


@dataclass
class RetentionReport:
    """What a retention run found and did (ids and counts only)."""

    run_at: str
    mode: str
    years: int
    cutoff: str
    due: list[str] = field(default_factory=list)
    cannot_tell: list[str] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    exports_removed: list[str] = field(default_factory=list)
    versions_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_at": self.run_at,
            "mode": self.mode,
            "years": self.years,
            "cutoff": self.cutoff,
            "due": self.due,
            "cannot_tell": self.cannot_tell,
            "erased": self.erased,
            "failed": self.failed,
            "exports_removed": self.exports_removed,
            "versions_deleted": self.versions_deleted,
        }


def end_of_membership(item: dict[str, Any]) -> date | None:
    """The latest date an `Opgezegd` member can have left: their record's last change (`updated_at`).

    The catalogue has no date of leaving. Whoever set the status to Opgezegd changed the record, so
    its last change is on or after the day they left: a member whose record has not changed for N
    years has been Opgezegd for at least N years. This errs towards keeping data, never towards
    erasing early. Without a readable `updated_at` nobody can tell: reported, never erased.
    """
    raw = item.get("updated_at")
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def find_due_members(
    repo: MemberRepository, years: int, today: date
) -> tuple[list[dict[str, Any]], list[str]]:
    """(members Opgezegd for more than `years` years, ids of Opgezegd members whose end cannot be told)."""
    cutoff = _years_before(today, years)
    due: list[dict[str, Any]] = []
    unknown: list[str] = []
    kwargs: dict[str, Any] = {
        "FilterExpression": "#s = :opgezegd AND attribute_not_exists(erased_at)",
        "ProjectionExpression": "member_id, regio, #s, updated_at, email, version",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":opgezegd": "Opgezegd"},
    }
    while True:
        res = repo.members.scan(**kwargs)
        for item in res.get("Items", []):
            ended = end_of_membership(item)
            if ended is None:
                unknown.append(str(item["member_id"]))
            elif ended < cutoff:
                due.append(item)
        if not res.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]
    return due, sorted(unknown)


def run_retention(
    deps: JobDeps,
    *,
    years: int,
    apply: bool,
    mode: str,
    export_retention_days: int,
    today: date | None = None,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> RetentionReport:
    """Report (and with `apply`, erase) members past retention; remove exports past their retention."""
    today = today or datetime.now(UTC).date()
    now = datetime.now(UTC)
    report = RetentionReport(
        run_at=now.isoformat(timespec="seconds"),
        mode="apply" if apply else "dry-run",
        years=years,
        cutoff=_years_before(today, years).isoformat(),
    )
    due, report.cannot_tell = find_due_members(deps.repo, years, today)
    report.due = sorted(str(m["member_id"]) for m in due)
    # Exports past ExportRetentionDays: every version, delete markers too (the lifecycle rule only
    # expires current versions, and leaves noncurrent ones for days).
    oldest = (now - timedelta(days=export_retention_days)).strftime("%Y%m%dT%H%M%SZ")
    for export_id in sorted(export_versions(deps.s3, deps.bucket)):
        if export_id < oldest:
            if apply:
                report.versions_deleted += purge_export(deps.s3, deps.bucket, export_id)
            report.exports_removed.append(export_id)
    if apply and due:
        started: list[tuple[str, str]] = []
        for item in due:
            member_id = str(item["member_id"])
            erasure, created = deps.erasures.create(member_id, item.get("regio"), mode, "retention")
            if not created:
                continue  # an erasure of this member is already under way
            erasure_id = str(erasure["erasure_id"])
            try:
                deps.audit.record("retention", "member.erase", member_id, erasure_id=erasure_id, mode=mode)
                current = deps.repo.get(member_id)
                if current is not None:
                    remove_member_record(deps.repo, current, None, mode)
                deps.erasures.mark_removed(member_id, erasure_id)
                deps.erasures.start(member_id, erasure_id)
                started.append((member_id, erasure_id))
            except Exception as err:
                # Changed meanwhile, or AWS failed: this member waits for the next night.
                report.failed.append(member_id)
                reason = f"the retention job could not remove the record ({type(err).__name__})"
                with contextlib.suppress(ErasureNotActive):
                    deps.erasures.finish(member_id, erasure_id, "failed", reason)
        if started:
            _erase_exports(deps, started, "retention", lock_wait)
            for member_id, _ in started:
                latest = deps.erasures.latest(member_id) or {}
                (report.erased if latest.get("status") == "done" else report.failed).append(member_id)
    key = f"{REPORTS_PREFIX}{now:%Y%m%dT%H%M%SZ}.json"
    deps.s3.put_object(
        Bucket=deps.bucket,
        Key=key,
        Body=json.dumps(report.as_dict(), indent=1).encode(),
        ContentType="application/json",
    )
    deps.audit.record(
        "retention",
        "member.retention",
        key,
        mode=report.mode,
        due=len(report.due),
        cannot_tell=len(report.cannot_tell),
        erased=len(report.erased),
        failed=len(report.failed),
        exports_removed=len(report.exports_removed),
    )
    return report
