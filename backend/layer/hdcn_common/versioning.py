"""The version a write expects, from the body's `version` or an `If-Match` header."""

from __future__ import annotations

import re
from typing import Literal, overload

from hdcn_common.api import Unprocessable

# If-Match as the console sends it ("3") or as an ETag ("\"3\"", W/"3").
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')


def parse_if_match(value: str) -> int:
    m = _IF_MATCH.match(value)
    if not m:
        raise Unprocessable(
            "If-Match must be the version number that was read",
            [{"loc": ["header", "If-Match"], "msg": "not a version number", "type": "value_error"}],
        )
    return int(m.group(1))


@overload
def expected_version(body_version: int | None, if_match: str | None) -> int: ...
@overload
def expected_version(body_version: int | None, if_match: str | None, *, required: Literal[True]) -> int: ...
@overload
def expected_version(body_version: int | None, if_match: str | None, *, required: bool) -> int | None: ...


def expected_version(body_version: int | None, if_match: str | None, *, required: bool = True) -> int | None:
    """The version the caller read; 422 if it is missing (when required) or the two sources disagree."""
    header_version = parse_if_match(if_match) if if_match not in (None, "") else None
    if body_version is not None and header_version is not None and body_version != header_version:
        raise Unprocessable(
            "the body's version and If-Match disagree",
            [{"loc": ["body", "version"], "msg": "differs from If-Match", "type": "value_error"}],
        )
    version = body_version if body_version is not None else header_version
    if version is None and required:
        raise Unprocessable(
            "send the version you read (body field `version` or an If-Match header)",
            [{"loc": ["body", "version"], "msg": "Field required", "type": "missing"}],
        )
    return version
