"""Child process of one asynchronous invocation: read {function, event} on stdin, run the handler."""

from __future__ import annotations

import json
import sys
import time

from backend.local.runtime import LambdaContext, load_handler
from backend.local.template import functions, load_template


def main() -> int:
    request = json.loads(sys.stdin.read())
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
    handler(request["event"], context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
