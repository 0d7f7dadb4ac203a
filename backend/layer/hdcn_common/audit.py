"""The access log: who did what to personal data or to someone's access, and when (never the data itself).

One item per action in its own table (`AuditLogTable`), kept `AUDIT_RETENTION_DAYS` (TTL).
Entries are written before the action they describe and with a condition, so a failure to
log stops the action instead of losing the line (the API answers 503 and nothing changed).
Keyed by day, so a period is a few Queries; an entry names the actor, the action, its target
(member ids, a username, an export id), counts and group names, and the function that wrote it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError

from hdcn_common.api import ServiceUnavailable

DEFAULT_RETENTION_DAYS = 365
TARGET_INDEX = "target-index"
MAX_PERIOD_DAYS = 400


class AuditLog:
    """Appends entries to the access-log table."""

    def __init__(self, table: Any, retention_days: int | None = None, function: str | None = None) -> None:
        self.table = table
        days = retention_days or int(os.environ.get("AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        self.retention = timedelta(days=days)
        self.function = function or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")

    def record(self, actor: str, action: str, target: str, **details: Any) -> dict[str, Any]:
        """Write one entry (a ClientError propagates: the caller's action must not happen unlogged)."""
        now = datetime.now(UTC)
        entry = {
            "day": now.strftime("%Y-%m-%d"),
            "entry": f"{now.isoformat(timespec='milliseconds')}#{uuid.uuid4().hex[:12]}",
            "at": now.isoformat(timespec="seconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "function": self.function,
            "expires_at": int((now + self.retention).timestamp()),
            **{k: v for k, v in details.items() if v is not None},
        }
        try:
            self.table.put_item(Item=entry, ConditionExpression="attribute_not_exists(entry)")
        except (ClientError, BotoCoreError):
            # Nothing may happen unlogged: the caller's action stops here, and says so.
            raise ServiceUnavailable(
                "the access log could not be written, so nothing was done; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        return entry

    def history(self, target: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Every entry about one target (a member id, a username), oldest first, through its index."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "IndexName": TARGET_INDEX,
            "KeyConditionExpression": Key("target").eq(target),
        }
        while len(found) < limit:
            res = self.table.query(**kwargs)
            found.extend(res.get("Items", []))
            if not res.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]
        return found[:limit]

    def search(
        self,
        since: date,
        until: date,
        *,
        actor: str | None = None,
        action: str | None = None,
        member: str | None = None,
        limit: int = 100,
        cursor: dict[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Entries of the period, newest first, filtered; the next position or None."""
        condition = None
        for part in (
            Attr("actor").eq(actor) if actor else None,
            Attr("action").eq(action) if action else None,
            (Attr("target").eq(member) | Attr("member_ids").contains(member)) if member else None,
        ):
            if part is not None:
                condition = part if condition is None else condition & part
        found: list[dict[str, Any]] = []
        day = date.fromisoformat(cursor["day"]) if cursor else until
        # An `entry` of "*" in a cursor means "from the newest entry of that day".
        start = (
            {"day": cursor["day"], "entry": cursor["entry"]} if cursor and cursor["entry"] != "*" else None
        )
        while day >= since:
            while True:
                kwargs: dict[str, Any] = {
                    "KeyConditionExpression": Key("day").eq(day.isoformat()),
                    "ScanIndexForward": False,
                    "Limit": max(limit - len(found), 100) if condition is not None else limit - len(found),
                }
                if condition is not None:
                    kwargs["FilterExpression"] = condition
                if start:
                    kwargs["ExclusiveStartKey"] = start
                res = self.table.query(**kwargs)
                items = res.get("Items", [])
                room = limit - len(found)
                if len(items) > room:
                    found.extend(items[:room])
                    return found, {"day": found[-1]["day"], "entry": found[-1]["entry"]}
                found.extend(items)
                start = res.get("LastEvaluatedKey")
                if len(found) >= limit:
                    return found, (
                        {"day": start["day"], "entry": start["entry"]} if start else _next_day(day, since)
                    )
                if not start:
                    break
            day -= timedelta(days=1)
        return found, None


def _next_day(day: date, since: date) -> dict[str, str] | None:
    """The position at the newest entry of the day before `day`, if that day is in the period."""
    before = day - timedelta(days=1)
    return {"day": before.isoformat(), "entry": "*"} if before >= since else None
