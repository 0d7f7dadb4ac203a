"""Who may use the console: the Cognito pool's users, their groups, and the rules for changing them.

A secretary with `System_User_Management` (or anyone with `System_CRUD`) invites volunteers,
gives them permission and region groups, disables, re-enables, resets and removes them. The
guards hold whatever the console shows: nobody grants a group they do not hold themselves
(`System_CRUD` holds every group), nobody disables, removes or demotes themselves or the last
`System_CRUD` user. A change of groups or a disable signs the user out everywhere, so it takes
effect within the ID token's life (15 minutes, template.yaml).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from hdcn_common.auth import ALL_REGIONS, Caller, Role

USER_MANAGEMENT = "System_User_Management"
PERMISSION_GROUPS = (
    Role.MEMBERS_READ.value,
    Role.MEMBERS_EXPORT.value,
    Role.MEMBERS_CRUD.value,
    Role.PRODUCTS_CRUD.value,
    Role.SYSTEM_LOGS_READ.value,
    USER_MANAGEMENT,
    Role.SYSTEM_CRUD.value,
)
REGION_GROUPS = ("Regio_All", *sorted(f"Regio_{r}" for r in ALL_REGIONS))
ALL_GROUPS = frozenset(PERMISSION_GROUPS) | frozenset(REGION_GROUPS)
MEMBER_PERMISSIONS = frozenset({Role.MEMBERS_READ.value, Role.MEMBERS_EXPORT.value, Role.MEMBERS_CRUD.value})
# Cognito's own states, as a secretary would read them.
STATUS = {
    "CONFIRMED": "confirmed",
    "FORCE_CHANGE_PASSWORD": "must_change_password",
    "RESET_REQUIRED": "must_change_password",
}

Username = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
GroupName = Annotated[str, Field(min_length=1, max_length=64)]


class Invite(BaseModel):
    """Body of POST /users: a new user, their email and their groups."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: Username
    email: Annotated[str, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})]
    groups: Annotated[list[GroupName], Field(min_length=1, max_length=20)]


class GroupsChange(BaseModel):
    """Body of PUT /users/{username}/groups: the user's groups after the change."""

    model_config = ConfigDict(extra="forbid")

    groups: Annotated[list[GroupName], Field(max_length=20)]


class UserView(BaseModel):
    """A user as the console lists them (no secrets, no attributes beyond name and email)."""

    username: str
    email: str | None = None
    name: str | None = None
    status: Literal["confirmed", "must_change_password", "disabled", "other"]
    enabled: bool
    groups: list[str]
    permissions: list[str]
    regions: list[str]
    last_change: str | None = None
    warnings: list[str] = []


class UserPage(BaseModel):
    users: list[UserView]


class ChangeResult(BaseModel):
    """What a change did; `temporary_password` only where the deployment shows it (the local stack)."""

    user: UserView
    temporary_password: str | None = None


class UserRuleBroken(Exception):
    """The change breaks a guard; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UserNotFound(Exception):
    """No such user in the pool."""


class UserExists(Exception):
    """The username (or email) is taken."""


def may_manage_users(caller: Caller) -> bool:
    return caller.has(Role.SYSTEM_CRUD) or USER_MANAGEMENT in caller.groups


def holds(caller: Caller, group: str) -> bool:
    """Whether the caller holds `group` (System_CRUD holds all; Regio_All holds every region group)."""
    if Role.SYSTEM_CRUD.value in caller.groups or group in caller.groups:
        return True
    return group.startswith("Regio_") and "Regio_All" in caller.groups


def warnings_for(groups: list[str] | set[str] | frozenset[str]) -> list[str]:
    """What a secretary should know before saving (the API accepts these)."""
    notes = []
    has_region = any(g.startswith("Regio_") for g in groups)
    if MEMBER_PERMISSIONS & set(groups) and not has_region:
        notes.append("a member permission without a Regio_ group sees no member data")
    return notes


def check_groups(caller: Caller, before: set[str], after: set[str]) -> None:
    """Refuse unknown groups and any group granted or taken away that the caller does not hold."""
    unknown = sorted(after - ALL_GROUPS)
    if unknown:
        raise UserRuleBroken(f"unknown group: {', '.join(unknown)}")
    for group in sorted(before ^ after):
        if not holds(caller, group):
            raise UserRuleBroken(f"you may not grant or take away {group}: you do not hold it yourself")


def temporary_password() -> str:
    """A first password the pool's policy accepts (12+ characters, upper, lower, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits
    body = [secrets.choice(alphabet) for _ in range(14)]
    body += [secrets.choice(string.ascii_uppercase), secrets.choice(string.ascii_lowercase)]
    body += [secrets.choice(string.digits), secrets.choice("!#%+-=?@")]
    secrets.SystemRandom().shuffle(body)
    return "".join(body)


