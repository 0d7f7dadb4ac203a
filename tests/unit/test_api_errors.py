"""The API's error shape from hdcn_common.api, driven through a real Powertools resolver."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hdcn_common.api import Conflict, create_resolver, require_caller
from pydantic import BaseModel, ConfigDict

pytestmark = pytest.mark.unit


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: int


app = create_resolver()
failures: dict[str, Exception] = {}


@app.post("/things")
def create_thing(thing: Thing) -> dict[str, Any]:
    if thing.name in failures:
        raise failures[thing.name]
    return {"name": thing.name, "caller": require_caller(app).username}


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test"
    aws_request_id: str = "req-1"


STAFF = {"cognito:username": "staff", "cognito:groups": "Members_CRUD"}


def call(
    body: bytes | str, content_type: str = "application/json", claims: dict[str, str] | None = None
) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    try:
        text, b64 = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(raw).decode(), True
    event = {
        "resource": "/things",
        "path": "/things",
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {"Content-Type": [content_type]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "requestId": "r",
            "stage": "prod",
            "resourcePath": "/things",
            "httpMethod": "POST",
            "authorizer": {"claims": STAFF if claims is None else claims},
        },
        "body": text,
        "isBase64Encoded": b64,
    }
    return app.resolve(event, Context())


def error_of(resp: dict) -> dict:
    return json.loads(resp["body"])["error"]


def test_valid_body_passes() -> None:
    resp = call('{"name": "a", "version": 1}')
    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"name": "a", "caller": "staff"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"name": ', 400, "malformed_json"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "malformed_json"),
        ('{"name": "a", "version": 1' + "0" * 5000 + "}", 400, "malformed_json"),
        (b'{"name": "\xff\xfe", "version": 1}', 400, "bad_encoding"),
        ('{"name": "' + "x" * 300_000 + '", "version": 1}', 413, "payload_too_large"),
        ('{"name": "a", "version": 1, "admin": true}', 422, "validation_error"),
        ('{"name": "a"}', 422, "validation_error"),
    ],
)
def test_bad_bodies_get_a_4xx_in_the_error_shape(body: str | bytes, status: int, code: str) -> None:
    resp = call(body)
    assert resp["statusCode"] == status
    assert error_of(resp)["code"] == code


def test_validation_error_names_the_field_but_not_the_value() -> None:
    resp = call('{"name": "Jan Jansen", "version": "not-a-number"}')
    err = error_of(resp)
    assert err["details"][0]["loc"][-1] == "version"
    assert "not-a-number" not in resp["body"]


def test_wrong_content_type_is_415_in_the_error_shape() -> None:
    resp = call("name=a", content_type="text/plain")
    assert resp["statusCode"] == 415
    assert error_of(resp)["code"] == "unsupported_media_type"


def test_throttling_is_503_with_retry_after() -> None:
    failures["throttled"] = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "Query"
    )
    resp = call('{"name": "throttled", "version": 1}')
    assert resp["statusCode"] == 503 and resp["multiValueHeaders"]["Retry-After"]


def test_unreachable_dependency_is_503() -> None:
    failures["down"] = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert call('{"name": "down", "version": 1}')["statusCode"] == 503


def test_domain_errors_keep_their_status_and_never_leak_aws_text() -> None:
    failures["conflict"] = Conflict("stale version", {"current_version": 3})
    resp = call('{"name": "conflict", "version": 1}')
    assert resp["statusCode"] == 409 and error_of(resp)["details"] == {"current_version": 3}
    failures["aws"] = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "arn:aws:secret"}}, "Query"
    )
    resp = call('{"name": "aws", "version": 1}')
    assert resp["statusCode"] == 500 and "arn:aws" not in resp["body"]


def test_missing_claims_is_401() -> None:
    resp = call('{"name": "a", "version": 1}', claims={})
    assert resp["statusCode"] == 401
