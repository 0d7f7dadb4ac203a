"""Taking over the club's resources: the template with the adoption parameters creates no pool or table."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from backend.local import cfn_adapters
from backend.local.deploy import deploy
from backend.local.template import load_template
from tests.unit.aws_fixtures import REGION, fresh_moto

pytestmark = pytest.mark.unit
DATA_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool")


def test_every_data_bearing_resource_is_retained_on_delete_and_replace() -> None:
    # GIVEN the template WHEN its tables, bucket and pool are read THEN none can be deleted with the stack
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] in DATA_TYPES and logical_id != "ExportJobsTable":
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


@pytest.fixture
def existing(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """GIVEN a fresh moto holding the club's own Members and Producten tables and its user pool."""
    cfn_adapters.install()
    with fresh_moto(monkeypatch):
        ddb = boto3.client("dynamodb", region_name=REGION)
        for name, key in (("Members", "member_id"), ("Producten", "product_id")):
            ddb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool = idp.create_user_pool(PoolName="club-users")["UserPool"]["Id"]
        idp.admin_create_user(UserPoolId=pool, Username="secretaris", MessageAction="SUPPRESS")
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="club")["UserPoolClient"]["ClientId"]
        yield {
            "ExistingMembersTableName": "Members",
            "ExistingProductsTableName": "Producten",
            "ExistingUserPoolId": pool,
            "ExistingUserPoolClientId": client,
        }


def test_adoption_parameters_use_the_existing_resources_and_create_none(existing: dict[str, str]) -> None:
    # WHEN the stack is deployed with the adoption parameters
    stack = deploy(None, parameters=existing, demo_users=False)  # type: ignore[arg-type]  # moto's endpoints
    cfn = boto3.client("cloudformation", region_name=REGION)
    resources = cfn.describe_stack_resources(StackName="webshop-backend")["StackResources"]
    # (moto lists what a false Condition skipped as rows without a logical id; AWS lists nothing)
    by_id = {r["LogicalResourceId"]: r for r in resources if "LogicalResourceId" in r}
    assert by_id["MembersFunction"]["ResourceStatus"] == "CREATE_COMPLETE"
    # THEN the stack holds no members or products table and no user pool or client of its own
    for logical_id in ("MembersTable", "ProductsTable", "UserPool", "UserPoolClient", "GroupMembersRead"):
        assert logical_id not in by_id
    tables = boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert "Members" in tables and "Producten" in tables
    assert (
        len(boto3.client("cognito-idp", region_name=REGION).list_user_pools(MaxResults=10)["UserPools"]) == 1
    )
    # AND the functions and outputs name the club's resources
    assert stack.outputs["MembersTableName"] == "Members"
    assert stack.outputs["ProductsTableName"] == "Producten"
    assert stack.outputs["UserPoolId"] == existing["ExistingUserPoolId"]
    assert stack.outputs["UserPoolClientId"] == existing["ExistingUserPoolClientId"]
    env = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=stack.physical_ids["MembersFunction"]
    )["Environment"]["Variables"]
    assert env["MEMBERS_TABLE"] == "Members" and env["USER_POOL_ID"] == existing["ExistingUserPoolId"]


def test_without_parameters_the_stack_creates_its_own(existing: dict[str, str]) -> None:
    # GIVEN no adoption parameters WHEN deployed THEN the stack makes (and retains) its own pool and tables
    stack = deploy(None, demo_users=False)  # type: ignore[arg-type]
    assert stack.physical_ids.get("MembersTable") and stack.outputs["MembersTableName"] != "Members"
    assert stack.outputs["UserPoolId"] != existing["ExistingUserPoolId"]
