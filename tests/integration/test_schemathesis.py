"""Property-based run of the OpenAPI document against the local stack: no 5xx, every answer as documented.

Schemathesis generates requests for every operation of `openapi.json` (valid and
invalid ones) and sends them as staff; each response must not be a server error and
must match the documented schema for its status. Bounded: 25 examples per operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from backend.openapi import OUTPUT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# Loaded eagerly: schemathesis' lazy `from_fixture` loader relies on a pytest internal that pytest 9 removed.
schema = schemathesis.openapi.from_path(str(OUTPUT))


@pytest.fixture(scope="module", autouse=True)
def _exports_finish(local_stack: dict[str, Any]) -> Iterator[None]:
    yield
    _wait_for_exports(local_stack)


def _wait_for_exports(local_stack: dict[str, Any]) -> None:
    """Exports the run started must end before other tests start theirs (one runs at a time)."""
    session = requests.Session()
    token = _staff_token(local_stack)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        jobs = session.get(
            f"{local_stack['api_url']}/analytics/jobs", headers={"Authorization": token}, timeout=30
        ).json()["jobs"]
        if not any(j.get("state") in ("queued", "running") for j in jobs):
            return
        time.sleep(1)


def _staff_token(local_stack: dict[str, Any]) -> str:
    import boto3

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=local_stack["aws_endpoint"],
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    res = idp.initiate_auth(
        ClientId=local_stack["outputs"]["UserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "staff", "PASSWORD": local_stack["demo_password"]},
    )
    return str(res["AuthenticationResult"]["IdToken"])


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_document(
    case: Any, local_stack: dict[str, Any], id_token: Callable[[str], str]
) -> None:
    # GIVEN a generated request, sent as staff WHEN the local stack answers
    # THEN it is no server error and matches the documented response for its status
    case.call_and_validate(
        base_url=local_stack["api_url"],
        headers={"Authorization": id_token("staff")},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=60,
    )
