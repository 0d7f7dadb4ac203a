"""template.yaml on a new account's defaults: nothing in it needs an account-level setting or quota.

A new account has no API Gateway CloudWatch role (a stage with access logs then fails to create)
and a concurrency quota of 10 (any reserved concurrency is then refused). With the template's
default parameters neither is asked for; with the parameters set, both are.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backend.local.iam_check import StackContext, resolve
from backend.local.template import load_template, transform_template
from tests.unit.test_template_contract import _with_s3_code

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return transform_template(_with_s3_code(load_template()), "eu-west-1")


def _defaults(template: dict[str, Any]) -> StackContext:
    resources = template["Resources"]
    return StackContext(
        region="eu-west-1",
        account_id="123456789012",
        stack_name="webshop-backend",
        stack_id="arn:aws:cloudformation:eu-west-1:123456789012:stack/webshop-backend/x",
        parameters={k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
        physical_ids={lid: f"webshop-backend-{lid}" for lid in resources},
        resource_types={lid: r["Type"] for lid, r in resources.items()},
    )


def _stage(template: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage")


def test_defaults_need_no_api_gateway_logging_role_and_reserve_no_concurrency(
    translated: dict[str, Any],
) -> None:
    ctx = _defaults(translated)
    # THEN the stage writes no access logs, the generator reserves nothing, no account setting is made
    assert "AccessLogSetting" not in resolve(_stage(translated)["Properties"], translated, ctx)
    generator = translated["Resources"]["GenerateMemberParquetFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in resolve(generator, translated, ctx)
    assert not any(r["Type"] == "AWS::ApiGateway::Account" for r in translated["Resources"].values())


def test_the_parameters_turn_them_on(translated: dict[str, Any]) -> None:
    ctx = _defaults(translated)
    on = dataclasses.replace(
        ctx, parameters={**ctx.parameters, "ApiAccessLogging": "on", "GeneratorReservedConcurrency": "2"}
    )
    logs = resolve(_stage(translated)["Properties"], translated, on)["AccessLogSetting"]
    assert logs["DestinationArn"].startswith("arn:aws:logs:eu-west-1:123456789012:log-group:")
    generator = translated["Resources"]["GenerateMemberParquetFunction"]["Properties"]
    assert resolve(generator, translated, on)["ReservedConcurrentExecutions"] == "2"


def test_the_queued_limit_is_longer_than_the_running_one() -> None:
    params = load_template()["Parameters"]
    assert params["ExportQueuedStaleAfterSeconds"]["Default"] > params["ExportStaleAfterSeconds"]["Default"]
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["EXPORT_QUEUED_STALE_SECONDS"] == {"Ref": "ExportQueuedStaleAfterSeconds"}
