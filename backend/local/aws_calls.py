"""Record every AWS operation each function performs on the local stack (for the IAM policy test).

moto checks no IAM policy, so a function that calls AWS beyond its role's policy works
locally and fails on AWS with AccessDenied. With `hdcn local up --record-aws-calls`, every
boto3 client made in the stack process or in an asynchronous invocation's child gets a
botocore `provide-client-params` hook (it fires for API calls and for presigned URLs, which
S3 authorises as the signer), and each operation is appended as one JSON line to
`<state-dir>/logs/aws-calls.jsonl`, with the function that made it: the function whose
handler runs on the calling thread (in-process), or the child's function. Only what names
the resource is kept (table, index, bucket, key, function, stack, ...): never item or body
data, so no member data reaches the file. `backend.local.iam_check` turns the lines into
IAM actions and resources and evaluates them against the functions' policies.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

ENV_VAR = "HDCN_AWS_CALL_LOG"  # where the lines go; inherited by asynchronous invocations' children
FILE_NAME = "aws-calls.jsonl"

_current = threading.local()
_process_function: str | None = None
_write_lock = threading.Lock()
_installed = False

# Parameters that name resources (never data): kept as they are. S3's Key, Prefix and VersionId
# only: a DynamoDB Key holds member ids and e-mail uniqueness records, which are data.
_S3_NAMING_PARAMS = ("Key", "Prefix", "VersionId")
_NAMING_PARAMS = (
    "TableName",
    "IndexName",
    "Bucket",
    "FunctionName",
    "StackName",
    "LogicalResourceId",
    "repositoryName",
    "logGroupName",
    "AlarmNames",
    "UserPoolId",
)


def set_function(logical_id: str | None) -> None:
    """The function whose handler runs on this thread (None when it returns)."""
    _current.function = logical_id


def set_process_function(logical_id: str) -> None:
    """Every call of this process is this function's (an asynchronous invocation's child)."""
    global _process_function
    _process_function = logical_id


def current_function() -> str | None:
    return getattr(_current, "function", None) or _process_function


def _uri(model: Any, params: dict[str, Any]) -> str:
    """The operation's request URI with its path parameters filled (API Gateway's IAM resource)."""
    uri = str(model.http.get("requestUri", "/")).split("?", 1)[0]
    shape = model.input_shape
    for name, member in shape.members.items() if shape is not None else []:
        if member.serialization.get("location") == "uri" and name in params:
            location = member.serialization.get("name", name)
            uri = uri.replace("{" + location + "}", str(params[name])).replace(
                "{" + location + "+}", str(params[name])
            )
    return uri


def describe_call(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    """One operation as recorded: service, operation, HTTP method and URI, and the naming parameters."""
    record: dict[str, Any] = {
        "service": model.service_model.signing_name or model.service_model.endpoint_prefix,
        "operation": model.name,
        "method": model.http.get("method", "POST"),
        "uri": _uri(model, params),
        "params": {k: params[k] for k in _NAMING_PARAMS if k in params},
    }
    if record["service"] == "s3":
        record["params"].update({k: params[k] for k in _S3_NAMING_PARAMS if k in params})
    if "TransactItems" in params:
        record["params"]["TransactItems"] = [
            {kind: {"TableName": body.get("TableName")} for kind, body in item.items()}
            for item in params["TransactItems"]
        ]
    if "RequestItems" in params:
        record["params"]["RequestItems"] = sorted(params["RequestItems"])
    delete = params.get("Delete")
    if isinstance(delete, dict) and "Objects" in delete:
        record["params"]["Delete"] = [
            {k: o[k] for k in ("Key", "VersionId") if k in o} for o in delete.get("Objects", [])
        ]
    return record


def _hook(params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    function = current_function()
    path = os.environ.get(ENV_VAR)
    if function is None or not path:
        return
    record = {"function": function, **describe_call(model, params)}
    if context is not None and context.get("is_presign_request"):
        record["presigned"] = True
    line = json.dumps(record, default=str) + "\n"
    with _write_lock, Path(path).open("a", encoding="utf-8") as out:
        out.write(line)


def install(log_path: Path | None = None) -> None:
    """Hook every botocore client made from now on in this process (idempotent)."""
    global _installed
    if log_path is not None:
        os.environ[ENV_VAR] = str(log_path)
    if _installed:
        return
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client_recording_calls(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("provide-client-params", _hook)
        return client

    botocore.session.Session.create_client = create_client_recording_calls
    _installed = True


def read_calls(log_path: Path) -> list[dict[str, Any]]:
    """Every recorded call, in order."""
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
