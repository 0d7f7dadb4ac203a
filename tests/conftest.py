"""Shared fixtures: the local stack, started once per test session on free ports."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.local.launcher import LocalStackProcess, free_port
from backend.local.launcher import id_token as demo_id_token
from tests.browser import MISSING, find_chromium
from tests.iam_session import denied_calls

REPO_ROOT = Path(__file__).resolve().parents[1]
__all__ = ["REPO_ROOT", "free_port"]  # imported by tests that start stacks of their own
TEST_MEMBERS = 300
# A killed export is noticed once its heartbeat (every 5 s) is this old: the template's 30 s made
# the tests that kill one wait 30 s each; 15 s is still three missed heartbeats.
STALE_FASTER = ("--parameter-overrides", "ExportStaleAfterSeconds=15")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before any test (and before the local stack starts) when browser tests cannot run."""
    if any(item.get_closest_marker("e2e") for item in session.items) and find_chromium() is None:
        pytest.exit(MISSING, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`hdcn local up` in a child process (with the console and the fault proxy), as a user would start it."""
    stack = LocalStackProcess(
        tmp_path_factory.mktemp("hdcn-state"),
        members=TEST_MEMBERS,
        console=True,
        fault_proxy=True,
        # every test's AWS calls feed the IAM policy test; killed exports are noticed sooner
        extra=("--record-aws-calls", *STALE_FASTER),
    )
    state = stack.start()
    yield state
    try:
        # Every AWS call the session's functions made, checked against their IAM policies once all
        # the tests that used this stack are done (in parallel runs each worker has its own stack).
        denied = denied_calls(state)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):  # stop() killed it then; nothing left to do
            stack.stop(timeout=60)
    assert not denied, "AWS would refuse (AccessDenied):\n" + "\n".join(str(d) for d in denied)


@pytest.fixture(scope="session")
def id_token(local_stack: dict[str, Any]) -> Callable[[str], str]:
    """An ID token for a demo user of the local pool (cached per user)."""
    cache: dict[str, str] = {}

    def get(user: str) -> str:
        if user not in cache:
            cache[user] = demo_id_token(local_stack, user)
        return cache[user]

    return get


@pytest.fixture(scope="session")
def api(local_stack: dict[str, Any], id_token: Callable[[str], str]) -> Callable[..., requests.Response]:
    """Call the local API over real HTTP: api("GET", "/members", user="staff", json=...)."""
    session = requests.Session()

    def call(method: str, path: str, user: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user is not None:
            headers["Authorization"] = id_token(user)
        return session.request(method, local_stack["api_url"] + path, headers=headers, timeout=60, **kwargs)

    return call


@pytest.fixture(scope="session")
def aws(local_stack: dict[str, Any]) -> Callable[[str], Any]:
    """boto3 clients for the local AWS endpoint (tests only; the console never has these)."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=local_stack["aws_endpoint"],
            region_name=local_stack["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


def reset_nieuw(local_stack: dict[str, Any]) -> str:
    """`nieuw` back to its temporary password (another test may have chosen a new one); that password."""
    from backend.local.deploy import aws_client

    temporary = str(local_stack["sign_in_users"]["nieuw"]["temporary_password"])
    aws_client("cognito-idp", local_stack["aws_endpoint"]).admin_set_user_password(
        UserPoolId=local_stack["outputs"]["UserPoolId"], Username="nieuw", Password=temporary, Permanent=False
    )
    return temporary
