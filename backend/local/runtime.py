"""Run the template's functions in this process, as Lambda would run them (without containers).

Each function's handler module is loaded from its code folder under a unique module
name, with its layers on `sys.path` and its environment taken from the deployed
function's configuration (so `!Ref`s are resolved exactly as CloudFormation did).
Synchronous invocations run in execution environments like Lambda's (`FunctionPool`):
worker processes of their own function, one request at a time per process, as many as
the requests need up to the function's reserved concurrency (or `LOCAL_CONCURRENCY`),
reused while warm and stopped when idle. A worker's first request is a cold start: the
runtime writes Lambda's REPORT line, with `Init Duration`, to the function's log group.
A request over the function's timeout or memory ends its worker, as Lambda ends it.
`--runtime inline` keeps the former in-process runtime (one handler at a time).

Asynchronous invocations (`InvocationType=Event`) run in a child process each, killed
at the function's timeout, as Lambda would end them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from backend.local import aws_calls
from backend.local.template import REPO_ROOT, FunctionSpec, functions, load_template

_HANDLER_LOCK = threading.Lock()

# Workers per function when the template reserves no concurrency. Lambda's account limit is
# 1,000, but on a 2-core laptop more than a few busy interpreters per function only queue on the
# CPU; a request beyond the limit waits for a free worker instead of being throttled.
LOCAL_CONCURRENCY = 4
IDLE_SECONDS = 300.0  # a warm worker unused this long is stopped (Lambda keeps them minutes)
MEMORY_CHECK_SECONDS = 0.1

Reporter = Callable[[str, list[str]], None]


class FunctionError(Exception):
    """The function failed: unhandled error, timeout or out of memory (API Gateway answers 502)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, used_mb: int, init_ms: float | None
) -> str:
    """Lambda's REPORT line for one invocation (Init Duration only on a cold start)."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory_mb} MB"
        f"\tMax Memory Used: {used_mb} MB"
    )
    return line + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else "")


def memory_mb(pid: int | str = "self", field: str = "VmRSS") -> int:
    """A process's resident memory (VmRSS) or its peak (VmHWM) in MB; 0 once it is gone.

    Not `ru_maxrss`: Linux carries the parent's peak over `exec`, so a worker would report
    the whole local stack's memory.
    """
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(f"{field}:"):
                return int(row.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return 0


class Worker:
    """One execution environment: a process of one function, one request at a time."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.local.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
            env=env,
            text=True,
        )
        self.init_ms: float | None = None
        self.cold = True
        self.last_used = time.monotonic()
        assert self.process.stdin is not None and self.process.stdout is not None
        fields = {k: getattr(spec, k) for k in spec.__dataclass_fields__}
        self._send(fields)
        ready = self._receive(timeout=max(spec.timeout, 60))
        if not ready.get("ready"):
            self.stop()
            error = ready.get("error") or {}
            raise FunctionError("Runtime.ImportModuleError", str(error.get("message", "init failed")))
        self.init_ms = float(ready["init_ms"])

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def _receive(self, timeout: float) -> dict[str, Any]:
        """The worker's next answer; FunctionError on timeout, memory or a dead worker."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise FunctionError("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
            readable, _, _ = select.select([fd], [], [], min(left, MEMORY_CHECK_SECONDS))
            if readable:
                line = self.process.stdout.readline()
                if not line:
                    code = self.process.wait()
                    raise FunctionError("Runtime.ExitError", f"the runtime exited (code {code})")
                answer: dict[str, Any] = json.loads(line)
                return answer
            if memory_mb(self.process.pid) > self.spec.memory:
                self.stop()
                raise FunctionError("Runtime.OutOfMemory", f"memory above {self.spec.memory} MB")

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Run one request; the worker's answer (result or error, duration, memory)."""
        try:
            self._send({"event": event, "context": asdict(context)})
        except OSError:
            self.stop()  # it died between requests (killed from outside)
            raise FunctionError("Runtime.ExitError", "the runtime exited before the request") from None
        try:
            return self._receive(timeout=self.spec.timeout)
        finally:
            self.last_used = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class FunctionPool:
    """The execution environments of one function: up to `limit` workers, reused while warm."""

    def __init__(
        self, spec: FunctionSpec, env: dict[str, str], limit: int, report: Reporter, log_group: str
    ) -> None:
        self.spec = spec
        self.env = env
        self.limit = limit
        self.report = report
        self.log_group = log_group
        self._idle: list[Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._stopped = False

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._stopped:
                    raise FunctionError("Runtime.Stopped", "the local runtime is stopping")
                while self._idle:
                    worker = self._idle.pop()  # the most recently used: warmest
                    if worker.alive:
                        return worker
                    self._count -= 1  # ended while idle (killed from outside): forget it
                    worker.stop()
                if self._count < self.limit:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return Worker(self.spec, self.env)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if worker.alive and not self._stopped:
                self._idle.append(worker)
            else:
                self._count -= 1
                worker.stop()
            self._cond.notify()

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        worker = self._acquire()
        try:
            answer = worker.invoke(event, context)
        except BaseException:
            self._release(worker)  # one that timed out, ran out of memory or died is gone for good
            raise
        init_ms = worker.init_ms if worker.cold else None
        worker.cold = False
        self._release(worker)
        request_id = context.aws_request_id
        self.report(
            self.log_group,
            [
                f"START RequestId: {request_id} Version: $LATEST",
                f"END RequestId: {request_id}",
                report_line(
                    request_id,
                    float(answer.get("duration_ms", 0.0)),
                    self.spec.memory,
                    int(answer.get("max_memory_mb", 0)),
                    init_ms,
                ),
            ],
        )
        if "error" in answer:
            error = answer["error"]
            raise FunctionError(str(error.get("type")), str(error.get("message")))
        return answer.get("result")

    def reap(self, idle_seconds: float) -> int:
        """Stop workers unused for `idle_seconds`; how many were stopped."""
        now = time.monotonic()
        with self._cond:
            old = [w for w in self._idle if now - w.last_used > idle_seconds]
            self._idle = [w for w in self._idle if w not in old]
            self._count -= len(old)
            self._cond.notify_all()
        for worker in old:
            worker.stop()
        return len(old)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.stop()

    @property
    def size(self) -> int:
        with self._cond:
            return self._count


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
    mode: str = "inline"  # "workers": execution environments per function (see FunctionPool)
    report: Reporter = field(default=lambda group, lines: None)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _handlers: dict[str, Any] = field(default_factory=dict)
    _pools: dict[str, FunctionPool] = field(default_factory=dict)
    _reaper: threading.Event = field(default_factory=threading.Event)

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

    def pool(self, logical_id: str) -> FunctionPool:
        """The execution environments of a function (made at its first invocation)."""
        with self._lock:
            if logical_id not in self._pools:
                spec = self.specs[logical_id]
                name = self.physical_names.get(logical_id, logical_id)
                # Each worker gets its own function's environment, not the merged one.
                env = {
                    **os.environ,
                    **{k: str(v) for k, v in self.environments.get(logical_id, {}).items()},
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                    "_HANDLER": spec.handler,
                }
                limit = spec.reserved_concurrency or LOCAL_CONCURRENCY
                self._pools[logical_id] = FunctionPool(spec, env, limit, self.report, f"/aws/lambda/{name}")
                if not self._reaper.is_set() and len(self._pools) == 1:
                    threading.Thread(target=self._reap, name="hdcn-reaper", daemon=True).start()
            return self._pools[logical_id]

    def _reap(self) -> None:
        while not self._reaper.wait(min(IDLE_SECONDS, 30.0)):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(IDLE_SECONDS)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """A synchronous invocation: in a worker of the function, or inline one at a time (see below)."""
        if self.mode == "workers":
            return self.pool(logical_id).invoke(event, self.context(logical_id))
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
        self._reaper.set()
        with self._lock:
            running = [i for i in self.invocations.values() if i.process.poll() is None]
            pools = list(self._pools.values())
        for pool in pools:
            pool.stop()
        for inv in running:
            inv.process.terminate()
        deadline = time.monotonic() + grace_seconds
        for inv in running:
            try:
                inv.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                inv.process.kill()
                inv.process.wait()
