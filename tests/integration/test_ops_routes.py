"""GET /ops/stack and /ops/health over real HTTP on the local stack: who may read them, what they say."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("user", ["ops", "root"])
@pytest.mark.parametrize("path", ["/ops/stack", "/ops/health"])
def test_ops_and_root_may_read(api: Callable[..., requests.Response], user: str, path: str) -> None:
    # GIVEN a user with System_Logs_Read or System_CRUD WHEN reading an ops route THEN 200
    assert api("GET", path, user=user).status_code == 200


@pytest.mark.parametrize("user", ["admin", "staff", "regio-utrecht"])
@pytest.mark.parametrize("path", ["/ops/stack", "/ops/health"])
def test_other_roles_are_refused(api: Callable[..., requests.Response], user: str, path: str) -> None:
    resp = api("GET", path, user=user)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"


def test_without_token_is_401(api: Callable[..., requests.Response]) -> None:
    assert api("GET", "/ops/stack").status_code == 401


def test_stack_route_shows_status_resources_outputs_events(api: Callable[..., requests.Response]) -> None:
    # GIVEN the local stack WHEN ops reads /ops/stack THEN the stack's own answer comes back
    body = api("GET", "/ops/stack", user="ops").json()
    assert body["stack_name"] == "webshop-backend" and body["status"] == "CREATE_COMPLETE"
    by_id = {r["logical_id"]: r for r in body["resources"]}
    for lid in ("OpsFunction", "MyApi", "GenerateMemberParquetFunction", "Api5xxAlarm"):
        assert by_id[lid]["status"] == "CREATE_COMPLETE" and by_id[lid]["physical_id"], lid
    assert body["outputs"]["OpsFunctionName"] == by_id["OpsFunction"]["physical_id"]
    assert 0 < len(body["events"]) <= 50


def test_health_route_runs_the_checks_inside_the_function(api: Callable[..., requests.Response]) -> None:
    # GIVEN the healthy local stack WHEN ops reads /ops/health THEN nothing fails, and the checks
    # that cannot hold locally are not applicable with the reason (never a pass)
    body = api("GET", "/ops/health", user="ops").json()
    checks = {c["id"]: c for c in body["checks"]}
    assert body["ok"], [c for c in body["checks"] if c["status"] == "fail"]
    assert body["local"] is True
    for lid in ("stack_status", "stack_resources", "api_routes", "functions_active", "generator_config"):
        assert checks[lid]["status"] == "pass", checks[lid]
    for lid in ("generator_image_manifest", "endpoint_health"):
        assert checks[lid]["status"] == "not_applicable" and "loopback" in checks[lid]["detail"], checks[lid]
    # the local runtime writes REPORT lines: the cold-start check judges real figures once an export
    # ran (a warning is a real figure too: a cold start on a machine busy with other suites is slow)
    assert checks["cold_starts"]["status"] in ("pass", "warn", "not_applicable"), checks["cold_starts"]
    assert "loopback" not in checks["cold_starts"]["detail"]
