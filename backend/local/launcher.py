"""Start a private `hdcn local up` in a child process on free loopback ports (tests, benchmarks).

One place for what every caller needs: free ports, no AWS variables inherited from the
caller's shell (they would point the stack at another endpoint), a log file, waiting
for the stack's state file, and stopping it the way a user would (SIGTERM) or the way
a crash would (SIGKILL).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.local.template import REPO_ROOT
from backend.local.up import STATE_FILE

START_TIMEOUT = 120.0


# Listening ports are picked below the kernel's ephemeral range (32768-60999 by default): a port
# handed out by bind(0) is also a candidate source port for the many outgoing connections of a
# test run, and one taken that way between the pick and the stack's own bind failed its start.
PORT_RANGE = (20000, 32000)
START_ATTEMPTS = 3


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, outside the ephemeral range."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(*PORT_RANGE)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # a crowded range: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_token(state: dict[str, Any], user: str) -> str:
    """An ID token of a demo user of the stack's pool (USER_PASSWORD_AUTH, as the console logs in)."""
    import boto3

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=state["aws_endpoint"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fixed local credentials
    )
    res = idp.initiate_auth(
        ClientId=state["outputs"]["UserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": state["demo_password"]},
    )
    return str(res["AuthenticationResult"]["IdToken"])


@dataclass
class LocalStackProcess:
    """A running `hdcn local up` child: its process, state folder and published state."""

    state_dir: Path
    members: int = 0
    console: bool = False
    fault_proxy: bool = False
    extra: tuple[str, ...] = ()
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.state_dir / "up.log"

    def start(self) -> dict[str, Any]:
        """Start the stack (new ports each time) and wait until it has published its state.

        A start that failed because one of its ports was taken meanwhile (by another test run's
        process) is tried again on new ports.
        """
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start_once()
            except RuntimeError as err:
                if attempt == START_ATTEMPTS or "Address already in use" not in str(err):
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> dict[str, Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state_file = self.state_dir / STATE_FILE
        state_file.unlink(missing_ok=True)
        names = ["aws", "api", "lambda"] + ["console"] * self.console + ["faults"] * self.fault_proxy
        self.ports = {name: free_port() for name in names}
        cmd = [sys.executable, "-m", "backend.local.up", "--members", str(self.members)]
        cmd += ["--state-dir", str(self.state_dir)]
        for name, flag in (
            ("aws", "--aws-port"),
            ("api", "--api-port"),
            ("lambda", "--lambda-port"),
            ("console", "--console-port"),
            ("faults", "--fault-proxy-port"),
        ):
            if name in self.ports:
                cmd += [flag, str(self.ports[name])]
        if not self.console:
            cmd.append("--no-console")
        cmd += list(self.extra)
        # The stack's log may hold handler output: private to this user, like the state it sits in.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not state_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"local stack did not start:\n{self.log_tail()}")
            time.sleep(0.2)
        self.state = json.loads(state_file.read_text())
        self.state["state_dir"] = str(self.state_dir)
        self.state["ports"] = self.ports
        return self.state

    def stop(self, timeout: float = 90.0) -> int:
        """Stop it as Ctrl-C would (SIGTERM: drain, save, exit); returns its exit code."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self.proc = None

    def kill(self) -> None:
        """End it without any clean-up, as a crash or `kill -9` would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
