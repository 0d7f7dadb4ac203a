"""Erasure of a member (AVG article 17): the record, then every export that holds them.

One erasure record per member (`job_id = erasure#<member_id>`, the latest one) lives in the
ExportJobs table beside the export jobs, with `kind = member-erasure` in the table's
`kind-created-index`, so a running export can ask which members were erased since it began.
It stores the member's region, so the region check still works once the record is gone.

The API (or the retention job) writes the erasure `queued`, removes or wipes the member record
at once (so no read, list or search shows it from then on), and starts the erase job in the
generator function, which rewrites or withdraws the exports (`export_erasure.py`).
Only boto3 and the standard library here: the generator image imports this module.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from hdcn_common.members import MemberRepository, email_key, now_timestamp, version_of
from hdcn_common.records import VersionConflict, cancellation_codes

ERASURE_KIND = "member-erasure"
MODES = ("delete", "wipe")
DEFAULT_MODE = "delete"
ACTIVE = ("queued", "running")
# A running erase job beats every few seconds; a queued one waits for an async invoke and, after a new
# image, a container cold start (minutes). Past this the job is dead and a new request may start one.
STALE_SECONDS = 900
# What a wipe keeps: the identifiers and the membership history (when and how someone was a member),
# which the club needs for its counts and so a lidnummer is never handed out twice. Every other stored
# attribute, catalogue or not, is removed: names, contact, address, birth date, gender, motor,
# bank account, preferences, notes, and fields the catalogue does not know (they may be personal).
WIPE_KEEPS = frozenset(
    {
        "member_id",
        "lidnummer",
        "regio",
        "status",
        "lidmaatschap",
        "ingangsdatum",
        "aanmeldingsjaar",
        "datum_ondertekening",
        "created_at",
        "updated_at",
        "version",
    }
)
ERASE_LOCK_ID = "lock#member-erasure"


class ErasureNotActive(Exception):
    """The erasure is not (any longer) in the state the caller expected."""


def erasure_mode() -> str:
    """The club's choice (template parameter ErasureMode): `delete` or `wipe`."""
    mode = os.environ.get("ERASURE_MODE", DEFAULT_MODE)
    return mode if mode in MODES else DEFAULT_MODE


def erasure_key(member_id: str) -> str:
    return f"erasure#{member_id}"


