"""`hdcn` without a stack: one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.local.launcher import free_port
from console.cli import main

pytestmark = pytest.mark.unit


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GIVEN a shell with no AWS credentials, configuration or instance metadata to find."""
    import os

    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def _one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hdcn {command}: ")
    return lines[0]


@pytest.mark.parametrize(
    "command", [["token", "--user", "staff"], ["status", "--local"], ["health", "--local"]]
)
def test_a_state_dir_without_a_stack_is_one_line_naming_it(
    no_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # GIVEN a state directory no stack was started with WHEN a command is pointed at it
    state_dir = tmp_path / "elsewhere"
    code = main([*command, "--state-dir", str(state_dir)])
    # THEN exit 2 and one line naming the directory and how to start a stack
    assert code == 2
    line = _one_line_error(capsys, command[0])
    assert str(state_dir) in line and "hdcn local up" in line


def test_status_without_a_stack_or_credentials_is_one_line(
    no_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no local stack and no AWS credentials WHEN `hdcn status` THEN one line saying both
    assert main(["status", "--state-dir", str(tmp_path)]) == 2
    line = _one_line_error(capsys, "status")
    assert "no local stack" in line and "AWS credentials" in line


def test_token_reads_the_stack_of_the_given_state_dir(
    no_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a non-default state dir whose stack has stopped (its endpoint no longer answers)
    endpoint = f"http://127.0.0.1:{free_port()}"
    state = {"aws_endpoint": endpoint, "region": "eu-west-1", "outputs": {"UserPoolClientId": "c"}}
    (tmp_path / "local-stack.json").write_text(json.dumps({**state, "demo_password": "x"}))
    # WHEN `hdcn token --state-dir` THEN it went to that stack's endpoint, and says so in one line
    assert main(["token", "--user", "staff", "--state-dir", str(tmp_path)]) == 2
    assert endpoint in _one_line_error(capsys, "token")
