"""Child process of one asynchronous invocation: read {function, event} on stdin, run the handler.

When the local stack stops, the child gets SIGTERM and the running handler sees
`InvocationStopped` raised where it is, so its own clean-up runs (the export
generator marks its job failed and withdraws its partial files) while the AWS
endpoint is still up. If the stack dies without stopping (SIGKILL), the child
notices it was orphaned and stops itself the same way, rather than running on for
up to the function's timeout against an endpoint that is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from types import FrameType

from backend.local import aws_calls
from backend.local.runtime import LambdaContext, load_handler, memory_mb, report_line
from backend.local.template import functions, load_template

ORPHAN_CHECK_SECONDS = 1.0
ASYNC_NICENESS = 10  # nice(1): 10 of 19; a CPU-bound nice-10 process gets about a tenth of a busy core


class InvocationStopped(BaseException):
    """The local stack stopped while this invocation was running.

    A BaseException, like KeyboardInterrupt: botocore wraps any Exception raised inside an
    HTTP call as a retryable HTTPClientError and would simply send the call again.
    """


def _stop_once(signum: int, frame: FrameType | None) -> None:
    # Once only: the handler's own clean-up (marking its job failed) must not be interrupted too.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise InvocationStopped("the local stack stopped during the invocation")


def _watch_parent(parent: int) -> None:
    """SIGTERM ourselves once the stack process that started us is gone."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def write_platform_lines(log_group: str, request_id: str, lines: list[str]) -> None:
    """START/END/REPORT into the function's log group, as Lambda's platform writes them.

    Best effort: an invocation never fails because its log lines could not be written.
    """
    try:
        import boto3

        logs = boto3.client("logs")
        stream = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + request_id.replace("-", "")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=log_group)
        logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        logs.put_log_events(logGroupName=log_group, logStreamName=stream, logEvents=events)
    except Exception as err:  # the log write is best effort, see above
        print(f"local runtime: REPORT line not written ({type(err).__name__})", file=sys.stderr)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_once)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    request = json.loads(sys.stdin.read())
    try:
        # A start held by a fault rule (a slow cold start); the stack stopping ends the wait.
        time.sleep(float(request.get("start_delay") or 0.0))
    except InvocationStopped:
        return 143
    if os.environ.get(aws_calls.ENV_VAR):
        aws_calls.install()  # the stack records AWS calls: this child's are its function's
        aws_calls.set_process_function(request["function"])
    spec = functions(load_template())[request["function"]]
    # Each Event invocation runs in a new process, so each is a cold start: its Init Duration
    # is the handler module's import (the function's static initialisation), as Lambda measures it.
    init_started = time.perf_counter()
    handler = load_handler(spec)
    init_ms = (time.perf_counter() - init_started) * 1000
    # On AWS an asynchronous job (an export, an erasure) has CPUs of its own; here it shares the
    # laptop's with the API's workers, and an export's Parquet work left a member page waiting
    # (p95 1.4 s during an export, issue 13). A lower priority gives the API's requests the CPU
    # first; the job still gets every cycle they leave. Taken after the init, so that the cold
    # start's Init Duration is the import's own time, as the health check reads it.
    with contextlib.suppress(OSError):
        os.nice(ASYNC_NICENESS)
    name = request["physical_name"]
    request_id = request["request_id"]
    context = LambdaContext(
        function_name=name,
        memory_limit_in_mb=spec.memory,
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{name}",
        aws_request_id=request_id,
        deadline=time.time() + spec.timeout,
        log_group_name=f"/aws/lambda/{name}",
    )
    started = time.perf_counter()
    code = 0
    try:
        handler(request["event"], context)
    except InvocationStopped:
        code = 143  # as a process ended by SIGTERM
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        write_platform_lines(
            context.log_group_name,
            request_id,
            [
                f"START RequestId: {request_id} Version: $LATEST",
                f"END RequestId: {request_id}",
                report_line(request_id, duration_ms, spec.memory, memory_mb(field="VmHWM"), init_ms),
            ],
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
