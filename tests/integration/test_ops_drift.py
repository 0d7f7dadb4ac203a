"""`hdcn health` on a stack changed by hand: it fails naming the resource and the fix.

These tests break things, so they run on a local stack of their own (started here on
free ports), never on the session's shared one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from backend.local.deploy import aws_client
from backend.local.launcher import LocalStackProcess
from tests.integration.test_ops_cli import hdcn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A second local stack (no console, no members) that these tests may damage."""
    stack = LocalStackProcess(tmp_path_factory.mktemp("ops-drift-state"), members=0)
    yield stack.start()
    stack.stop()


def _health(stack: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    as_json = hdcn("health", "--local", "--state-dir", stack["state_dir"], "--json")
    text = hdcn("health", "--local", "--state-dir", stack["state_dir"])
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def test_extra_api_resource_fails_naming_it_and_passes_once_removed(own_stack: dict[str, Any]) -> None:
    apigw = aws_client("apigateway", own_stack["aws_endpoint"])
    api_id = own_stack["outputs"]["RestApiId"]
    assert _health(own_stack)[0] == 0
    # GIVEN a resource with a method added by hand to the deployed REST API
    root = next(i["id"] for i in apigw.get_resources(restApiId=api_id)["items"] if i["path"] == "/")
    extra = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="handmade")["id"]
    apigw.put_method(restApiId=api_id, resourceId=extra, httpMethod="POST", authorizationType="NONE")
    # WHEN hdcn health runs THEN it exits 1 naming the resource and the command that removes it
    code, report, text = _health(own_stack)
    routes = next(c for c in report["checks"] if c["id"] == "api_routes")
    assert code == 1 and routes["status"] == "fail"
    assert "POST /handmade" in routes["detail"] and "conflict" in routes["detail"]
    assert f"aws apigateway delete-resource --rest-api-id {api_id} --resource-id {extra}" in routes["fix"]
    assert "FAIL  api_routes" in text and "fix: delete it" in text
    # WHEN the fix is applied THEN the checks pass again
    apigw.delete_resource(restApiId=api_id, resourceId=extra)
    assert _health(own_stack)[0] == 0


def test_function_deleted_by_hand_fails_naming_it(own_stack: dict[str, Any]) -> None:
    # GIVEN a function of the stack deleted outside CloudFormation (run last: nothing restores it)
    name = own_stack["outputs"]["DownloadParquetFunctionName"]
    aws_client("lambda", own_stack["aws_endpoint"]).delete_function(FunctionName=name)
    # WHEN hdcn health runs THEN it exits 1 naming the function and how to bring it back
    code, report, text = _health(own_stack)
    resources = next(c for c in report["checks"] if c["id"] == "stack_resources")
    assert code == 1 and resources["status"] == "fail"
    assert f"DownloadParquetFunction (AWS::Lambda::Function {name})" in resources["detail"]
    assert "hdcn deploy" in resources["fix"] and "detect-stack-drift" in resources["fix"]
    assert "FAIL  stack_resources" in text
