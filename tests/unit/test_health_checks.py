"""The deploy health checks against the real template deployed into moto (in-process, AWS endpoints).

Each test breaks one thing the way an operator or a bad build would, and expects the
check to fail naming the thing and the fix; the unbroken stack must not fail.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hdcn_common.health_checks import (
    CHECKS,
    DOCKER_V2,
    ENDPOINT_CHECKS,
    OCI_MANIFEST,
    CheckResult,
    HealthConfig,
    HealthReport,
    Status,
    init_durations,
    is_loopback_url,
    manifest_verdict,
    run_checks,
    template_routes,
)

from backend.local.runtime import report_line
from tests.unit.aws_fixtures import MockedStack

pytestmark = pytest.mark.unit

OFFLINE_CHECKS = [c for c in CHECKS if c not in ENDPOINT_CHECKS]  # unit tests make no HTTP calls
REPO = "hdcn-parquet-generator"


def _push_manifest(stack: MockedStack, media_type: str, tag: str = "latest") -> None:
    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": []}
    stack.client("ecr").put_image(
        repositoryName=REPO,
        imageManifest=json.dumps(manifest),
        imageTag=tag,
        imageManifestMediaType=media_type,
    )


def _run(stack: MockedStack, **config: Any) -> HealthReport:
    return run_checks(stack.client, HealthConfig(**config), checks=OFFLINE_CHECKS)


def _check(report: HealthReport, check_id: str) -> CheckResult:
    return next(c for c in report.checks if c.id == check_id)


def test_healthy_stack_fails_no_check(stack: MockedStack) -> None:
    # GIVEN the deployed stack with a Docker v2 image in ECR
    _push_manifest(stack, DOCKER_V2)
    # WHEN every check but the HTTP ones runs
    report = _run(stack)
    # THEN none fails; what cannot be measured says why
    assert report.ok, [c for c in report.checks if c.status == Status.FAIL]
    assert not report.local
    assert _check(report, "generator_image_manifest").status == Status.PASS
    assert _check(report, "latest_export").status == Status.WARN
    cold = _check(report, "cold_starts")
    assert cold.status == Status.NOT_APPLICABLE and "no generator cold start" in cold.detail
    assert _check(report, "alarms").status == Status.PASS


def test_oci_index_image_fails_with_the_builder_fix(stack: MockedStack) -> None:
    # GIVEN BuildKit pushed an OCI index (provenance attestations)
    _push_manifest(stack, "application/vnd.oci.image.index.v1+json")
    # WHEN checked THEN the manifest check fails and the fix names both ways out
    result = _check(_run(stack), "generator_image_manifest")
    assert result.status == Status.FAIL
    assert result.fix and "DOCKER_BUILDKIT=0" in result.fix and "--provenance=false" in result.fix


def test_missing_image_fails(stack: MockedStack) -> None:
    # GIVEN nothing pushed under the deployed tag THEN the manifest check fails (never a pass)
    result = _check(_run(stack), "generator_image_manifest")
    assert result.status == Status.FAIL and "ImageNotFound" in result.detail


def test_function_deleted_by_hand_is_named_with_the_fix(stack: MockedStack) -> None:
    # GIVEN someone deleted a function of the stack outside CloudFormation
    stack.client("lambda").delete_function(FunctionName=stack.physical("DownloadParquetFunction"))
    # WHEN checked THEN stack_resources fails naming it and how to restore it
    result = _check(_run(stack), "stack_resources")
    assert result.status == Status.FAIL
    assert "DownloadParquetFunction" in result.detail
    assert result.fix and "detect-stack-drift" in result.fix and "hdcn deploy" in result.fix


def test_resource_added_by_hand_to_the_api_is_a_conflict(stack: MockedStack) -> None:
    # GIVEN an extra resource and method added by hand to the REST API
    apigw = stack.client("apigateway")
    api_id = stack.physical("MyApi")
    root = next(i["id"] for i in apigw.get_resources(restApiId=api_id)["items"] if i["path"] == "/")
    extra = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="debug")["id"]
    apigw.put_method(restApiId=api_id, resourceId=extra, httpMethod="GET", authorizationType="NONE")
    # WHEN checked THEN api_routes fails naming the path, its resource id and the delete command
    result = _check(_run(stack), "api_routes")
    assert result.status == Status.FAIL
    assert "GET /debug" in result.detail and extra in result.detail and "conflict" in result.detail
    assert result.fix and f"delete-resource --rest-api-id {api_id} --resource-id {extra}" in result.fix


def test_route_lost_from_the_api_is_named(stack: MockedStack) -> None:
    # GIVEN a template route's method deleted from the deployed API
    apigw = stack.client("apigateway")
    api_id = stack.physical("MyApi")
    health = next(i["id"] for i in apigw.get_resources(restApiId=api_id)["items"] if i["path"] == "/health")
    apigw.delete_method(restApiId=api_id, resourceId=health, httpMethod="GET")
    # THEN api_routes fails naming it
    result = _check(_run(stack), "api_routes")
    assert result.status == Status.FAIL and "missing from the deployed API: GET /health" in result.detail


def test_generator_resized_by_hand_fails(stack: MockedStack) -> None:
    # GIVEN the generator's memory lowered outside the stack
    stack.client("lambda").update_function_configuration(
        FunctionName=stack.physical("GenerateMemberParquetFunction"), MemorySize=512
    )
    result = _check(_run(stack), "generator_config")
    assert result.status == Status.FAIL and "MemorySize 512" in result.detail
    assert result.fix and "1024" in result.fix


def test_generator_running_another_tag_fails(stack: MockedStack) -> None:
    # GIVEN the function points at an image tag other than the stack's GeneratorImageTag
    fn = stack.physical("GenerateMemberParquetFunction")
    uri = stack.client("lambda").get_function(FunctionName=fn)["Code"]["ImageUri"]
    stack.client("lambda").update_function_code(FunctionName=fn, ImageUri=uri.rsplit(":", 1)[0] + ":handmade")
    result = _check(_run(stack), "generator_image_tag")
    assert (
        result.status == Status.FAIL
        and ":handmade" in result.detail
        and "GeneratorImageTag=latest" in result.detail
    )


def test_alarm_in_alarm_state_fails_naming_it(stack: MockedStack) -> None:
    # GIVEN one of the stack's alarms firing
    name = "webshop-backend-api-5xx"
    stack.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    result = _check(_run(stack), "alarms")
    assert result.status == Status.FAIL and name in result.detail


def _report_line(stack: MockedStack, init_ms: float) -> None:
    logs = stack.client("logs")
    group = f"/aws/lambda/{stack.physical('GenerateMemberParquetFunction')}"
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/25/[$LATEST]abc")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/25/[$LATEST]abc",
        logEvents=[
            {
                "timestamp": int(time.time() * 1000),
                "message": f"REPORT RequestId: 1 Duration: 9000.0 ms Billed Duration: 9000 ms "
                f"Memory Size: 1024 MB Max Memory Used: 400 MB Init Duration: {init_ms} ms",
            }
        ],
    )


def test_slow_cold_start_warns_with_the_worst(stack: MockedStack) -> None:
    # GIVEN a generator REPORT line with a 7.2 s init WHEN checked against 5 s THEN a warning names it
    _report_line(stack, 7200.5)
    result = _check(_run(stack, cold_start_threshold_ms=5000), "cold_starts")
    assert result.status == Status.WARN and "worst 7200 ms" in result.detail


def test_quick_cold_start_passes(stack: MockedStack) -> None:
    _report_line(stack, 812.0)
    assert _check(_run(stack), "cold_starts").status == Status.PASS


def _export_job(stack: MockedStack, finished: datetime) -> None:
    stack.client("dynamodb").put_item(
        TableName=stack.stack.outputs["ExportJobsTableName"],
        Item={
            "job_id": {"S": f"job-{finished.timestamp()}"},
            "kind": {"S": "member-export"},
            "created_at": {"S": finished.isoformat()},
            "finished_at": {"S": finished.isoformat()},
            "state": {"S": "succeeded"},
        },
    )


def test_old_export_fails_and_recent_export_passes(stack: MockedStack) -> None:
    # GIVEN the only succeeded export is ten days old WHEN the limit is 7 days THEN it fails
    _export_job(stack, datetime.now(UTC) - timedelta(days=10))
    assert _check(_run(stack, max_export_age_hours=168), "latest_export").status == Status.FAIL
    # GIVEN a newer one an hour ago THEN it passes
    _export_job(stack, datetime.now(UTC) - timedelta(hours=1))
    assert _check(_run(stack, max_export_age_hours=168), "latest_export").status == Status.PASS


def test_missing_stack_fails_once_with_the_fix(stack: MockedStack) -> None:
    report = run_checks(stack.client, HealthConfig(stack_name="no-such-stack"))
    assert not report.ok and [c.id for c in report.checks] == ["stack_status"]
    assert report.checks[0].fix and "hdcn deploy" in report.checks[0].fix


def test_loopback_endpoint_makes_local_only_checks_not_applicable(stack: MockedStack) -> None:
    # GIVEN ECR and Logs clients whose endpoint is this machine (the local emulator)
    import boto3

    def clients(service: str) -> Any:
        if service in ("ecr", "logs"):
            return boto3.client(service, region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
        return stack.client(service)

    report = run_checks(clients, HealthConfig(), checks=OFFLINE_CHECKS)
    # THEN the image manifest check says why it cannot hold, naming the endpoint
    result = _check(report, "generator_image_manifest")
    assert result.status == Status.NOT_APPLICABLE and "127.0.0.1:9" in result.detail
    # while the cold start check asks the local logs (the local runtime writes REPORT lines too)
    assert "127.0.0.1:9" not in _check(report, "cold_starts").detail


def test_the_local_runtimes_report_line_is_read_as_lambdas() -> None:
    # GIVEN the REPORT line the local runtime writes for a cold start WHEN read THEN its init duration counts
    line = report_line("req-1", 1234.5, 1024, 300, init_ms=812.25)
    assert line.startswith("REPORT RequestId: req-1\tDuration: 1234.50 ms\tBilled Duration: 1235 ms")
    assert init_durations([line]) == [812.25]
    # and a warm invocation's line has no init duration
    assert init_durations([report_line("req-2", 10.0, 1024, 300, init_ms=None)]) == []


def test_template_routes_read_the_openapi_body() -> None:
    template = {
        "Resources": {
            "MyApi": {
                "Properties": {
                    "Body": {
                        "paths": {
                            "/health": {"get": {}, "parameters": []},
                            "/members/{member_id}": {"get": {}, "put": {}, "delete": {}},
                        }
                    }
                }
            }
        }
    }
    assert template_routes(template) == {
        ("GET", "/health"),
        ("GET", "/members/{member_id}"),
        ("PUT", "/members/{member_id}"),
        ("DELETE", "/members/{member_id}"),
    }


@pytest.mark.parametrize(
    ("media_type", "status"),
    [
        (DOCKER_V2, Status.PASS),
        (OCI_MANIFEST, Status.PASS),
        ("application/vnd.oci.image.index.v1+json", Status.FAIL),
        ("application/vnd.docker.distribution.manifest.list.v2+json", Status.FAIL),
        (None, Status.FAIL),
    ],
)
def test_manifest_verdict(media_type: str | None, status: Status) -> None:
    assert manifest_verdict(media_type)[0] == status


def test_init_durations_come_from_report_lines_only() -> None:
    lines = [
        "REPORT RequestId: a Duration: 3.1 ms Init Duration: 1234.56 ms",
        "REPORT RequestId: b Duration: 3.1 ms",
        "INFO something mentioning Init Duration: 99 ms",
    ]
    assert init_durations(lines) == [1234.56]


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:4566", True),
        ("http://[::1]:4566", True),
        ("http://127.8.0.1", True),
        ("https://cloudformation.eu-west-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        (None, False),
    ],
)
def test_loopback_detection(url: str | None, local: bool) -> None:
    assert is_loopback_url(url) is local


def test_api_account_role_is_needed_only_with_access_logs(stack: MockedStack) -> None:
    """GIVEN a fresh account (no API Gateway CloudWatch role) and the default ApiAccessLogging=off."""
    from hdcn_common.health_checks import check_api_account_logging_role

    report = run_checks(stack.client, HealthConfig(), checks=[check_api_account_logging_role])
    # THEN nothing needs the role
    assert _check(report, "api_account_role").status == Status.PASS
    # WHEN the stack says ApiAccessLogging=on (as deployed with the parameter) THEN the missing role fails
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends["123456789012"]["eu-west-1"]
    cfn_stack = next(s for s in backend.stacks.values() if s.name == "webshop-backend")
    cfn_stack.resource_map.resolved_parameters["ApiAccessLogging"] = "on"
    failed = _check(
        run_checks(stack.client, HealthConfig(), checks=[check_api_account_logging_role]), "api_account_role"
    )
    assert failed.status == Status.FAIL and "cloudwatchRoleArn" in failed.detail
    assert failed.fix is not None and "update-account" in failed.fix
    # and once the account has the role THEN it passes
    stack.client("apigateway").update_account(
        patchOperations=[
            {
                "op": "replace",
                "path": "/cloudwatchRoleArn",
                "value": "arn:aws:iam::123456789012:role/apigw-logs",
            }
        ]
    )
    report = run_checks(stack.client, HealthConfig(), checks=[check_api_account_logging_role])
    assert _check(report, "api_account_role").status == Status.PASS
