"""Fixes for gaps of moto's DynamoDB that real DynamoDB does not have, applied to the in-process moto server.

moto's threaded server runs every request on its own thread against one in-memory
backend without any locking. Real DynamoDB applies each request atomically: a
conditional write or a transaction checks and writes in one step, and an `ADD`
counter never loses an increment. Under concurrent requests moto instead can let
two conditional writes both pass their check, lose counter increments, or fail with
`RuntimeError: dictionary changed size during iteration` (a 500). Each request is
therefore run holding the lock of every table it names (a transaction: all of its
tables, taken in name order, so two requests never wait on each other in a circle):
the per-request atomicity the real service guarantees, while requests on other tables
(export job heartbeats, the catalogue) go on. Requests that name no table (ListTables)
and those that change the set of tables take the catalogue lock first.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import threading
from collections.abc import Iterator
from typing import Any

_TABLE_LOCKS: dict[str, threading.RLock] = {}
_REGISTRY = threading.Lock()
_CATALOGUE_LOCK = threading.RLock()
CATALOGUE_ACTIONS = frozenset(
    {"CreateTable", "DeleteTable", "UpdateTable", "ListTables", "RestoreTableFromBackup"}
)
_installed = False


def _table_name(reference: str) -> str:
    """A table's name from its name or ARN (`arn:aws:dynamodb:...:table/<name>[/index/...]`)."""
    if reference.startswith("arn:") and ":table/" in reference:
        return reference.split(":table/", 1)[1].split("/", 1)[0]
    return reference


def tables_of(body: Any) -> list[str]:
    """The tables a DynamoDB request names, sorted (the order their locks are taken in)."""
    names: set[str] = set()
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("TableName"), str):
        names.add(body["TableName"])
    if isinstance(body.get("RequestItems"), dict):
        names.update(k for k in body["RequestItems"] if isinstance(k, str))
    for item in body.get("TransactItems") or []:
        for operation in item.values() if isinstance(item, dict) else []:
            if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                names.add(operation["TableName"])
    return sorted({_table_name(n) for n in names})


def table_lock(name: str) -> threading.RLock:
    """The lock requests on table `name` run under: hold it to read that table consistently."""
    with _REGISTRY:
        return _TABLE_LOCKS.setdefault(_table_name(name), threading.RLock())


@contextlib.contextmanager
def request_locks(action: str, body: Any) -> Iterator[None]:
    """Hold what one request needs: the catalogue lock if it needs it, then its tables' locks."""
    names = tables_of(body)
    with contextlib.ExitStack() as held:
        if action in CATALOGUE_ACTIONS or not names:
            held.enter_context(_CATALOGUE_LOCK)
        for name in names:
            held.enter_context(table_lock(name))
        yield


def install() -> None:
    """Make moto's DynamoDB requests atomic per table (idempotent; call before the server starts)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action_atomically(self: Any) -> Any:
        with request_locks(self._get_action(), getattr(self, "params", None)):
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
