"""Where the browser tests find Chromium, and the one command that installs it.

Stdlib only: `make test` runs this file with the system Python before anything else (before the
virtual environment exists), so a machine without Chromium stops in its first second with the
install command, not after the whole suite. `HDCN_CHROMIUM` names another Chromium executable.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

INSTALL_COMMAND = "apt-get install -y chromium chromium-driver"
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, as STYLE.md's browser tests use
MISSING = (
    "Chromium is needed for the browser tests (tests/e2e) and was not found"
    f" (looked at $HDCN_CHROMIUM, {DEFAULT_CHROMIUM} and `chromium` on PATH). Install it with:\n"
    f"    sudo {INSTALL_COMMAND}\n"
    "or point HDCN_CHROMIUM at a Chromium executable."
)


def find_chromium() -> Path | None:
    """The Chromium executable the browser tests use, or None when there is none."""
    chosen = os.environ.get("HDCN_CHROMIUM")
    if chosen:
        # An explicit choice is used or reported missing, never silently replaced by another.
        path = Path(chosen)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    if DEFAULT_CHROMIUM.is_file() and os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def main() -> int:
    """Exit 1 with the install command when Chromium is missing (the Makefile's first step)."""
    if find_chromium() is None:
        print(f"make test: {MISSING}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