def _iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if moment is None else moment, UTC).isoformat(
        timespec="milliseconds"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


COUNTERS = ("exports_total", "exports_done", "exports_rewritten", "exports_withdrawn", "versions_deleted")


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """An erasure as the API shows it (the contract in openapi.json)."""
    return {
        "erasure_id": item.get("erasure_id"),
        "member_id": item.get("member_id"),
        "mode": item.get("mode"),
        "status": item.get("status"),
        "requested_by": item.get("requested_by"),
        "requested_at": item.get("created_at"),
        "finished_at": item.get("finished_at"),
        **{c: _plain(item.get(c, 0)) for c in COUNTERS},
        "error": item.get("error"),
    }


class Erasures:
    """Repository of erasure records (a boto3 Table resource on the ExportJobs table)."""

    def __init__(self, table: Any, stale_seconds: int = STALE_SECONDS) -> None:
        self.table = table
        self.stale_seconds = stale_seconds

    def latest(self, member_id: str) -> dict[str, Any] | None:
        """The member's latest erasure; an active one whose job died reads (and is marked) failed."""
        item: dict[str, Any] | None = self.table.get_item(
            Key={"job_id": erasure_key(member_id)}, ConsistentRead=True
        ).get("Item")
        if item and item.get("status") in ACTIVE and self._is_stale(item):
            with contextlib.suppress(ErasureNotActive):
                self.finish(
                    member_id,
                    str(item["erasure_id"]),
                    "failed",
                    "the erase job stopped without finishing; ask for the erasure again",
                )
            item = self.table.get_item(Key={"job_id": erasure_key(member_id)}, ConsistentRead=True).get(
                "Item"
            )
        return item

    def _is_stale(self, item: dict[str, Any]) -> bool:
        return time.time() - float(item.get("heartbeat_at", 0)) > self.stale_seconds

    def create(
        self, member_id: str, regio: str | None, mode: str, requested_by: str, removed: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """A new queued erasure, unless one is under way: (that erasure, False) then."""
        now = time.time()
        item: dict[str, Any] = {
            "job_id": erasure_key(member_id),
            "kind": ERASURE_KIND,
            "erasure_id": f"{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}",
            "member_id": member_id,
            "mode": mode,
            "status": "queued",
            "requested_by": requested_by,
            "created_at": _iso(now),
            "finished_at": None,
            "heartbeat_at": Decimal(int(now)),
            "error": None,
            **dict.fromkeys(COUNTERS, 0),
        }
        if regio:
            item["regio"] = regio
        if removed:
            item["member_removed_at"] = _iso(now)
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(job_id) OR NOT #s IN (:q, :r) OR heartbeat_at < :stale"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":q": "queued",
                    ":r": "running",
                    ":stale": Decimal(int(now) - self.stale_seconds),
                },
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            running = self.latest(member_id)
            if running is not None and running.get("status") in ACTIVE:
                return running, False
            return self.create(member_id, regio, mode, requested_by, removed)
        return item, True

    def _update(
        self,
        member_id: str,
        erasure_id: str,
        expression: str,
        values: dict[str, Any],
        states: tuple[str, ...],
    ) -> dict[str, Any]:
        try:
            res = self.table.update_item(
                Key={"job_id": erasure_key(member_id)},
                UpdateExpression=f"{expression}, heartbeat_at = :beat",
                ConditionExpression="erasure_id = :id AND #s IN ("
                + ", ".join(f":st{i}" for i in range(len(states)))
                + ")",
                # status and error are DynamoDB reserved words.
                ExpressionAttributeNames={"#s": "status", **({"#e": "error"} if "#e" in expression else {})},
                ExpressionAttributeValues={
                    ":id": erasure_id,
                    ":beat": Decimal(int(time.time())),
                    **{f":st{i}": s for i, s in enumerate(states)},
                    **values,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ErasureNotActive(erasure_id) from None
            raise
        attributes: dict[str, Any] = res["Attributes"]
        return attributes

    def mark_removed(self, member_id: str, erasure_id: str) -> None:
        """The member record is gone (or wiped): exports begun after this cannot hold the member."""
        self._update(member_id, erasure_id, "SET member_removed_at = :at", {":at": _iso()}, ACTIVE)

    def start(self, member_id: str, erasure_id: str) -> dict[str, Any]:
        """queued → running (ErasureNotActive for a duplicate delivery or a finished erasure)."""
        return self._update(member_id, erasure_id, "SET #s = :running", {":running": "running"}, ("queued",))

    def progress(self, member_id: str, erasure_id: str, counts: dict[str, int]) -> None:
        sets = ", ".join(f"{c} = :{c}" for c in counts)
        self._update(
            member_id, erasure_id, f"SET {sets}", {f":{c}": n for c, n in counts.items()}, ("running",)
        )

    def finish(self, member_id: str, erasure_id: str, status: str, error: str | None = None) -> None:
        """→ done or failed (a short English reason, never member data)."""
        self._update(
            member_id,
            erasure_id,
            "SET #s = :status, finished_at = :at, #e = :error",
            {":status": status, ":at": _iso(), ":error": error},
            ACTIVE,
        )

    def requeue(self, member_id: str, erasure_id: str) -> dict[str, Any]:
        """A failed erasure whose member is already gone runs its export pass again."""
        return self._update(
            member_id,
            erasure_id,
            "SET #s = :queued, finished_at = :none, #e = :none",
            {":queued": "queued", ":none": None},
            ("failed",),
        )

    def erased_since(self, since_iso: str) -> frozenset[str]:
        """Members whose erasure was asked for at or after `since_iso` (for an export about to publish)."""
        found: set[str] = set()
        kwargs: dict[str, Any] = {
            "IndexName": "kind-created-index",
            "KeyConditionExpression": "#k = :k AND created_at >= :since",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":k": ERASURE_KIND, ":since": since_iso},
        }
        while True:
            res = self.table.query(**kwargs)
            found.update(str(i["member_id"]) for i in res.get("Items", []))
            if not res.get("LastEvaluatedKey"):
                return frozenset(found)
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]

    # ------------------------------------------------------------ one erase job at a time
    def acquire_lock(self, holder: str, stale_seconds: int = 600) -> bool:
        """Take the erase-job lock (two jobs rewriting one export would lose each other's rewrite)."""
        now = int(time.time())
        try:
            self.table.put_item(
                Item={
                    "job_id": ERASE_LOCK_ID,
                    "holder": holder,
                    "acquired_at": now,
                    "expires_at": now + 86400,
                },
                ConditionExpression="attribute_not_exists(job_id) OR acquired_at < :stale OR holder = :me",
                ExpressionAttributeValues={":stale": now - stale_seconds, ":me": holder},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_lock(self, holder: str) -> None:
        try:
            self.table.delete_item(
                Key={"job_id": ERASE_LOCK_ID},
                ConditionExpression="holder = :h",
                ExpressionAttributeValues={":h": holder},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def remove_member_record(
    repo: MemberRepository, current: dict[str, Any], expected_version: int | None, mode: str
) -> None:
    """Delete the record or wipe its personal fields; the email claim is released either way.

    The lidnummer is never released: the counter only goes up, so an erased member's number is
    never handed out again. Guarded like any write: VersionConflict if the record changed.
    """
    if mode == "delete":
        repo.delete(current, expected_version)
        return
    member_id = current["member_id"]
    if expected_version is not None and version_of(current) != expected_version:
        raise VersionConflict(version_of(current))
    kept = {k: v for k, v in current.items() if k in WIPE_KEEPS}
    kept["version"] = version_of(current) + 1
    kept["updated_at"] = now_timestamp()
    kept["erased_at"] = now_timestamp()
    guard = repo._unchanged_guard(current, version_of(current))
    transact: list[dict[str, Any]] = [{"Put": {"TableName": repo.members.name, "Item": kept, **guard}}]
    old_key = email_key(current.get("email"))
    if old_key:
        transact.append(repo._release_claim(old_key, member_id))
    try:
        repo.ddb.transact_write_items(TransactItems=transact)
    except ClientError as err:
        if err.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = cancellation_codes(err.response)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise repo._conflict(member_id) from None
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            # A legacy duplicate holds the email claim: it is theirs, wipe the record alone.
            repo.members.put_item(Item=kept, **guard)
            return
        raise
