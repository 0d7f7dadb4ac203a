"""Without Chromium, `make test` and pytest stop at once naming the install command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import INSTALL_COMMAND, find_chromium
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit


def _without_chromium(tmp_path: Path) -> dict[str, str]:
    """An environment whose chosen Chromium does not exist."""
    return {**os.environ, "HDCN_CHROMIUM": str(tmp_path / "no-chromium")}


def test_make_test_starts_with_the_browser_check_and_it_names_the_install_command(tmp_path: Path) -> None:
    # GIVEN a machine without Chromium WHEN `make test` runs THEN its first step fails with the command
    first = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert first.stdout.splitlines()[0].endswith("tests/browser.py")
    result = subprocess.run(
        ["make", "browser-check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=_without_chromium(tmp_path),
    )
    assert result.returncode != 0
    assert INSTALL_COMMAND in result.stderr


def test_pytest_stops_before_any_browser_test_or_stack_when_chromium_is_missing(tmp_path: Path) -> None:
    # GIVEN no Chromium WHEN the browser tests are run THEN pytest exits after collecting, with the command
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=_without_chromium(tmp_path),
        timeout=120,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert INSTALL_COMMAND in result.stdout + result.stderr
    assert "no tests ran" in result.stdout


def test_an_explicit_chromium_is_used_or_reported_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o700)
    monkeypatch.setenv("HDCN_CHROMIUM", str(fake))
    assert find_chromium() == fake
    monkeypatch.setenv("HDCN_CHROMIUM", str(tmp_path / "missing"))
    assert find_chromium() is None
