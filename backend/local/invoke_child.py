"""Child process of one asynchronous invocation: read {function, event} on stdin, run the handler.

When the local stack stops, the child gets SIGTERM and the running handler sees
`InvocationStopped` raised where it is, so its own clean-up runs (the export
generator marks its job failed and withdraws its partial files) while the AWS
endpoint is still up. If the stack dies without stopping (SIGKILL), the child
notices it was orphaned and stops itself the same way, rather than running on for
up to the function's timeout against an endpoint that is gone.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from types import FrameType

from backend.local import aws_calls
from backend.local.runtime import LambdaContext, load_handler
from backend.local.template import functions, load_template

ORPHAN_CHECK_SECONDS = 1.0


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
    handler = load_handler(spec)
    name = request["physical_name"]
    context = LambdaContext(
        function_name=name,
        memory_limit_in_mb=spec.memory,
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{name}",
        aws_request_id=request["request_id"],
        deadline=time.time() + spec.timeout,
        log_group_name=f"/aws/lambda/{name}",
    )
    try:
        handler(request["event"], context)
    except InvocationStopped:
        return 143  # as a process ended by SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
