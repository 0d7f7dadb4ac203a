"""OpsFunction's handler, loaded as Lambda loads it, against the template deployed into moto."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from backend.local.runtime import LambdaContext, load_handler
from backend.local.template import functions, load_template
from tests.unit.aws_fixtures import MockedStack, clear_layer_caches

pytestmark = pytest.mark.unit


@pytest.fixture
def stack(shared_stack: MockedStack, monkeypatch: pytest.MonkeyPatch) -> MockedStack:
    """The module's shared deployed stack (these tests only read it), and a fresh OpsFunction."""
    # The template's Globals set these; the module reads them when it is loaded, so load it afresh.
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "HDCN")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "webshop-backend")
    monkeypatch.delitem(sys.modules, "hdcn_fn_OpsFunction", raising=False)
    clear_layer_caches()  # the layer's clients are made for this test's environment
    return shared_stack


def _event(path: str, groups: str | None) -> dict[str, Any]:
    """A minimal API Gateway REST proxy event; claims as the Cognito authorizer passes them."""
    authorizer = {"claims": {"cognito:username": "someone", "cognito:groups": groups}} if groups else None
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Authorization": "token-from-the-caller"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "requestId": "req-1",
            "stage": "prod",
            "authorizer": authorizer,
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _call(path: str, groups: str | None) -> tuple[int, Any]:
    handler = load_handler(functions(load_template())["OpsFunction"])
    ctx = LambdaContext("ops", 512, "arn:aws:lambda:eu-west-1:123456789012:function:ops", "r1", 9e12)
    result = handler(_event(path, groups), ctx)
    return int(result["statusCode"]), json.loads(result["body"])


@pytest.mark.parametrize("groups", ["System_Logs_Read", "System_CRUD"])
def test_ops_roles_read_the_stack(stack: MockedStack, groups: str) -> None:
    # GIVEN an ops caller WHEN GET /ops/stack THEN status, resources, outputs and at most 50 events
    status, body = _call("/ops/stack", groups)
    assert status == 200
    assert body["status"] == "CREATE_COMPLETE" and body["stack_name"] == "webshop-backend"
    logical = {r["logical_id"]: r for r in body["resources"]}
    assert logical["OpsFunction"]["type"] == "AWS::Lambda::Function" and logical["OpsFunction"]["physical_id"]
    assert "ApiUrl" in body["outputs"] and len(body["events"]) <= 50


@pytest.mark.parametrize("groups", ["Members_Export,Regio_All", "Members_CRUD,Products_CRUD,Regio_All"])
def test_other_roles_get_403(stack: MockedStack, groups: str) -> None:
    for path in ("/ops/stack", "/ops/health"):
        status, body = _call(path, groups)
        assert status == 403 and body["error"]["code"] == "forbidden"


def test_no_token_gets_401(stack: MockedStack) -> None:
    assert _call("/ops/stack", None)[0] == 401


def test_health_route_reports_every_check(stack: MockedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Unit tests reach no network: name resolution of the stack's execute-api URL is refused.
    def no_dns(*_: Any, **__: Any) -> Any:
        raise OSError("no network in unit tests")

    monkeypatch.setattr("socket.getaddrinfo", no_dns)
    # GIVEN an ops caller WHEN GET /ops/health THEN each check has id, status, detail (fix when failing)
    status, body = _call("/ops/health", "System_Logs_Read")
    assert status == 200
    ids = [c["id"] for c in body["checks"]]
    assert ids[:3] == ["stack_status", "stack_resources", "api_routes"] and "cold_starts" in ids
    assert all(c["fix"] for c in body["checks"] if c["status"] == "fail")
    assert body["ok"] == (body["counts"]["fail"] == 0)
    endpoint = next(c for c in body["checks"] if c["id"] == "endpoint_health")
    assert endpoint["status"] == "fail" and "does not resolve" in endpoint["detail"]
