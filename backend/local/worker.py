"""One execution environment of a function: a process that runs one request at a time.

Started by `backend.local.runtime.FunctionPool`. The first line on stdin is the
function's spec; the worker imports the handler (its Init phase, timed, as Lambda's
`Init Duration`), answers `{"ready": ..., "init_ms": ...}`, then reads one request
per line and answers one line each, on a private copy of the original stdout. What
the handler prints or logs goes to stderr, which is the local stack's log, as a
function's stdout goes to its log group in Lambda.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from backend.local import aws_calls
from backend.local.runtime import LambdaContext, load_handler, memory_mb
from backend.local.template import FunctionSpec

ORPHAN_CHECK_SECONDS = 1.0


def _watch_parent(parent: int) -> None:
    """End this worker once the stack process that started it is gone (killed, not stopped)."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def _reply(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, default=str) + "\n")
    channel.flush()


def main() -> int:
    # The protocol gets the real stdout; fd 1 (print, logging, Powertools' EMF) goes to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()

    spec_fields = json.loads(sys.stdin.readline())
    spec = FunctionSpec(**{**spec_fields, "layers": tuple(spec_fields["layers"])})
    if os.environ.get(aws_calls.ENV_VAR):
        aws_calls.install()  # the stack records AWS calls: this environment's are its function's
        aws_calls.set_process_function(spec.logical_id)
    started = time.perf_counter()
    try:
        handler = load_handler(spec)
    except Exception as err:
        _reply(channel, {"ready": False, "error": {"type": type(err).__name__, "message": str(err)}})
        traceback.print_exc()
        return 1
    _reply(channel, {"ready": True, "init_ms": (time.perf_counter() - started) * 1000})

    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(**request["context"])
        started = time.perf_counter()
        try:
            result = handler(request["event"], context)
            message: dict[str, Any] = {"result": result}
        except Exception as err:
            # Lambda reports an unhandled error as errorType/errorMessage; the trace goes to the log.
            traceback.print_exc()
            message = {"error": {"type": type(err).__name__, "message": str(err)}}
        message["duration_ms"] = (time.perf_counter() - started) * 1000
        message["max_memory_mb"] = memory_mb(field="VmHWM")
        _reply(channel, message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
