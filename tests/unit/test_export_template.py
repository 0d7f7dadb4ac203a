"""The export's part of template.yaml: jobs function, generator wiring, nightly schedule switch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.local.template import functions, load_template, routes, transform_template
from tests.unit.test_template_contract import _with_s3_code

pytestmark = pytest.mark.unit


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def test_export_routes_are_on_their_functions() -> None:
    found = {(r.method, r.path): r.function for r in routes(load_template())}
    assert found[("POST", "/analytics/generate-parquet")] == "ExportJobsFunction"
    assert found[("GET", "/analytics/jobs/{job_id}")] == "ExportJobsFunction"
    assert found[("GET", "/analytics/jobs")] == "ExportJobsFunction"
    assert found[("GET", "/analytics/exports")] == "DownloadParquetFunction"
    assert found[("GET", "/analytics/download-parquet/{filename}")] == "DownloadParquetFunction"


def test_jobs_function_may_invoke_only_the_generator() -> None:
    props = _resources()["ExportJobsFunction"]["Properties"]
    assert props["Environment"]["Variables"]["GENERATOR_FUNCTION_NAME"] == {
        "Ref": "GenerateMemberParquetFunction"
    }
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "GenerateMemberParquetFunction"}}} in props[
        "Policies"
    ]
    assert "ExportJobsLogGroup" in _resources()


def test_stale_threshold_is_shared_by_every_function() -> None:
    # One process runs every function locally, and API and generator must agree on "dead".
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["EXPORT_STALE_SECONDS"] == {"Ref": "ExportStaleAfterSeconds"}


def test_generator_image_carries_the_shared_layer_locally() -> None:
    spec = functions(load_template())["GenerateMemberParquetFunction"]
    assert spec.package_type == "Image" and spec.layers == ("backend/layer/",)


@pytest.mark.parametrize(("enabled", "state"), [("true", "ENABLED"), ("false", "DISABLED")])
def test_nightly_schedule_follows_its_parameter(enabled: str, state: str) -> None:
    # GIVEN NightlyExportEnabled WHEN the template is transformed THEN the rule's state follows it
    template = _with_s3_code(load_template())
    out = transform_template(template, "eu-west-1", {"NightlyExportEnabled": enabled})
    rules = [
        r
        for r in out["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "Input" not in r["Properties"]["Targets"][0]
    ]
    assert len(rules) == 1
    rule = rules[0]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert rule["State"] == {"Fn::If": ["IsNightlyExportEnabled", "ENABLED", "DISABLED"]}
    condition = out["Conditions"]["IsNightlyExportEnabled"]
    resolved = "ENABLED" if condition["Fn::Equals"][1] == enabled else "DISABLED"
    assert resolved == state
    assert load_template()["Parameters"]["NightlyExportEnabled"]["Default"] == "false"


def test_retention_schedule_is_off_and_dry_run_by_default() -> None:
    # GIVEN the template WHEN transformed THEN the retention rule sends {"retention": {}} and is switched off
    out = transform_template(_with_s3_code(load_template()), "eu-west-1", {})
    [rule] = [
        r["Properties"]
        for r in out["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "Input" in r["Properties"]["Targets"][0]
    ]
    assert json.loads(rule["Targets"][0]["Input"]) == {"retention": {}}
    assert rule["State"] == {"Fn::If": ["IsMemberRetentionEnabled", "ENABLED", "DISABLED"]}
    params = load_template()["Parameters"]
    assert params["MemberRetentionEnabled"]["Default"] == "false"
    assert params["MemberRetentionMode"]["Default"] == "dry-run"
    assert params["ErasureMode"]["AllowedValues"] == ["delete", "wipe"]
