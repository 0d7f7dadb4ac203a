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
from backend.local.resource_props import BUCKET_TYPE, TABLE_TYPE, create_bucket, create_table
from backend.local.template import load_template

REGION = "eu-west-1"
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


# ---------------------------------------------------------------- all of them, named as the functions see


def function_environment(template: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """The template's Globals environment for what exists here: the made resources and the plain values."""
    env: dict[str, str] = {}
    for var, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Fn::If" in value:
            value = value["Fn::If"][1]  # the default parameters take the "create it in the stack" branch
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
            create_table(boto3.client("dynamodb", region_name=REGION), template, logical_id, name)
        elif resource["Type"] == BUCKET_TYPE:
            create_bucket(boto3.client("s3", region_name=REGION), template, logical_id, name, REGION)
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

    def jobs(self, stale_seconds: int = 30, queued_stale_seconds: int = 600) -> ExportJobs:
        return ExportJobs(
            boto3.resource("dynamodb", region_name=REGION).Table(self.jobs_table),
            stale_seconds,
            queued_stale_seconds,
        )


@dataclass
class MockedStack:
    """The whole template deployed into moto by `backend.local.deploy`, and clients for it."""

    stack: LocalStack

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def physical(self, logical_id: str) -> str:
        return self.stack.physical_ids[logical_id]
