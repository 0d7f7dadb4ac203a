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
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_RETENTION_DAYS = 365


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
        self.table.put_item(Item=entry, ConditionExpression="attribute_not_exists(entry)")
        return entry
