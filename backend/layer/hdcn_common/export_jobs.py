"""The ExportJobs table: job records of member exports and the lock that keeps them one at a time.

A job is `queued` (written by the API) → `running` (the generator took it) →
`succeeded` or `failed`. One lock item (`job_id = lock#member-export`, outside the
`kind` index) is taken with a conditional write in the same transaction that
writes a new job, so two triggers can never start two exports. A killed Lambda runs
no more code, so a running job carries a heartbeat: whoever reads a job whose
heartbeat is older than `EXPORT_STALE_SECONDS` marks it failed and frees the lock.
A queued job has its own, longer limit (`EXPORT_QUEUED_STALE_SECONDS`): between the
API's asynchronous invoke and the generator's first beat lie Lambda's event queue and,
after a new image, a container cold start, which can take minutes.

The create transaction carries a `ClientRequestToken` of its own (the job id), so a
retry of a transaction that committed (botocore retries one whose answer timed out)
answers success again instead of failing on the lock this job itself took; and a
cancelled transaction is read by its `CancellationReasons`: only a failed condition on
the lock means "an export is running", a conflict or throttle is "try again".
Only boto3 and the standard library here: the generator image imports this module.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from hdcn_common.exports import EXPORT_KIND, ExportOptions, new_export_id

LOCK_ID = f"lock#{EXPORT_KIND}"
ACTIVE_STATES = ("queued", "running")
JOB_TTL_SECONDS = 180 * 86400
LOCK_TTL_SECONDS = 86400
DEFAULT_STALE_SECONDS = 30
DEFAULT_QUEUED_STALE_SECONDS = 600
CREATE_ATTEMPTS = 3
# Cancellation reasons that say nothing about the items, only that DynamoDB was busy (try again).
_TRANSIENT_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


class JobRunning(Exception):
    """Another export holds the lock; `job` is its (public) record."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__("an export is already running")
        self.job = job


class JobNotActive(Exception):
    """The job is no longer queued/running (it was marked failed, e.g. for a stale heartbeat)."""


class JobsBusy(Exception):
    """The create transaction was cancelled by conflicts or throttling each time: not a running export."""


def _seconds_from_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def stale_after_seconds() -> int:
    """Heartbeat age after which a running job counts as dead (template Globals)."""
    return _seconds_from_env("EXPORT_STALE_SECONDS", DEFAULT_STALE_SECONDS)


def queued_stale_after_seconds() -> int:
    """Age after which a queued job that no generator took counts as dead (template Globals)."""
    return _seconds_from_env("EXPORT_QUEUED_STALE_SECONDS", DEFAULT_QUEUED_STALE_SECONDS)


