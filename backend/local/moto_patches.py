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

import functools
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
    _installed = True
