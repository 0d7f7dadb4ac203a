"""The template deployed into moto in-process (`mock_aws`): the `stack` fixture of the ops unit tests.

The fixture (`conftest.py`) runs the real local deploy (`backend.local.deploy.deploy`) against
moto's default AWS endpoints, so the checks see what they would in AWS: an https endpoint, no
local shortcuts. Nothing leaves the process.
"""

from __future__ import annotations

import pytest

from tests.unit.aws_fixtures import MockedStack

pytestmark = pytest.mark.unit


def test_template_deploys_into_moto_with_the_ops_function(stack: MockedStack) -> None:
    # GIVEN the template deployed into moto WHEN its resources are listed THEN ops function and alarms exist
    resources = stack.client("cloudformation").describe_stack_resources(StackName="webshop-backend")
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in resources["StackResources"]}
    assert types["OpsFunction"] == "AWS::Lambda::Function"
    assert sum(1 for t in types.values() if t == "AWS::CloudWatch::Alarm") >= 4
    assert stack.client("cloudformation").meta.endpoint_url.startswith("https://")
