"""The real template linters, shared by the tests of both templates (backend and console stack)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def sam_cli() -> str | None:
    """The SAM CLI: HDCN_SAM_CLI (`make test` installs one in .venv-sam and sets it, so there a
    missing one fails), else `sam` on PATH."""
    return os.environ.get("HDCN_SAM_CLI") or shutil.which("sam")


needs_sam_cli = pytest.mark.skipif(
    sam_cli() is None, reason="no SAM CLI: `make test` installs one in .venv-sam and sets HDCN_SAM_CLI"
)


def assert_cfn_lint_clean(template: Path) -> None:
    """cfn-lint reports nothing on `template` (warnings included)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def assert_sam_validate_lint_clean(template: Path, region: str = "eu-west-1") -> None:
    """`sam validate --lint`, from the SAM CLI's own environment, accepts `template`."""
    result = subprocess.run(
        [str(sam_cli()), "validate", "--lint", "--template-file", str(template), "--region", region],
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
