"""Shared fixtures: the local stack, started once per test session on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_MEMBERS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`hdcn local up` in a child process (with the console), as a user would start it."""
    state_dir = tmp_path_factory.mktemp("hdcn-state")
    ports = {name: free_port() for name in ("aws", "api", "lambda", "console", "faults")}
    log = (state_dir / "up.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.local.up",
            "--members",
            str(TEST_MEMBERS),
            "--state-dir",
            str(state_dir),
            "--aws-port",
            str(ports["aws"]),
            "--api-port",
            str(ports["api"]),
            "--lambda-port",
            str(ports["lambda"]),
            "--console-port",
            str(ports["console"]),
            "--fault-proxy-port",
            str(ports["faults"]),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    state_file = state_dir / "local-stack.json"
    deadline = time.time() + 120
    while not state_file.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"local stack did not start:\n{(state_dir / 'up.log').read_text()[-4000:]}")
        time.sleep(0.2)
    state: dict[str, Any] = json.loads(state_file.read_text())
    state["state_dir"] = str(state_dir)
    state["ports"] = ports
    yield state
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def id_token(local_stack: dict[str, Any]) -> Callable[[str], str]:
    """An ID token for a demo user of the local pool (cached per user)."""
    import boto3

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=local_stack["aws_endpoint"],
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cache: dict[str, str] = {}

    def get(user: str) -> str:
        if user not in cache:
            res = idp.initiate_auth(
                ClientId=local_stack["outputs"]["UserPoolClientId"],
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": user, "PASSWORD": local_stack["demo_password"]},
            )
            cache[user] = res["AuthenticationResult"]["IdToken"]
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
