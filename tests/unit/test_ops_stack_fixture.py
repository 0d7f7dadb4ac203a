"""The webshop-backend stack deployed into moto in-process (`mock_aws`), shared by the ops unit tests.

The real local deploy (`backend.local.deploy.deploy`) runs against moto's default AWS
endpoints, so the checks see what they would in AWS: an https endpoint, no local
shortcuts. Nothing leaves the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from backend.local import cfn_adapters
from backend.local.deploy import REGION, LocalStack, deploy

pytestmark = pytest.mark.unit

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class MockedStack:
    """The deployed stack and clients for it."""

    stack: LocalStack

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def physical(self, logical_id: str) -> str:
        return self.stack.physical_ids[logical_id]


def mocked_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockedStack]:
    """Deploy the template into a fresh in-process moto and yield it (drive it from a fixture)."""
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    cfn_adapters.install()
    with mock_aws():
        yield MockedStack(deploy(None))  # type: ignore[arg-type]  # None: moto's default endpoints


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockedStack]:
    yield from mocked_stack(monkeypatch)


def test_template_deploys_into_moto_with_the_ops_function(stack: MockedStack) -> None:
    # GIVEN the template deployed into moto WHEN its resources are listed THEN ops function and alarms exist
    resources = stack.client("cloudformation").describe_stack_resources(StackName="webshop-backend")
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in resources["StackResources"]}
    assert types["OpsFunction"] == "AWS::Lambda::Function"
    assert sum(1 for t in types.values() if t == "AWS::CloudWatch::Alarm") >= 4
    assert stack.client("cloudformation").meta.endpoint_url.startswith("https://")
