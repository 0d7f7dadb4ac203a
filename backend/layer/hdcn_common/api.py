"""One error shape for the whole API and a Powertools resolver that always answers with it.

Handlers raise `ApiError` subclasses (or let domain code raise them); the resolver maps
them, request validation errors, unknown routes and dependency failures to
`{"error": {"code", "message", "details"}}`. Nothing a client sends produces a 500
or a stack trace, and no input value is echoed back (it may be PII).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import BotoCoreError, ClientError

from hdcn_common.auth import Caller, caller_from_event

MAX_BODY_BYTES = 256 * 1024
logger = Logger(child=True)

_THROTTLING = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
}


class ApiError(Exception):
    """An error the client gets back as-is; `message` must never contain PII or AWS error text."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        details: Any = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}
        if code:
            self.code = code


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response[str]:
    """The API's one error shape."""
    body = json.dumps({"error": {"code": code, "message": message, "details": details}})
    return Response(status_code=status, content_type="application/json", body=body, headers=headers or {})


def _validation_details(errors: list[Any]) -> list[dict[str, Any]]:
    """Where and why validation failed, without the rejected value (it may be PII)."""
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


def _body_rejection(event: Mapping[str, Any]) -> ApiError | None:
    """Why a request body must be refused before routing, or None.

    Runs ahead of Powertools' validation, which turns only `JSONDecodeError` into a
    validation error: `json.loads` also raises `RecursionError` (deep nesting) and a plain
    `ValueError` (integers over 4300 digits), and base64 bodies may not be UTF-8.
    """
    raw = event.get("body") or ""
    if not raw:
        return None
    b64 = bool(event.get("isBase64Encoded"))
    data = base64.b64decode(raw) if b64 else raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        return PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES // 1024} KB")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").lower()
    if content_type and "json" not in content_type:
        # Every body of this API is JSON. Powertools would parse form and multipart bodies
        # itself (and raise a bare ValueError on a multipart type without a boundary).
        return UnsupportedMediaType("send the body as application/json")
    try:
        json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return BadRequest("request body is not valid UTF-8", code="bad_encoding")
    except RecursionError:
        return BadRequest("request body is nested too deeply", code="malformed_json")
    except ValueError:
        return BadRequest("request body is not valid JSON", code="malformed_json")
    return None


class ApiResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with the body checked before routing."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        rejection = _body_rejection(event)
        if rejection is not None:
            body = json.dumps(
                {"error": {"code": rejection.code, "message": rejection.message, "details": None}}
            )
            return {
                "statusCode": rejection.status,
                "headers": {"Content-Type": "application/json"},
                "body": body,
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


def create_resolver() -> ApiResolver:
    """A REST resolver with validation on and every error mapped to the API's error shape."""
    app = ApiResolver(enable_validation=True)

    @app.exception_handler(ApiError)
    def _api_error(err: ApiError) -> Response[str]:
        return error_response(err.status, err.code, err.message, err.details, err.headers)

    @app.exception_handler(RequestValidationError)
    def _validation_error(err: RequestValidationError) -> Response[str]:
        errors = list(err.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "request body is not valid JSON")
        if any(e.get("type") == "unsupported_content_type" for e in errors):
            return error_response(415, "unsupported_media_type", "send the body as application/json")
        return error_response(
            422, "validation_error", "request failed validation", _validation_details(errors)
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_type(_: RequestUnsupportedContentType) -> Response[str]:
        return error_response(415, "unsupported_media_type", "send the body as application/json")

    @app.exception_handler(UnicodeDecodeError)
    def _bad_encoding(_: UnicodeDecodeError) -> Response[str]:
        return error_response(400, "bad_encoding", "request body is not valid UTF-8")

    @app.exception_handler(ClientError)
    def _aws_error(err: ClientError) -> Response[str]:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _THROTTLING:
            logger.warning("dependency throttled", extra={"aws_error_code": code})
            return error_response(
                503,
                "service_unavailable",
                "a backing service is busy; retry shortly",
                headers={"Retry-After": "2"},
            )
        logger.error("unexpected AWS error", extra={"aws_error_code": code})
        return error_response(500, "internal_error", "internal error")

    @app.exception_handler(BotoCoreError)
    def _aws_unreachable(err: BotoCoreError) -> Response[str]:
        logger.warning("dependency unreachable", extra={"error_type": type(err).__name__})
        return error_response(
            503,
            "service_unavailable",
            "a backing service is unavailable; retry shortly",
            headers={"Retry-After": "5"},
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(404, "not_found", "no such route")

    return app


def require_caller(app: APIGatewayRestResolver) -> Caller:
    """The verified caller of the current request, or 401."""
    caller = caller_from_event(app.current_event.raw_event)
    if caller is None:
        raise Unauthorized("a valid ID token is required")
    return caller
