"""`hdcn health` and `hdcn status` against the shared local stack, as an operator runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.integration.test_export import _export

pytestmark = pytest.mark.integration


def hdcn(*argv: str) -> subprocess.CompletedProcess[str]:
    """The `hdcn` command in a child process, with no AWS endpoint in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *argv],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )


def test_health_passes_on_the_local_stack_listing_what_is_not_applicable(local_stack: dict[str, Any]) -> None:
    # GIVEN the local stack WHEN `hdcn health --json` runs against it
    result = hdcn("health", "--local", "--state-dir", local_stack["state_dir"], "--json")
    # THEN it exits 0, every check is there, and the not-applicable ones carry their reason
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["target"].startswith("local stack")
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["endpoint_health"]["status"] == "pass"
    assert checks["endpoint_authenticated"]["status"] == "pass"  # the demo ops user's token
    # the console the local stack started answers its health URL (Streamlit's /_stcore/health)
    assert checks["console_health"]["status"] == "pass", checks["console_health"]
    assert "the local stack" in checks["console_health"]["detail"]
    assert checks["generator_image_manifest"]["status"] == "not_applicable"
    assert "loopback" in checks["generator_image_manifest"]["detail"]
    # the cold start check reads the local log groups: a pass once an export ran, else nothing yet
    assert checks["cold_starts"]["status"] in ("pass", "not_applicable")


def test_health_text_report_ends_with_the_verdict(local_stack: dict[str, Any]) -> None:
    result = hdcn("health", "--local", "--state-dir", local_stack["state_dir"])
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("OK: ") and any(line.strip().startswith("N/A") for line in lines)


def test_status_prints_the_resources_table(local_stack: dict[str, Any]) -> None:
    # GIVEN the local stack WHEN `hdcn status` THEN a table of logical id, type, physical id, status
    result = hdcn("status", "--local", "--state-dir", local_stack["state_dir"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "CREATE_COMPLETE" in lines[0]
    assert lines[1].split() == ["Logical", "ID", "Type", "Physical", "ID", "Status"]
    ops_row = next(line for line in lines if line.startswith("OpsFunction "))
    assert ops_row.split()[1] == "AWS::Lambda::Function" and ops_row.split()[-1] == "CREATE_COMPLETE"


def test_deploy_step_5_calls_the_authenticated_routes_as_its_smoke_user(local_stack: dict[str, Any]) -> None:
    """GIVEN a deployed stack (the local one) WHEN `hdcn deploy`'s step 5 verifies it, with an export."""
    from backend.local.deploy import aws_client
    from console import ops_cmd, smoke
    from console.cli import build_parser

    args = build_parser().parse_args(["deploy", "--smoke-export"])
    target = ops_cmd.Target(
        name="local stack",
        clients=lambda service: aws_client(service, local_stack["aws_endpoint"]),
        api_url=local_stack["api_url"],
        token=None,
    )
    lines: list[str] = []
    code = ops_cmd.verify_deployed(args, target, out=lines.append)
    text = "\n".join(lines)
    # THEN the health checks and every read-only route pass with the token the deploy got itself
    assert code == 0, text
    for path in smoke.READ_ROUTES + smoke.EXPORT_ROUTES:
        assert f"PASS  GET {path} answered 200" in text
    assert "endpoint_authenticated" in text and "export " in text and "ended succeeded" in text
    # and the smoke user is disabled again, so it cannot sign in between deploys
    idp = aws_client("cognito-idp", local_stack["aws_endpoint"])
    user = idp.admin_get_user(UserPoolId=local_stack["outputs"]["UserPoolId"], Username=smoke.SMOKE_USER)
    assert user["Enabled"] is False


def test_cold_start_check_reads_the_local_generators_init_duration(
    api: Callable[..., requests.Response], local_stack: dict[str, Any]
) -> None:
    # GIVEN an export ran to the end: each local Event invocation is a cold start with a REPORT line
    job = _export(api)
    assert job["state"] == "succeeded", job
    # WHEN `hdcn health` checks the generator's cold starts
    result = hdcn("health", "--local", "--state-dir", local_stack["state_dir"], "--json")
    cold = {c["id"]: c for c in json.loads(result.stdout)["checks"]}["cold_starts"]
    # THEN it passes on real Init Duration figures from the function's log group
    assert cold["status"] == "pass", cold
    worst = re.search(r"worst (\d+) ms", cold["detail"])
    assert worst is not None and int(worst.group(1)) > 0, cold["detail"]
