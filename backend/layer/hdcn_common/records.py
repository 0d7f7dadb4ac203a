"""What repositories report to handlers, independent of HTTP and of DynamoDB's error codes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class RecordNotFound(Exception):
    """No such record (or not one the caller may know of)."""


class VersionConflict(Exception):
    """The record changed since the caller read it; `current_version` is what it is now."""

    def __init__(self, current_version: int) -> None:
        super().__init__("version conflict")
        self.current_version = current_version


class DuplicateValue(Exception):
    """A value that must be unique (a member's email) is already taken."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} already in use")
        self.field = field


class InvalidRecord(Exception):
    """The record as it would be after the change breaks its model; `details` name where and why."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__("invalid record")
        self.details = details


def validation_details(err: ValidationError, prefix: str = "body") -> list[dict[str, Any]]:
    """Where and why a model rejected data, without the rejected values (they may be PII)."""
    return [
        {"loc": [prefix, *(str(p) for p in e["loc"])], "msg": e["msg"], "type": e["type"]}
        for e in err.errors(include_input=False, include_url=False)
    ]


def cancellation_codes(response: dict[str, Any]) -> list[str]:
    """The per-item reasons of a TransactionCanceledException, in TransactItems order."""
    reasons = response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]
