"""Cursors: what a client sends back is checked for keys and types before DynamoDB sees it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hdcn_common.pagination import KEY_ATTRIBUTE_TYPES, InvalidCursor, decode_cursor, encode_cursor

from backend.local.template import load_template

pytestmark = pytest.mark.unit

# A listing position with a number key (as a table with an N-typed sort key would hand out).
MEMBER_KEYS = {"r": int, "member_id": str, "regio": str, "lidnummer": int}


def _forge(data: Any) -> str:
    """A cursor as a hostile client would write it: base64url JSON of anything."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_handed_out_decodes_to_its_position() -> None:
    # GIVEN a cursor this API handed out WHEN it comes back THEN it decodes to the same position
    position = {"r": 1, "member_id": "m-1", "regio": "Utrecht", "lidnummer": 1234}
    assert decode_cursor(encode_cursor(position), MEMBER_KEYS) == position


@pytest.mark.parametrize(
    "data",
    [
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": "abc"},  # number key as a string
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": "12"},  # even a numeric string
        {"r": 0, "member_id": 7, "regio": "Utrecht", "lidnummer": 12},  # string key as a number
        {"r": 0, "member_id": "m-1", "regio": ["Utrecht"], "lidnummer": 12},
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": 1.5},
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": True},
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": -1},
        {"r": 0, "member_id": "", "regio": "Utrecht", "lidnummer": 1},
        {"r": 0, "member_id": "m-1", "regio": "Utrecht", "lidnummer": 10**13},
        {"r": None},
        {"other": "x"},
        {},
        [1, 2],
    ],
)
def test_forged_cursors_with_the_right_keys_and_wrong_types_are_refused(data: Any) -> None:
    # GIVEN a forged cursor WHEN decoded THEN it is refused
    with pytest.raises(InvalidCursor):
        decode_cursor(_forge(data), MEMBER_KEYS)


def test_callers_may_name_the_type_of_each_key() -> None:
    # GIVEN a caller that declares its own marker as an int
    expected = {"r": int, "member_id": str}
    # WHEN a cursor carries it as a string THEN it is refused; as an int it is accepted
    with pytest.raises(InvalidCursor):
        decode_cursor(_forge({"r": "0"}), expected)
    assert decode_cursor(_forge({"r": 0, "member_id": "m"}), expected) == {"r": 0, "member_id": "m"}


def test_key_types_match_the_templates_attribute_definitions() -> None:
    # GIVEN every key attribute the template declares WHEN compared THEN each has its Python type here
    declared: dict[str, type] = {}
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        for definition in resource["Properties"]["AttributeDefinitions"]:
            declared[definition["AttributeName"]] = {"S": str, "N": int}[definition["AttributeType"]]
    assert dict(KEY_ATTRIBUTE_TYPES) == declared
