"""Dependency failures injected between the functions and AWS: the API answers 503 with a retry hint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.fixture
def faults(local_stack: dict[str, Any]) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """Set fault rules on the stack's fault proxy; always cleared afterwards (the stack is shared)."""
    url = f"{local_stack['fault_proxy']}/__faults"

    def set_rules(rules: list[dict[str, Any]]) -> None:
        requests.post(url, json=rules, timeout=10).raise_for_status()

    yield set_rules
    requests.delete(url, timeout=10).raise_for_status()


def test_dynamodb_throttling_gives_503_with_retry_after(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    # GIVEN DynamoDB throttles every Query (beyond what botocore's retries absorb)
    faults([{"service": "dynamodb", "operation": "Query", "error": "throttle", "count": -1}])
    # WHEN a reader lists exports (a Query on the jobs table)
    resp = api("GET", "/analytics/exports", user="admin")
    # THEN the API says the service is busy and when to retry, in its error shape, not a 500
    assert resp.status_code == 503
    assert resp.headers.get("Retry-After")
    assert resp.json()["error"]["code"] == "service_unavailable"


def test_short_throttling_is_absorbed_by_retries(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    # GIVEN DynamoDB throttles only the next two Queries
    faults([{"service": "dynamodb", "operation": "Query", "error": "throttle", "count": 2}])
    # WHEN a reader lists exports THEN botocore's backoff retries succeed and the caller sees 200
    assert api("GET", "/analytics/exports", user="admin").status_code == 200


def test_dependency_unreachable_gives_503(
    api: Callable[..., requests.Response], faults: Callable[[list[dict[str, Any]]], None]
) -> None:
    faults([{"service": "dynamodb", "error": "unavailable", "count": -1}])
    resp = api("GET", "/analytics/exports", user="admin")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "service_unavailable"
