"""Opaque list cursors: DynamoDB's LastEvaluatedKey (plus where a multi-part listing stands) as a token.

A cursor is base64url JSON; what comes back from a client is checked strictly
(only the expected keys, each of its expected type) before DynamoDB sees it, so a
forged or mangled cursor is a 400, never a DynamoDB validation error or a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

MAX_CURSOR_CHARS = 1024
MAX_CURSOR_INT = 10**12
MAX_CURSOR_STR = 200

# The type of every key attribute of the stack's tables and indexes (template.yaml's
# AttributeDefinitions: N → int, S → str; a unit test keeps the two in step). A caller that
# names only the keys it expects still gets each of these checked: a forged
# `{"lidnummer": "abc"}` in place of the regio-index's number key is refused here instead of
# reaching DynamoDB as a string for a number key (a ValidationException, so a 500).
KEY_ATTRIBUTE_TYPES: Mapping[str, type] = {
    "member_id": str,
    "email": str,
    "regio": str,
    "pk": str,
    "product_id": str,
    "job_id": str,
    "kind": str,
    "created_at": str,
    "day": str,
    "entry": str,
    "target": str,
}


class InvalidCursor(ValueError):
    """The cursor was not one this API handed out."""


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals as ints, so the key serialises as JSON."""
    if isinstance(value, Decimal):
        return int(value)
    return value


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque token for `position` (a LastEvaluatedKey with optional extra markers)."""
    data = json.dumps({k: _plain(v) for k, v in position.items()}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _valid_value(value: Any, expected: type | None) -> bool:
    """A cursor value is a short non-empty string or a small non-negative int, of the expected type."""
    # bool is an int subclass; neither it nor huge numbers are ever in our keys.
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    if expected is not None and not isinstance(value, expected):
        return False
    if isinstance(value, int):
        return 0 <= value < MAX_CURSOR_INT
    return 0 < len(value) <= MAX_CURSOR_STR


def decode_cursor(token: str, allowed_keys: frozenset[str] | Mapping[str, type]) -> dict[str, Any]:
    """The position a cursor stands for; InvalidCursor for anything this API did not hand out.

    `allowed_keys` names the keys a cursor may carry, or maps each to its type (`str` or
    `int`); a key given by name only is checked against KEY_ATTRIBUTE_TYPES when it is a
    table key there.
    """
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursor("bad cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("bad cursor") from None
    if isinstance(allowed_keys, Mapping):
        expected: Mapping[str, type | None] = allowed_keys
    else:
        expected = {k: KEY_ATTRIBUTE_TYPES.get(k) for k in allowed_keys}
    if not isinstance(data, dict) or not data or not set(data) <= set(expected):
        raise InvalidCursor("bad cursor")
    for key, value in data.items():
        if not _valid_value(value, expected[key]):
            raise InvalidCursor("bad cursor")
    return data
