"""User management: the handler on moto's Cognito (groups as the template makes them) and the access log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hdcn_common import settings as settings_module
from hdcn_common.users import ALL_GROUPS, temporary_password

from backend.local.template import load_template
from tests.unit.api_events import call_api
from tests.unit.aws_fixtures import REGION

pytestmark = pytest.mark.unit


@pytest.fixture
def pool(template_resources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """GIVEN a pool with the template's groups, root (System_CRUD) and a secretary (user management)."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    pool_id = idp.create_user_pool(PoolName="club")["UserPool"]["Id"]
    for group in ALL_GROUPS:
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    for user, groups in (
        ("root", ["System_CRUD"]),
        ("secretaris", ["System_User_Management", "Members_Read"]),
    ):
        idp.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS")
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    monkeypatch.setenv("USER_INVITE_DELIVERY", "SHOW")
    settings_module.settings.cache_clear()
    yield {"idp": idp, "pool_id": pool_id, "audit": template_resources["AuditLogTable"]}


def _call(method: str, path: str, caller: str, groups: str, body: Any = None) -> tuple[int, Any]:
    return call_api(method, path, groups, body, username=caller)


ROOT = ("root", "System_CRUD")
SECRETARY = ("secretaris", "System_User_Management,Members_Read")


def _audit(pool: dict[str, Any]) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb", region_name=REGION).Table(pool["audit"]).scan()["Items"]


def test_invite_list_change_disable_reset_remove_each_logged_without_secrets(pool: dict[str, Any]) -> None:
    # WHEN root invites a Utrecht coordinator THEN the user must change the shown temporary password
    status, body = _call(
        "POST",
        "/users",
        *ROOT,
        {"username": "coord-utrecht", "email": "c@example.nl", "groups": ["Members_Read"]},
    )
    assert status == 201, body
    shown = body["temporary_password"]
    assert body["user"]["status"] == "must_change_password" and body["user"]["groups"] == ["Members_Read"]
    assert body["user"]["warnings"], "a member permission without a region is pointed out"
    # AND the list shows them, searchable by email
    status, page = _call("GET", "/users", *ROOT)
    assert status == 200 and {"coord-utrecht", "root", "secretaris"} <= {u["username"] for u in page["users"]}
    # WHEN their region is added THEN the warning is gone
    status, body = _call(
        "PUT", "/users/coord-utrecht/groups", *ROOT, {"groups": ["Members_Read", "Regio_Utrecht"]}
    )
    assert status == 200 and body["user"]["regions"] == ["Regio_Utrecht"] and not body["user"]["warnings"]
    # WHEN disabled, enabled, reset THEN each shows in the status
    assert _call("POST", "/users/coord-utrecht/disable", *ROOT)[1]["user"]["status"] == "disabled"
    assert _call("POST", "/users/coord-utrecht/enable", *ROOT)[1]["user"]["enabled"] is True
    status, body = _call("POST", "/users/coord-utrecht/reset-password", *ROOT)
    assert status == 200 and body["temporary_password"] and body["user"]["status"] == "must_change_password"
    # WHEN removed THEN gone
    assert _call("DELETE", "/users/coord-utrecht", *ROOT)[0] == 204
    assert _call("GET", "/users/coord-utrecht", *ROOT)[0] == 404
    # THEN the access log holds every change, by whom, and no password
    actions = [e["action"] for e in sorted(_audit(pool), key=lambda e: e["entry"])]
    assert actions == [
        "user.invite",
        "user.groups",
        "user.disable",
        "user.enable",
        "user.reset_password",
        "user.remove",
    ]
    text = json.dumps(_audit(pool), default=str)
    assert shown not in text and body["temporary_password"] not in text and '"actor": "root"' in text


@pytest.mark.parametrize(
    ("caller", "method", "path", "body", "reason"),
    [
        # a secretary cannot grant what they do not hold
        (
            SECRETARY,
            "POST",
            "/users",
            {"username": "nieuw", "email": "n@example.nl", "groups": ["System_CRUD"]},
            "do not hold",
        ),
        (
            SECRETARY,
            "POST",
            "/users",
            {"username": "nieuw", "email": "n@example.nl", "groups": ["Members_CRUD"]},
            "do not hold",
        ),
        # nobody disables, removes or demotes themselves or the last System_CRUD user
        (ROOT, "POST", "/users/root/disable", None, "yourself"),
        (SECRETARY, "POST", "/users/root/disable", None, "last System_CRUD"),
        (SECRETARY, "DELETE", "/users/root", None, "last System_CRUD"),
        (ROOT, "PUT", "/users/root/groups", {"groups": []}, "yourself"),
        (
            ROOT,
            "POST",
            "/users",
            {"username": "nieuw", "email": "n@example.nl", "groups": ["Geen_Groep"]},
            "unknown group",
        ),
    ],
)
def test_guards_answer_403_with_a_reason_and_change_nothing(
    pool: dict[str, Any], caller: tuple[str, str], method: str, path: str, body: Any, reason: str
) -> None:
    status, answer = _call(method, path, *caller, body)
    assert status == 403 and reason in answer["error"]["message"], answer
    users = pool["idp"].list_users(UserPoolId=pool["pool_id"])["Users"]
    assert {u["Username"] for u in users} == {"root", "secretaris"} and all(u["Enabled"] for u in users)


def test_a_secretary_grants_what_they_hold_and_others_get_403(pool: dict[str, Any]) -> None:
    body = {"username": "lezer", "email": "l@example.nl", "groups": ["Members_Read"]}
    assert _call("POST", "/users", *SECRETARY, body)[0] == 201
    for caller, groups in (("staff", "Members_CRUD,Regio_All"), ("ops", "System_Logs_Read")):
        assert _call("GET", "/users", caller, groups)[0] == 403


def test_temporary_passwords_meet_the_pools_policy() -> None:
    policy = load_template()["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    for _ in range(50):
        pw = temporary_password()
        assert len(pw) >= policy["MinimumLength"]
        assert any(c.isupper() for c in pw) and any(c.islower() for c in pw) and any(c.isdigit() for c in pw)
