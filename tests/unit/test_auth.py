"""Roles and regions from token claims (hdcn_common.auth)."""

from __future__ import annotations

import pytest
from hdcn_common.auth import ALL_REGIONS, Role, caller_from_claims, parse_groups

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "raw",
    [
        "Members_Read,Regio_Utrecht",
        "[Members_Read, Regio_Utrecht]",
        "[Members_Read Regio_Utrecht]",
        ["Members_Read", "Regio_Utrecht"],
    ],
)
def test_groups_parse_in_every_shape_api_gateway_uses(raw: object) -> None:
    assert parse_groups(raw) == {"Members_Read", "Regio_Utrecht"}


def test_regional_reader_sees_only_their_region() -> None:
    caller = caller_from_claims({"cognito:username": "u", "cognito:groups": "Members_Read,Regio_Utrecht"})
    assert caller is not None
    assert caller.regions == {"Utrecht"}
    assert caller.can_read_members and not caller.can_write_members and not caller.can_export


def test_permission_without_region_sees_no_member_data() -> None:
    caller = caller_from_claims({"cognito:username": "u", "cognito:groups": "Members_CRUD"})
    assert caller is not None and not caller.can_read_members and not caller.can_write_members


def test_system_crud_implies_every_role_and_region() -> None:
    caller = caller_from_claims({"cognito:username": "root", "cognito:groups": "System_CRUD"})
    assert caller is not None
    assert caller.regions == ALL_REGIONS
    assert all(caller.has(role) for role in Role)


def test_unknown_region_group_grants_nothing() -> None:
    caller = caller_from_claims({"cognito:username": "u", "cognito:groups": "Members_Read,Regio_Atlantis"})
    assert caller is not None and caller.regions == frozenset()


def test_no_claims_is_no_caller() -> None:
    assert caller_from_claims(None) is None
    assert caller_from_claims({}) is None
