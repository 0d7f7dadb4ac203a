"""The IAM evaluation of recorded calls (`backend.local.iam_check`) on the translated template.

The integration test evaluates what the functions really called; these show, on the same
translated template, that a removed statement is found missing, named by function, action and
resource, and that the evaluation is IAM's (wildcards, Deny wins, conditions not assumed).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from backend.local.iam_check import StackContext, UnknownOperation, denials, function_policies, is_allowed
from backend.local.template import load_template, transform_template
from tests.unit.test_template_contract import _with_s3_code

pytestmark = pytest.mark.unit
REGION, ACCOUNT = "eu-west-1", "123456789012"


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return transform_template(_with_s3_code(load_template()), REGION)


def _context(template: dict[str, Any]) -> StackContext:
    resources = template["Resources"]
    return StackContext(
        region=REGION,
        account_id=ACCOUNT,
        stack_name="webshop-backend",
        stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/webshop-backend/0f1e2d3c-aaaa",
        parameters={k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()},
        physical_ids={lid: f"webshop-backend-{lid}-X1" for lid in resources},
        resource_types={lid: r["Type"] for lid, r in resources.items()},
    )


def _calls(ctx: StackContext) -> list[dict[str, Any]]:
    """Representative calls of each function, as the recorder writes them."""
    jobs, members, keys = (
        ctx.physical_ids[t] for t in ("ExportJobsTable", "MembersTable", "MemberKeysTable")
    )
    bucket = ctx.physical_ids["ExportBucket"]
    return [
        {
            "function": "ExportJobsFunction",
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "params": {"TransactItems": [{"Put": {"TableName": jobs}}, {"Put": {"TableName": jobs}}]},
        },
        {
            "function": "ExportJobsFunction",
            "service": "dynamodb",
            "operation": "Query",
            "params": {"TableName": jobs, "IndexName": "kind-created-index"},
        },
        {
            "function": "ExportJobsFunction",
            "service": "lambda",
            "operation": "Invoke",
            "params": {"FunctionName": ctx.physical_ids["GenerateMemberParquetFunction"]},
        },
        {
            "function": "MembersFunction",
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "params": {"TransactItems": [{"Put": {"TableName": members}}, {"Put": {"TableName": keys}}]},
        },
        {
            "function": "DownloadParquetFunction",
            "service": "s3",
            "operation": "GetObject",
            "params": {"Bucket": bucket, "Key": "analytics/parquet/members/export_id=x/part-0.parquet"},
            "presigned": True,
        },
        {
            "function": "GenerateMemberParquetFunction",
            "service": "s3",
            "operation": "DeleteObjects",
            "params": {"Bucket": bucket, "Delete": [{"Key": "analytics/parquet/members/export_id=x/a"}]},
        },
        {
            "function": "OpsFunction",
            "service": "apigateway",
            "operation": "GetAccount",
            "method": "GET",
            "uri": "/account",
            "params": {},
        },
        {
            "function": "OpsFunction",
            "service": "cloudformation",
            "operation": "DescribeStacks",
            "params": {"StackName": "webshop-backend"},
        },
        # The checks that only run on AWS (not applicable on the local stack, so never recorded there)
        {
            "function": "OpsFunction",
            "service": "ecr",
            "operation": "DescribeImages",
            "params": {"repositoryName": ctx.parameters["GeneratorImageRepository"]},
        },
        {
            "function": "OpsFunction",
            "service": "logs",
            "operation": "FilterLogEvents",
            "params": {"logGroupName": f"/aws/lambda/{ctx.physical_ids['GenerateMemberParquetFunction']}"},
        },
        {
            "function": "OpsFunction",
            "service": "monitoring",
            "operation": "DescribeAlarms",
            "params": {"AlarmNames": ["webshop-backend-health-errors", "webshop-backend-api-5xx"]},
        },
    ]


def test_the_translated_policies_allow_the_functions_calls(translated: dict[str, Any]) -> None:
    ctx = _context(translated)
    assert denials(_calls(ctx), function_policies(translated, ctx), ctx) == []


def _without_statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    broken = copy.deepcopy(template)
    for policy in broken["Resources"][role]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != sid]
    return broken


def test_a_removed_statement_is_found_naming_function_action_and_resource(translated: dict[str, Any]) -> None:
    # GIVEN OpsFunction's policy without the statement that lets it read the API Gateway account
    ctx = _context(translated)
    broken = _without_statement(translated, "OpsFunctionRole", "ReadApiGatewayAccount")
    # WHEN its calls are evaluated THEN that call is refused, named
    found = [str(d) for d in denials(_calls(ctx), function_policies(broken, ctx), ctx)]
    assert found == [
        "OpsFunction may not apigateway:GET on arn:aws:apigateway:eu-west-1::/account"
        " (called apigateway:GetAccount)"
    ]


def test_a_removed_policy_template_is_found(translated: dict[str, Any]) -> None:
    # GIVEN ExportJobsFunction without its DynamoDBCrudPolicy on the jobs table
    ctx = _context(translated)
    broken = copy.deepcopy(translated)
    role = broken["Resources"]["ExportJobsFunctionRole"]["Properties"]
    role["Policies"] = [
        p for p in role["Policies"] if not p["PolicyName"].startswith("ExportJobsFunctionRolePolicy0")
    ]
    found = {(d.function, d.action) for d in denials(_calls(ctx), function_policies(broken, ctx), ctx)}
    # THEN each item of its transaction is refused (TransactWriteItems is authorised per item)
    assert ("ExportJobsFunction", "dynamodb:PutItem") in found
    assert ("ExportJobsFunction", "dynamodb:Query") in found


def test_evaluation_is_iams() -> None:
    table = "arn:aws:dynamodb:eu-west-1:1:table/t"
    allow = {"Effect": "Allow", "Action": ["dynamodb:Get*"], "Resource": [table, f"{table}/index/*"]}
    assert is_allowed([allow], "dynamodb:GetItem", table)
    assert is_allowed([allow], "DynamoDB:getitem", table)  # actions are case-insensitive
    assert is_allowed([allow], "dynamodb:GetItem", f"{table}/index/by-x")
    assert not is_allowed([allow], "dynamodb:PutItem", table)
    assert not is_allowed([allow], "dynamodb:GetItem", table + "2")  # resources are matched whole
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    assert not is_allowed([allow, deny], "dynamodb:GetItem", table)  # an explicit Deny wins
    conditional = {**allow, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert not is_allowed([conditional], "dynamodb:GetItem", table)  # not assumed to hold
    assert not is_allowed([], "dynamodb:GetItem", table)


def test_an_operation_without_a_mapping_fails_instead_of_passing(translated: dict[str, Any]) -> None:
    ctx = _context(translated)
    call = {
        "function": "OpsFunction",
        "service": "s3",
        "operation": "PutBucketPolicy",
        "params": {"Bucket": "b"},
    }
    with pytest.raises(UnknownOperation):
        denials([call], function_policies(translated, ctx), ctx)


def test_the_image_repository_parameter_scopes_the_ops_read_of_the_image(translated: dict[str, Any]) -> None:
    # GIVEN the image pushed to another repository (`hdcn deploy --repository club-gen`)
    ctx = _context(translated)
    call = {
        "function": "OpsFunction",
        "service": "ecr",
        "operation": "DescribeImages",
        "params": {"repositoryName": "club-gen"},
    }
    # THEN without GeneratorImageRepository=club-gen the ops checks may not read it; with it, they may
    assert [d.action for d in denials([call], function_policies(translated, ctx), ctx)] == [
        "ecr:DescribeImages"
    ]
    passed = dataclasses.replace(ctx, parameters={**ctx.parameters, "GeneratorImageRepository": "club-gen"})
    assert denials([call], function_policies(translated, passed), passed) == []
