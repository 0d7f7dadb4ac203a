"""What repositories report to handlers, independent of HTTP and of DynamoDB's error codes."""

from __future__ import annotations

from base64 import b64encode
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import ValidationError

from hdcn_common.api import error_response
from hdcn_common.pagination import InvalidCursor


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


def plain_value(value: Any) -> Any:
    """A DynamoDB value as JSON can carry it: Decimals as numbers, sets as sorted lists, bytes as base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted((plain_value(v) for v in value), key=str)
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray):
        return b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return b64encode(value.value).decode()
    return value


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as JSON can carry it (see `plain_value`)."""
    return {k: plain_value(v) for k, v in item.items()}


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


def register_record_errors(app: APIGatewayRestResolver, noun: str) -> None:
    """Answer the repository's exceptions in the API's error shape; `noun` names the record."""

    @app.exception_handler(VersionConflict)
    def _stale(err: VersionConflict) -> Response[str]:
        return error_response(
            409,
            "version_conflict",
            f"the {noun} changed since it was read",
            {"current_version": err.current_version},
        )

    @app.exception_handler(DuplicateValue)
    def _duplicate(err: DuplicateValue) -> Response[str]:
        return error_response(409, "duplicate", f"{err.field} is already in use", {"field": err.field})

    @app.exception_handler(RecordNotFound)
    def _gone(_: RecordNotFound) -> Response[str]:
        return error_response(404, "not_found", f"no such {noun}")

    @app.exception_handler(InvalidRecord)
    def _invalid(err: InvalidRecord) -> Response[str]:
        return error_response(422, "validation_error", f"the {noun} would not be valid", err.details)

    @app.exception_handler(InvalidCursor)
    def _bad_cursor(_: InvalidCursor) -> Response[str]:
        return error_response(400, "bad_cursor", "the cursor is not one this API handed out")
