"""The Users page's plain logic: group lists, the warning before saving, the API's refusals in Dutch.

The API decides every change (`hdcn_common.users`); this only prepares what the page shows.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from console import formats, member_model
from console.i18n import N_, t

PERMISSION_GROUPS: tuple[str, ...] = (
    "Members_Read",
    "Members_Export",
    "Members_CRUD",
    "Products_CRUD",
    "System_Logs_Read",
    "System_User_Management",
    "System_CRUD",
)
REGION_GROUPS: tuple[str, ...] = ("Regio_All", *(f"Regio_{r}" for r in sorted(member_model.REGIONS)))
MEMBER_PERMISSIONS = frozenset({"Members_Read", "Members_Export", "Members_CRUD"})
STATUS_TEXT = {
    "confirmed": N_("users.status.confirmed"),
    "must_change_password": N_("users.status.must_change_password"),
    "disabled": N_("users.status.disabled"),
    "other": N_("users.status.other"),
}
# The API's 403 reasons (hdcn_common.users, the users handler) → Dutch; others are shown generically.
REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"you may not grant or take away (\w+)"), N_("users.refused.not_held")),
    (re.compile(r"the last System_CRUD user"), N_("users.refused.last_system_crud")),
    (re.compile(r"change your own groups"), N_("users.refused.own_groups")),
    (re.compile(r"reset your own password"), N_("users.refused.own_reset")),
    (re.compile(r"you may not (\w+) yourself"), N_("users.refused.yourself")),
    (re.compile(r"unknown group"), N_("users.refused.unknown_group")),
)
COLUMN_LABELS = {
    "username": N_("users.col.username"),
    "name": N_("users.col.name"),
    "email": N_("users.col.email"),
    "status": N_("users.col.status"),
    "permissions": N_("users.col.permissions"),
    "regions": N_("users.col.regions"),
    "last_change": N_("users.col.last_change"),
}
COLUMNS = tuple(COLUMN_LABELS)
ACTION_LABELS = {
    "enable": N_("users.action.enable"),
    "disable": N_("users.action.disable"),
    "reset-password": N_("users.action.reset"),
    "remove": N_("users.action.remove"),
}


def needs_region_warning(groups: list[str] | set[str]) -> bool:
    """A member permission without a Regio_ group reads no member data (the API accepts it)."""
    return bool(MEMBER_PERMISSIONS & set(groups)) and not any(g.startswith("Regio_") for g in groups)


def refusal_text(reason: str) -> str:
    """The API's 403 reason in the user's language."""
    for pattern, message in REFUSALS:
        found = pattern.search(reason)
        if found:
            return t(message, group=found.group(1)) if found.groups() else t(message)
    return t("users.refused.other")


def matches(user: dict[str, Any], query: str) -> bool:
    """Search by username, name or email (case-insensitive)."""
    q = query.strip().lower()
    return not q or any(q in str(user.get(k) or "").lower() for k in ("username", "name", "email"))


def user_frame(users: list[dict[str, Any]]) -> pd.DataFrame:
    """The list as a table: status in words, groups joined, last change in Dutch form."""
    rows = [
        {
            "username": u.get("username", ""),
            "name": u.get("name") or "",
            "email": u.get("email") or "",
            "status": t(STATUS_TEXT.get(str(u.get("status")), "users.status.other")),
            "permissions": ", ".join(u.get("permissions") or []),
            "regions": ", ".join(u.get("regions") or []),
            "last_change": formats.moment(u.get("last_change")) if u.get("last_change") else "",
        }
        for u in users
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))
