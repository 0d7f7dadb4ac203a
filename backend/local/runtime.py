"""Run the template's functions in this process, as Lambda would run them (without containers).

Each function's handler module is loaded from its code folder under a unique module
name, with its layers on `sys.path` and its environment taken from the deployed
function's configuration (so `!Ref`s are resolved exactly as CloudFormation did).
All functions share one process environment: the template sets their common
variables in Globals, and `LocalRuntime` refuses to start if two functions disagree.

Asynchronous invocations (`InvocationType=Event`) run in a child process each, killed
at the function's timeout, as Lambda would end them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from backend.local import aws_calls
from backend.local.template import REPO_ROOT, FunctionSpec, functions, load_template

_HANDLER_LOCK = threading.Lock()


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


@dataclass
class AsyncInvocation:
    """One `Event` invocation running in a child process."""

    request_id: str
    function: str
    process: subprocess.Popen[bytes]
    started: float
    timeout: int

    def as_dict(self) -> dict[str, Any]:
        code = self.process.poll()
        return {
            "request_id": self.request_id,
            "function": self.function,
            "pid": self.process.pid,
            "started": self.started,
            "running": code is None,
            "exit_code": code,
        }


def add_layer_paths(spec: FunctionSpec) -> None:
    """Put the function's layer folders on sys.path, as Lambda mounts them under /opt/python."""
    for layer in spec.layers:
        path = str((REPO_ROOT / layer).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)


def load_handler(spec: FunctionSpec) -> Any:
    """Import the function's handler module by file path under a name unique to the function."""
    add_layer_paths(spec)
    module_file, _, attr = spec.handler.rpartition(".")
    path = REPO_ROOT / spec.code_uri / (module_file.replace(".", "/") + ".py")
    name = f"hdcn_fn_{spec.logical_id}"
    module = sys.modules.get(name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        assert isinstance(module, ModuleType)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
    return getattr(module, attr)


@dataclass
class LocalRuntime:
    """The functions of the local stack, by logical id and by physical name."""

    physical_names: dict[str, str]
    environments: dict[str, dict[str, str]]
    region: str
    account_id: str
    specs: dict[str, FunctionSpec] = field(default_factory=lambda: functions(load_template()))
    invocations: dict[str, AsyncInvocation] = field(default_factory=dict)
    faults: Any = None  # the fault proxy's rules (`backend.local.faults.FaultProxy`), when one runs
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _handlers: dict[str, Any] = field(default_factory=dict)

    def apply_environment(self) -> None:
        """Merge every function's environment into this process's, refusing conflicting values."""
        merged: dict[str, str] = {}
        for lid, env in self.environments.items():
            for key, raw in env.items():
                value = str(raw)
                if key in merged and merged[key] != value:
                    raise RuntimeError(
                        f"functions disagree on {key} ({lid}); the local runtime shares one process"
                    )
                merged[key] = value
        os.environ.update(merged)

    def logical_id(self, name_or_arn: str) -> str:
        """The logical id for a function name, ARN or logical id."""
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        for lid, physical in self.physical_names.items():
            if name in (lid, physical):
                return lid
        raise KeyError(name_or_arn)

    def handler(self, logical_id: str) -> Any:
        with self._lock:
            if logical_id not in self._handlers:
                self._handlers[logical_id] = load_handler(self.specs[logical_id])
            return self._handlers[logical_id]

    def context(self, logical_id: str, request_id: str | None = None) -> LambdaContext:
        spec = self.specs[logical_id]
        name = self.physical_names.get(logical_id, logical_id)
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=spec.memory,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}",
            aws_request_id=request_id or str(uuid.uuid4()),
            deadline=time.time() + spec.timeout,
            log_group_name=f"/aws/lambda/{name}",
        )

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """A synchronous invocation in this process, one at a time (see below)."""
        handler = self.handler(logical_id)
        # Powertools' resolvers keep the current event on the BaseRouter *class*
        # (`BaseRouter.current_event = ...`), shared by every resolver in the process, so even a
        # module copy per request does not isolate it. A Lambda environment runs one request at
        # a time, so that is safe there; here concurrent requests read each other's body and
        # claims (seen as false duplicates and swapped updates under load). So one handler runs
        # at a time in this process; requests still arrive concurrently and race where it
        # matters, at DynamoDB's conditional writes.
        with _HANDLER_LOCK:
            # Its AWS calls are this function's (the IAM policy test reads them; see aws_calls).
            aws_calls.set_function(logical_id)
            try:
                return handler(event, self.context(logical_id))
            finally:
                aws_calls.set_function(None)

    def invoke_async(self, logical_id: str, event: dict[str, Any]) -> str:
        """An `Event` invocation in a child process, ended at the function's timeout."""
        spec = self.specs[logical_id]
        request_id = str(uuid.uuid4())
        rule = self.faults.match("lambda", "Invoke") if self.faults is not None else None
        payload = json.dumps(
            {
                "function": logical_id,
                "event": event,
                "request_id": request_id,
                "physical_name": self.physical_names.get(logical_id, logical_id),
                # A fault rule may hold the start, as Lambda's event queue and a cold start can.
                "start_delay": rule.seconds if rule is not None and rule.error == "delay" else 0.0,
            }
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.local.invoke_child"],
            stdin=subprocess.PIPE,
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
        assert proc.stdin is not None
        proc.stdin.write(payload.encode())
        proc.stdin.close()
        inv = AsyncInvocation(request_id, logical_id, proc, time.time(), spec.timeout)
        with self._lock:
            self.invocations[request_id] = inv
        threading.Thread(target=self._enforce_timeout, args=(inv,), daemon=True).start()
        return request_id

    @staticmethod
    def _enforce_timeout(inv: AsyncInvocation) -> None:
        try:
            inv.process.wait(timeout=inv.timeout)
        except subprocess.TimeoutExpired:
            inv.process.kill()
            inv.process.wait()

    def stop(self, grace_seconds: float = 15.0) -> None:
        """End every child invocation still running: SIGTERM, then SIGKILL after `grace_seconds`.

        The grace lets a child's handler record its own failure (see `invoke_child`) while
        the AWS endpoint is still up.
        """
        with self._lock:
            running = [i for i in self.invocations.values() if i.process.poll() is None]
        for inv in running:
            inv.process.terminate()
        deadline = time.monotonic() + grace_seconds
        for inv in running:
            try:
                inv.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                inv.process.kill()
                inv.process.wait()
