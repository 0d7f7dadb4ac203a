"""Opaque list cursors: DynamoDB's LastEvaluatedKey (plus where a multi-part listing stands) as a token.

A cursor is base64url JSON; what comes back from a client is checked strictly
(only the expected keys, only strings and integers) before DynamoDB sees it, so a
forged or mangled cursor is a 400, never a DynamoDB validation error.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

MAX_CURSOR_CHARS = 1024


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


def decode_cursor(token: str, allowed_keys: frozenset[str]) -> dict[str, Any]:
    """The position a cursor stands for; InvalidCursor for anything this API did not hand out."""
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursor("bad cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("bad cursor") from None
    if not isinstance(data, dict) or not data or not set(data) <= allowed_keys:
        raise InvalidCursor("bad cursor")
    for value in data.values():
        # bool is an int subclass; neither it nor huge numbers are ever in our keys.
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidCursor("bad cursor")
        if isinstance(value, int) and not 0 <= value < 10**12:
            raise InvalidCursor("bad cursor")
        if isinstance(value, str) and not 0 < len(value) <= 200:
            raise InvalidCursor("bad cursor")
    return data
