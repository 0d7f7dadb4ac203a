"""Fixes for gaps of moto's DynamoDB that real DynamoDB does not have, applied to the in-process moto server.

moto's threaded server runs every request on its own thread against one in-memory
backend without any locking. Real DynamoDB applies each request atomically: a
conditional write or a transaction checks and writes in one step, and an `ADD`
counter never loses an increment. Under concurrent requests moto instead can let
two conditional writes both pass their check, lose counter increments, or fail with
`RuntimeError: dictionary changed size during iteration` (a 500). Serialising
moto's DynamoDB request handling with one lock gives the per-request atomicity the
real service guarantees (at the cost of parallelism the local stack does not need).
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from typing import Any

_DYNAMODB_LOCK = threading.RLock()
_installed = False


def dynamodb_lock() -> threading.RLock:
    """The lock moto's DynamoDB requests run under: hold it to read the tables consistently."""
    return _DYNAMODB_LOCK


def install() -> None:
    """Serialise moto's DynamoDB request handling (idempotent; call before the server starts)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action_atomically(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    DynamoHandler.call_action = call_action_atomically  # type: ignore[method-assign]

    # TransactWriteItems is idempotent by ClientRequestToken in DynamoDB (botocore fills the token
    # once per call, so its retries carry the same one): a retry of a transaction that already
    # committed answers success again instead of failing its own conditions. moto ignores the
    # token, so a retry after a client-side read timeout (a queue behind the lock above, on a busy
    # machine) turned a committed create into a false "email already in use".
    original_transact = DynamoHandler.transact_write_items
    committed: dict[str, Any] = {}

    @functools.wraps(original_transact)
    def transact_write_items_idempotently(self: Any) -> Any:
        token = self.body.get("ClientRequestToken") if isinstance(self.body, dict) else None
        if token and token in committed:
            return committed[token]
        result = original_transact(self)
        if token:
            committed[token] = result
        return result

    DynamoHandler.transact_write_items = transact_write_items_idempotently  # type: ignore[method-assign]
    install_fast_item_serialization()
    _installed = True


# Reads answered with plain JSON instead of moto's shape-walking serializer. moto 5.2 serialises
# every response by walking botocore's output shape value by value (`moto.core.serialize`): for
# a 30-attribute member that is about 90% of a Scan's time (profiled: 2,000 members took 50 s
# under cProfile, 45 s of them in serialize.py). These operations' results are already plain
# AttributeValue dicts (`DynamoResult` runs `dynamo_to_dict`), so `json.dumps` gives the same
# document; only binary values need base64, as the shape serializer does. Errors, and anything
# else, keep moto's own path. tests/unit/test_moto_patches.py compares both on every type.
FAST_OPERATIONS = frozenset(
    {"Scan", "Query", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"}
)
_fast_serialization = True


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)  # not plain: let moto's serializer handle it


def _drop_none(value: Any) -> Any:
    """What the shape serializer does with None: leaves the member out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def set_fast_serialization(enabled: bool) -> None:
    """Switch the fast path (tests compare it with moto's own serializer)."""
    global _fast_serialization
    _fast_serialization = enabled


def install_fast_item_serialization() -> None:
    """Serialise item reads and writes' results with json.dumps (see FAST_OPERATIONS)."""
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult, "_hdcn_fast", False):
        return
    original = DynamoResult.execute_result

    @functools.wraps(original)
    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (
            _fast_serialization
            and context.operation_model.name in FAST_OPERATIONS
            and isinstance(result, dict)
        ):
            try:
                body = json.dumps(_drop_none(result), separators=(",", ":"), default=_json_default)
            except TypeError:
                return original(self, context)
            version = context.service_model.metadata.get("jsonVersion", "1.0")
            return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    DynamoResult._hdcn_fast = True  # type: ignore[attr-defined]