def cancellation_codes(err: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction, in TransactItems order ([] if none given)."""
    reasons = err.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals as int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (no lock bookkeeping, numbers as numbers)."""
    job = _plain(item)
    return {
        "job_id": job["job_id"],
        "state": job.get("state"),
        "requested_by": job.get("requested_by"),
        "trigger": job.get("trigger", "api"),
        "options": job.get("options", {}),
        "created_at": job.get("created_at"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "duration_seconds": job.get("duration_seconds"),
        "rows_so_far": job.get("rows_so_far", 0),
        "rows": job.get("rows"),
        "bytes": job.get("bytes"),
        "files": job.get("files"),
        "regions": job.get("regions"),
        "unconverted": job.get("unconverted", {}),
        "error": job.get("error"),
    }


def view_for(
    job: dict[str, Any], username: str, regions: frozenset[str], all_regions: bool
) -> dict[str, Any]:
    """A job's public view as a caller may see it: a regional caller sees their regions only.

    Every exporter sees every job (one export runs at a time, so they must know why theirs
    waits), but a caller without every region gets only their regions' counts, no totals that
    add up the other regions, no other region named in the options, and no other user's name.
    """
    view = public_view(job)
    if all_regions:
        return view
    if view["requested_by"] != username:
        view["requested_by"] = None
    options = dict(view["options"] or {})
    if options.get("regio") is not None and options["regio"] not in regions:
        options.pop("regio")
    view["options"] = options
    counts = view["regions"]
    if isinstance(counts, dict):
        view["regions"] = {r: n for r, n in counts.items() if r in regions}
        view["rows"] = sum(view["regions"].values()) if view["rows"] is not None else None
    else:
        view["rows"] = None
    # Progress, size and file count are totals over every region; none can be split per region.
    view["rows_so_far"] = None
    view["bytes"] = None
    view["files"] = None
    return view


def _is_conditional_failure(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(key)).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """An opaque cursor back into a LastEvaluatedKey of the kind index; ValueError if forged."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise ValueError("bad cursor") from err
    if (
        not isinstance(key, dict)
        or set(key) != {"job_id", "kind", "created_at"}
        or not all(isinstance(v, str) for v in key.values())
        or key["kind"] != EXPORT_KIND
    ):
        raise ValueError("bad cursor")
    return key


def _new_job(
    requested_by: str, options: ExportOptions, trigger: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A queued job record and the lock item naming it (not yet written)."""
    job_id = new_export_id()
    now = time.time()
    item = {
        "job_id": job_id,
        "kind": EXPORT_KIND,
        "created_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "requested_by": requested_by,
        "trigger": trigger,
        "options": options.as_dict(),
        "state": "queued",
        "rows_so_far": 0,
        "heartbeat_at": Decimal(int(now)),
        "expires_at": Decimal(int(now) + JOB_TTL_SECONDS),
    }
    lock = {
        "job_id": LOCK_ID,
        "holder": job_id,
        "acquired_at": Decimal(int(now)),
        "expires_at": Decimal(int(now) + LOCK_TTL_SECONDS),
    }
    return item, lock


class ExportJobs:
    """Repository over the ExportJobs table (a boto3 Table resource)."""

    def __init__(
        self, table: Any, stale_seconds: int | None = None, queued_stale_seconds: int | None = None
    ) -> None:
        self.table = table
        self.stale_seconds = stale_seconds if stale_seconds is not None else stale_after_seconds()
        self.queued_stale_seconds = (
            queued_stale_seconds if queued_stale_seconds is not None else queued_stale_after_seconds()
        )

    # ------------------------------------------------------------ create / read
    def create(self, requested_by: str, options: ExportOptions, trigger: str = "api") -> dict[str, Any]:
        """Write a queued job and take the lock in one transaction.

        JobRunning if another export holds the lock; JobsBusy if DynamoDB cancelled every
        attempt for conflicts or throttling (nothing is running because of this call).
        """
        item, lock = _new_job(requested_by, options, trigger)
        busy = 0  # attempts cancelled only for conflicts or throttling: they say nothing about the lock
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            job_id = str(item["job_id"])
            try:
                self._transact_create(lock, item)
                return item
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code not in ("TransactionCanceledException", "TransactionInProgressException"):
                    raise
                reasons = cancellation_codes(err)
            holder = self._lock_holder()
            if holder == job_id:
                # This very job holds the lock: an earlier attempt of this call committed and its
                # answer was lost (a replay without the token's protection). It is the first answer.
                return self.get(job_id, reconcile=False) or item
            if code == "TransactionInProgressException":
                # This transaction (same token) is still being applied: ask again, same job, same token.
                busy += 1
                time.sleep(0.1 * attempt)
                continue
            # A cancelled transaction wrote nothing: any retry is a new job with a token of its own.
            item, lock = _new_job(requested_by, options, trigger)
            if any(r in _TRANSIENT_REASONS for r in reasons):
                busy += 1
                time.sleep(0.05 * attempt)  # a conflicting writer or throttling: not an export running
                continue
            if reasons and reasons[0] != "ConditionalCheckFailed":
                continue  # not the lock (e.g. a job id collision on the second item): a new id
            # The lock is held: by a live job (refuse), or by a dead or finished one (free it, retry).
            if holder is None:
                continue
            job = self.get(holder)
            if job is not None and job.get("state") in ACTIVE_STATES:
                raise JobRunning(public_view(job))
            self.release_lock(holder)
        # Every attempt lost: to someone else starting an export right now, or to a busy table.
        holder = self._lock_holder()
        if holder is None or busy == CREATE_ATTEMPTS:
            raise JobsBusy("the export could not be queued: DynamoDB was busy; try again")
        job = self.get(holder)
        raise JobRunning(public_view(job) if job else {"job_id": holder, "state": "queued"})

    def _transact_create(self, lock: dict[str, Any], item: dict[str, Any]) -> None:
        name = self.table.name
        self.table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": lock,
                        "ConditionExpression": "attribute_not_exists(job_id)",
                    }
                },
                {
                    "Put": {
                        "TableName": name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(job_id)",
                    }
                },
            ],
            # One token per logical write (this job): botocore's retries of this call send it again,
            # and DynamoDB answers a repeat of a committed transaction with success, not a conflict.
            ClientRequestToken=str(item["job_id"]),
        )

    def _lock_holder(self) -> str | None:
        item = self.table.get_item(Key={"job_id": LOCK_ID}, ConsistentRead=True).get("Item")
        return str(item["holder"]) if item else None

    def get(self, job_id: str, reconcile: bool = True) -> dict[str, Any] | None:
        """A job record; an active job with a stale heartbeat is marked failed first."""
        item: dict[str, Any] | None = self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get(
            "Item"
        )
        if item is None or item.get("kind") != EXPORT_KIND:
            return None
        if reconcile and self.is_stale(item):
            if item.get("state") == "queued":
                reason = (
                    f"the generator did not start within {self.queued_stale_seconds} s of the request "
                    "(it could not be invoked or its container did not start); nothing was exported"
                )
            else:
                reason = (
                    f"the generator stopped without finishing (no heartbeat for over {self.stale_seconds} s):"
                    " it was killed, timed out or crashed; no partial export was published"
                )
            # JobNotActive: it finished (or another reader failed it) a moment ago.
            with contextlib.suppress(JobNotActive):
                self.fail(job_id, reason)
            self.release_lock(job_id)
            item = self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item") or item
        return item

    def is_stale(self, item: dict[str, Any]) -> bool:
        """Whether an active job is dead: queued past the queued limit, or running without a beat."""
        state = item.get("state")
        if state not in ACTIVE_STATES:
            return False
        limit = self.queued_stale_seconds if state == "queued" else self.stale_seconds
        beat = float(item.get("heartbeat_at", 0))
        return time.time() - beat > limit

    def list(
        self, limit: int = 20, cursor: str | None = None, reconcile: bool = True
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Jobs newest first, one page; the cursor is opaque to clients."""
        kwargs: dict[str, Any] = {
            "IndexName": "kind-created-index",
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":k": EXPORT_KIND},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor)
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.table.query(**kwargs)
        items = [
            (self.get(i["job_id"]) or i) if reconcile and self.is_stale(i) else i
            for i in resp.get("Items", [])
        ]
        return items, _encode_cursor(resp.get("LastEvaluatedKey"))

    # ------------------------------------------------------------ generator side
    def start(self, job_id: str) -> dict[str, Any]:
        """queued → running; JobNotActive if the job is gone, finished or already taken."""
        now = time.time()
        try:
            resp = self.table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #s = :running, started_at = :iso, heartbeat_at = :now",
                ConditionExpression="#s = :queued",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":running": "running",
                    ":queued": "queued",
                    ":iso": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
                    ":now": Decimal(int(now)),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise JobNotActive(job_id) from err
            raise
        attributes: dict[str, Any] = resp["Attributes"]
        return attributes

    def heartbeat(self, job_id: str, rows_so_far: int) -> None:
        """Progress and liveness; JobNotActive if someone marked the job failed meanwhile."""
        try:
            self.table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET rows_so_far = :rows, heartbeat_at = :now",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":rows": rows_so_far,
                    ":now": Decimal(int(time.time())),
                    ":running": "running",
                },
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise JobNotActive(job_id) from err
            raise

    def succeed(
        self,
        job_id: str,
        rows: int,
        size: int,
        files: int,
        regions: dict[str, int],
        unconverted: dict[str, int] | None = None,
    ) -> None:
        """running → succeeded, with what was published (and per column, values that did not convert)."""
        self._finish(
            job_id,
            "succeeded",
            {":rows": rows, ":bytes": size, ":files": files, ":regions": regions, ":unc": unconverted or {}},
            "#r = :rows, #b = :bytes, #f = :files, #rg = :regions, unconverted = :unc",
            only_if_active=True,
        )

    def fail(self, job_id: str, reason: str, only_if_active: bool = True) -> None:
        """→ failed with a readable reason (never AWS error text or member data)."""
        self._finish(job_id, "failed", {":error": reason}, "#e = :error", only_if_active=only_if_active)

    def _finish(
        self, job_id: str, state: str, values: dict[str, Any], extra_set: str, only_if_active: bool
    ) -> None:
        now = time.time()
        item = self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item") or {}
        started = item.get("started_at")
        duration = None
        if started:
            duration = Decimal(str(round(now - datetime.fromisoformat(str(started)).timestamp(), 3)))
        kwargs: dict[str, Any] = {
            "Key": {"job_id": job_id},
            "UpdateExpression": f"SET #s = :state, finished_at = :iso, duration_seconds = :dur, {extra_set}",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":state": state,
                ":iso": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
                ":dur": duration,
                **values,
            },
        }
        if "#b" in extra_set:
            # rows, bytes and files are DynamoDB reserved words.
            kwargs["ExpressionAttributeNames"].update(
                {"#r": "rows", "#b": "bytes", "#f": "files", "#rg": "regions"}
            )
        if "#e" in extra_set:
            kwargs["ExpressionAttributeNames"]["#e"] = "error"
        if only_if_active:
            kwargs["ConditionExpression"] = "#s IN (:queued, :running)"
            kwargs["ExpressionAttributeValues"].update({":queued": "queued", ":running": "running"})
        try:
            self.table.update_item(**kwargs)
        except ClientError as err:
            if _is_conditional_failure(err):
                raise JobNotActive(job_id) from err
            raise

    def release_lock(self, job_id: str) -> None:
        """Free the lock if `job_id` holds it (never someone else's)."""
        try:
            self.table.delete_item(
                Key={"job_id": LOCK_ID},
                ConditionExpression="holder = :h",
                ExpressionAttributeValues={":h": job_id},
            )
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