@dataclass
class UserDirectory:
    """The pool's users through Cognito's admin API; Cognito's errors become domain exceptions."""

    idp: Any
    pool_id: str
    show_temporary_password: bool = False

    # -------------------------------------------------------------- reads
    def _group_members(self) -> dict[str, set[str]]:
        """username → groups, from one listing per group (fewer calls than one per user)."""
        groups: dict[str, set[str]] = {}
        for group in sorted(ALL_GROUPS):
            token = None
            while True:
                kwargs: dict[str, Any] = {"UserPoolId": self.pool_id, "GroupName": group, "Limit": 60}
                if token:
                    kwargs["NextToken"] = token
                try:
                    res = self.idp.list_users_in_group(**kwargs)
                except ClientError as err:
                    if err.response["Error"]["Code"] == "ResourceNotFoundException":
                        break  # an adopted pool need not have every group
                    raise
                for user in res.get("Users", []):
                    groups.setdefault(user["Username"], set()).add(group)
                token = res.get("NextToken")
                if not token:
                    break
        return groups

    def search(self, q: str | None = None) -> list[UserView]:
        """Every user with their groups, optionally those whose username, name or email holds `q`."""
        memberships = self._group_members()
        users, token = [], None
        while True:
            kwargs: dict[str, Any] = {"UserPoolId": self.pool_id, "Limit": 60}
            if token:
                kwargs["PaginationToken"] = token
            res = self.idp.list_users(**kwargs)
            users.extend(res.get("Users", []))
            token = res.get("PaginationToken")
            if not token:
                break
        views = [self._view(u, memberships.get(u["Username"], set())) for u in users]
        if q:
            needle = q.casefold()
            views = [
                v for v in views if any(needle in (x or "").casefold() for x in (v.username, v.email, v.name))
            ]
        return sorted(views, key=lambda v: v.username)

    def get(self, username: str) -> UserView:
        try:
            user = self.idp.admin_get_user(UserPoolId=self.pool_id, Username=username)
        except ClientError as err:
            if err.response["Error"]["Code"] == "UserNotFoundException":
                raise UserNotFound() from None
            raise
        groups = self._groups_of(username)
        user["Attributes"] = user.get("UserAttributes", [])
        return self._view(user, groups)

    def _groups_of(self, username: str) -> set[str]:
        groups, token = set(), None
        while True:
            kwargs: dict[str, Any] = {"UserPoolId": self.pool_id, "Username": username, "Limit": 60}
            if token:
                kwargs["NextToken"] = token
            res = self.idp.admin_list_groups_for_user(**kwargs)
            groups |= {g["GroupName"] for g in res.get("Groups", [])}
            token = res.get("NextToken")
            if not token:
                return groups

    def system_crud_users(self) -> list[str]:
        """Enabled users holding System_CRUD (the guards keep at least one)."""
        return [u.username for u in self.search() if Role.SYSTEM_CRUD.value in u.groups and u.enabled]

    @staticmethod
    def _view(user: dict[str, Any], groups: set[str]) -> UserView:
        attrs = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
        enabled = bool(user.get("Enabled", True))
        status = "disabled" if not enabled else STATUS.get(str(user.get("UserStatus")), "other")
        changed = user.get("UserLastModifiedDate")
        return UserView(
            username=user["Username"],
            email=attrs.get("email"),
            name=attrs.get("name"),
            status=status,  # type: ignore[arg-type]
            enabled=enabled,
            groups=sorted(groups),
            permissions=sorted(g for g in groups if g in PERMISSION_GROUPS),
            regions=sorted(g for g in groups if g.startswith("Regio_")),
            last_change=changed.isoformat(timespec="seconds") if isinstance(changed, datetime) else None,
            warnings=warnings_for(groups),
        )

    # -------------------------------------------------------------- changes
    def invite(self, invite: Invite) -> tuple[UserView, str | None]:
        """Create the user with a temporary password (emailed by Cognito, or returned to show once)."""
        password = temporary_password()
        kwargs: dict[str, Any] = {
            "UserPoolId": self.pool_id,
            "Username": invite.username,
            "TemporaryPassword": password,
            "UserAttributes": [
                {"Name": "email", "Value": invite.email},
                {"Name": "email_verified", "Value": "true"},
            ],
            "DesiredDeliveryMediums": ["EMAIL"],
        }
        if self.show_temporary_password:
            kwargs["MessageAction"] = "SUPPRESS"
        try:
            self.idp.admin_create_user(**kwargs)
        except ClientError as err:
            if err.response["Error"]["Code"] in ("UsernameExistsException", "AliasExistsException"):
                raise UserExists() from None
            raise
        for group in sorted(set(invite.groups)):
            self.idp.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=invite.username, GroupName=group
            )
        return self.get(invite.username), password if self.show_temporary_password else None

    def set_groups(self, username: str, before: set[str], after: set[str]) -> None:
        for group in sorted(after - before):
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)
        for group in sorted(before - after):
            self.idp.admin_remove_user_from_group(UserPoolId=self.pool_id, Username=username, GroupName=group)
        self.sign_out(username)

    def disable(self, username: str) -> None:
        self.idp.admin_disable_user(UserPoolId=self.pool_id, Username=username)
        self.sign_out(username)

    def enable(self, username: str) -> None:
        self.idp.admin_enable_user(UserPoolId=self.pool_id, Username=username)

    def reset_password(self, username: str, email: str | None) -> str | None:
        """A new temporary password the user must change at the next sign-in (emailed on AWS)."""
        password = temporary_password()
        self.idp.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=False
        )
        self.sign_out(username)
        if not self.show_temporary_password:
            # Resending the invitation mails the new temporary password (the pool recovers by admin only).
            self.idp.admin_create_user(
                UserPoolId=self.pool_id,
                Username=username,
                TemporaryPassword=password,
                MessageAction="RESEND",
                DesiredDeliveryMediums=["EMAIL"],
            )
            return None
        return password

    def remove(self, username: str) -> None:
        self.sign_out(username)
        self.idp.admin_delete_user(UserPoolId=self.pool_id, Username=username)

    def sign_out(self, username: str) -> None:
        """End every session of the user (refresh tokens revoked; ID tokens lapse within 15 minutes)."""
        try:
            self.idp.admin_user_global_sign_out(UserPoolId=self.pool_id, Username=username)
        except ClientError as err:
            if err.response["Error"]["Code"] != "UserNotFoundException":
                raise


def guard_self_and_last_admin(
    caller: Caller, target: UserView, directory: UserDirectory, action: str
) -> None:
    """Nobody disables, removes or demotes themselves, or the last enabled System_CRUD user."""
    if target.username == caller.username:
        raise UserRuleBroken(f"you may not {action} yourself")
    is_admin = Role.SYSTEM_CRUD.value in target.groups and target.enabled
    if is_admin and directory.system_crud_users() == [target.username]:
        raise UserRuleBroken(f"you may not {action} the last System_CRUD user")
