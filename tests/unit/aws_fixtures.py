"""moto in-process (`mock_aws`) with template.yaml's own tables and bucket, for the unit tests.

Every `AWS::DynamoDB::Table` and `AWS::S3::Bucket` of the template is made from its resource
definition (keys, indexes, billing, encryption, TTL, versioning, lifecycle, ...) and its name is put
in the environment variable the template's `Globals` give the functions. So a unit test cannot
drift from the template: a new index or table reaches it with no edit here, and a property this
module does not know how to apply stops the tests instead of being left out silently.

The fixtures that use this are in `conftest.py`; the dataclasses they yield are here, for annotations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hdcn_common import settings as settings_module
from hdcn_common.export_jobs import ExportJobs
from hdcn_common.member_parquet import install_raw_scan
from hdcn_common.members import MemberRepository
from moto import mock_aws

from backend.local.deploy import LocalStack
from backend.local.template import load_template

REGION = "eu-west-1"
TABLE_TYPE = "AWS::DynamoDB::Table"
BUCKET_TYPE = "AWS::S3::Bucket"
SEEDED_MEMBERS = 60  # member_tables: the local stack's seed (members, their keys, the products), smaller
EXPORT_MEMBERS = 240  # export_env: enough for several row groups and every region
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


# ---------------------------------------------------------------- a fresh moto


def clear_layer_caches() -> None:
    """The layer makes its settings, clients and tables once per process: make them again."""
    for fn in (settings_module.settings, settings_module.client, settings_module.table):
        fn.cache_clear()


@contextmanager
def fresh_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new in-process moto at AWS's own endpoints, with throwaway credentials and fresh layer clients."""
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)  # a local stack's endpoint would send the clients past moto
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        clear_layer_caches()
        try:
            yield
        finally:
            clear_layer_caches()


# ---------------------------------------------------------------- template resources, one at a time


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Replace `!Ref Parameter` by the parameter's default; any other intrinsic is refused."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]["Default"]
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            raise NotImplementedError(f"tests/unit/aws_fixtures.py cannot resolve {value}")
        return {k: _resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props = template["Resources"][logical_id].get("Properties", {})
    resolved: dict[str, Any] = _resolve(props, template.get("Parameters", {}))
    return resolved


def _unknown(logical_id: str, key: str) -> NotImplementedError:
    return NotImplementedError(
        f"{logical_id}.{key} in template.yaml is not applied by tests/unit/aws_fixtures.py: add it there"
    )


# CloudFormation and the DynamoDB API spell these properties the same way.
_TABLE_AS_IS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "TableClass",
    "DeletionProtectionEnabled",
    "Tags",
)


def create_table(template: dict[str, Any], logical_id: str, name: str) -> None:
    """Create the template's table `logical_id` in moto under `name`, with every property it sets."""
    props = _properties(template, logical_id)
    create: dict[str, Any] = {"TableName": name}
    then: list[tuple[str, dict[str, Any]]] = []  # calls after the table exists: (method, arguments)
    for key, value in props.items():
        if key in _TABLE_AS_IS:
            create[key] = value
        elif key == "TableName":
            pass  # each test gets its own name
        elif key == "SSESpecification":
            create[key] = {("Enabled" if k == "SSEEnabled" else k): v for k, v in value.items()}
        elif key == "StreamSpecification":
            create[key] = {"StreamEnabled": True, **value}
        elif key == "TimeToLiveSpecification":
            then.append(("update_time_to_live", {key: value}))
        elif key == "PointInTimeRecoverySpecification":
            then.append(("update_continuous_backups", {key: value}))
        else:
            raise _unknown(logical_id, key)
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(**create)
    for method, arguments in then:
        getattr(client, method)(TableName=name, **arguments)


def _lifecycle_rule(logical_id: str, rule: dict[str, Any]) -> dict[str, Any]:
    """A LifecycleConfiguration rule as CloudFormation spells it, as the S3 API spells it."""
    out: dict[str, Any] = {"Filter": {}}
    for key, value in rule.items():
        if key in ("Status", "AbortIncompleteMultipartUpload"):
            out[key] = value
        elif key == "Id":
            out["ID"] = value
        elif key == "Prefix":
            out["Filter"] = {"Prefix": value}
        elif key == "ExpirationInDays":
            out["Expiration"] = {"Days": int(value)}
        elif key == "NoncurrentVersionExpirationInDays":
            out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(value)}
        else:
            raise _unknown(logical_id, f"LifecycleConfiguration.Rules.{key}")
    return out


def create_bucket(template: dict[str, Any], logical_id: str, name: str) -> None:
    """Create the template's bucket `logical_id` in moto under `name`, with every property it sets."""
    props = _properties(template, logical_id)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, value in props.items():
        if key == "BucketName":
            pass  # each test gets its own name
        elif key == "VersioningConfiguration":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=value)
        elif key == "BucketEncryption":
            rules = [
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                | {k: v for k, v in r.items() if k != "ServerSideEncryptionByDefault"}
                for r in value["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        elif key == "PublicAccessBlockConfiguration":
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=value)
        elif key == "OwnershipControls":
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=value)
        elif key == "LifecycleConfiguration":
            rules = [_lifecycle_rule(logical_id, r) for r in value["Rules"]]
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        elif key == "Tags":
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": value})
        else:
            raise _unknown(logical_id, key)


# ---------------------------------------------------------------- all of them, named as the functions see


def function_environment(template: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """The template's Globals environment for what exists here: the made resources and the plain values."""
    env: dict[str, str] = {}
    for var, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            env[var] = value
        elif isinstance(value, dict) and value.get("Ref") in names:
            env[var] = names[value["Ref"]]
    return env


def create_template_resources(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every table and bucket of the template, in the current moto; returns logical id -> name.

    Each gets a name of its own, set in the environment variable the template's Globals give the
    functions for it (MEMBERS_TABLE, EXPORT_BUCKET, ...), as the deployed functions see it.
    """
    template = load_template()
    suffix = uuid.uuid4().hex[:8]
    names: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        name = f"{logical_id.lower()}-{suffix}"
        if resource["Type"] == TABLE_TYPE:
            create_table(template, logical_id, name)
        elif resource["Type"] == BUCKET_TYPE:
            create_bucket(template, logical_id, name)
        else:
            continue
        names[logical_id] = name
    for var, value in function_environment(template, names).items():
        monkeypatch.setenv(var, value)
    return names


# ---------------------------------------------------------------- what the fixtures yield


@dataclass
class MemberTables:
    """The template's tables in moto, seeded like the local stack, and the members repository on them."""

    repo: MemberRepository
    members_table: str
    keys_table: str
    products_table: str


@dataclass
class ExportEnv:
    """The template's tables and bucket in moto, with seeded members."""

    members: list[dict[str, Any]]
    members_table: str
    jobs_table: str
    bucket: str
    dynamodb: Any
    s3: Any

    def scan_client(self) -> Any:
        client = boto3.client("dynamodb", region_name=REGION)
        install_raw_scan(client)
        return client

    def jobs(self, stale_seconds: int = 30) -> ExportJobs:
        return ExportJobs(
            boto3.resource("dynamodb", region_name=REGION).Table(self.jobs_table), stale_seconds
        )


@dataclass
class MockedStack:
    """The whole template deployed into moto by `backend.local.deploy`, and clients for it."""

    stack: LocalStack

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def physical(self, logical_id: str) -> str:
        return self.stack.physical_ids[logical_id]
