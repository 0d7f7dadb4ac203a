"""The Toegangslog page's plain logic: filters, Dutch action names, table rows, the CSV of all pages.

The access log (`GET /audit`) names who did what to which member, export or user, never the
personal data itself; this module only turns its entries into what a privacy officer reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from console import formats
from console.i18n import N_, t

DEFAULT_DAYS = 7  # the API's own default period: today and the six days before
MAX_PERIOD_DAYS = 400  # the API refuses longer periods (hdcn_common.audit.MAX_PERIOD_DAYS)
PAGE_SIZE = 50  # rows per table page: one screen
CSV_PAGE_SIZE = 500  # the API's largest page
# A year of a club's log is a few thousand lines; beyond this the file is cut and the page says so.
CSV_CAP = 10_000

# The actions the backend writes (handlers' `record(...)` calls) → their Dutch names.
ACTIONS: dict[str, str] = {
    "member.list": N_("audit.action.member_list"),
    "member.read": N_("audit.action.member_read"),
    "member.create": N_("audit.action.member_create"),
    "member.update": N_("audit.action.member_update"),
    "member.delete": N_("audit.action.member_delete"),
    "member.data_export": N_("audit.action.member_data_export"),
    "member.erase": N_("audit.action.member_erase"),
    "member.erase.finished": N_("audit.action.member_erase_finished"),
    "member.retention": N_("audit.action.member_retention"),
    "export.request": N_("audit.action.export_request"),
    "export.generated": N_("audit.action.export_generated"),
    "export.download": N_("audit.action.export_download"),
    "user.invite": N_("audit.action.user_invite"),
    "user.groups": N_("audit.action.user_groups"),
    "user.disable": N_("audit.action.user_disable"),
    "user.enable": N_("audit.action.user_enable"),
    "user.reset_password": N_("audit.action.user_reset_password"),
    "user.remove": N_("audit.action.user_remove"),
}
# An entry's own keys: shown in their own columns or not at all (storage keys, expiry).
OWN_KEYS = frozenset({"day", "entry", "at", "actor", "action", "target", "function", "expires_at"})
# The details an entry may carry → their Dutch names; others are shown by their key.
DETAIL_LABELS: dict[str, str] = {
    "member_ids": N_("audit.detail.member_ids"),
    "regions": N_("audit.detail.regions"),
    "rows": N_("audit.detail.rows"),
    "fields": N_("audit.detail.fields"),
    "groups": N_("audit.detail.groups"),
    "added": N_("audit.detail.added"),
    "removed": N_("audit.detail.removed"),
    "options": N_("audit.detail.options"),
    "erasure_id": N_("audit.detail.erasure_id"),
    "export_id": N_("audit.detail.export_id"),
    "mode": N_("audit.detail.mode"),
    "retry": N_("audit.detail.retry"),
    "status": N_("audit.detail.status"),
    "exports_rewritten": N_("audit.detail.exports_rewritten"),
    "exports_withdrawn": N_("audit.detail.exports_withdrawn"),
    "versions_deleted": N_("audit.detail.versions_deleted"),
    "error": N_("audit.detail.error"),
    "due": N_("audit.detail.due"),
    "cannot_tell": N_("audit.detail.cannot_tell"),
    "erased": N_("audit.detail.erased"),
    "failed": N_("audit.detail.failed"),
    "exports_removed": N_("audit.detail.exports_removed"),
}
# Targets the backend writes in English words rather than an id (a list page, a lookup, an export's scope).
TARGET_WORDS: dict[str, str] = {
    "email lookup": N_("audit.target.email_lookup"),
    "all regions": N_("audit.target.all_regions"),
}
_COUNTED_MEMBERS = re.compile(r"(\d+) members")
COLUMN_LABELS: dict[str, str] = {
    "at": N_("audit.col.at"),
    "actor": N_("audit.col.actor"),
    "action": N_("audit.col.action"),
    "target": N_("audit.col.target"),
    "details": N_("audit.col.details"),
    "function": N_("audit.col.function"),
}
COLUMNS = tuple(COLUMN_LABELS)


@dataclass(frozen=True)
class AuditFilters:
    """What the page asks the API for; empty texts mean "any"."""

    since: date
    until: date
    user: str = ""
    action: str = ""
    member: str = ""

    def problem(self) -> str | None:
        """A message id when the API would refuse the period, else None."""
        if self.since > self.until:
            return N_("audit.error.period_backwards")
        if (self.until - self.since).days >= MAX_PERIOD_DAYS:
            return N_("audit.error.period_too_long")
        return None

    def params(self) -> dict[str, str]:
        """The query of `GET /audit` (empty filters left out).

        The log is kept by UTC day and the page speaks Amsterdam days, which start one or two
        hours earlier: the day before `since` is asked for too, and `keeps` drops what falls outside.
        """
        found = {
            "since": (self.since - timedelta(days=1)).isoformat(),
            "until": self.until.isoformat(),
            "user": self.user.strip(),
            "action": self.action,
            "member": self.member.strip(),
        }
        return {k: v for k, v in found.items() if v}

    def keeps(self, entry: dict[str, Any]) -> bool:
        """The entry happened on one of the period's days, in Amsterdam time."""
        moment = formats.to_moment(entry.get("at"))
        if moment is None:
            return True  # an entry without a readable time is shown rather than hidden
        return self.since <= moment.astimezone(formats.TIMEZONE).date() <= self.until


def default_period(today: date) -> tuple[date, date]:
    """The last seven days, today included (as the API reads a period without dates)."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def action_label(code: str) -> str:
    """An action in the user's language; one this console does not know yet, by its code."""
    msgid = ACTIONS.get(code)
    return t(msgid) if msgid else code


def is_lidnummer(text: str) -> bool:
    """A lidnummer is digits only; a member id is the API's UUID."""
    return text.strip().isascii() and text.strip().isdigit() and len(text.strip()) <= 9


def member_id_for(lidnummer: str, members: Sequence[dict[str, Any]]) -> str | None:
    """The member id of the member with this lidnummer among `members` (stored as number or text)."""
    for member in members:
        if str(member.get("lidnummer", "")).strip() == lidnummer.strip() and member.get("member_id"):
            return str(member["member_id"])
    return None


def target_text(target: Any) -> str:
    """What an entry concerns: an id as stored; the backend's words for a list or lookup in Dutch."""
    text = str(target or "")
    if counted := _COUNTED_MEMBERS.fullmatch(text):
        count = int(counted.group(1))
        return (
            t("audit.target.one_member")
            if count == 1
            else t("audit.target.members", count=formats.number(count))
        )
    return t(TARGET_WORDS[text]) if text in TARGET_WORDS else text


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return t("audit.yes") if value else t("audit.no")
    if isinstance(value, int | float):
        return formats.number(value)
    return str(value)


def details_text(entry: dict[str, Any]) -> str:
    """The entry's details in one line; a list of members is counted.

    A list page logs up to 200 member ids: in full they would swamp the table and make a year's
    CSV tens of megabytes of identifiers nobody reads. Who saw one member is asked with the member
    filter (the API matches it inside these lists), so the count is all a row needs to say.
    """
    parts = []
    for key in sorted(k for k in entry if k not in OWN_KEYS):
        value = entry[key]
        name = t(DETAIL_LABELS[key]) if key in DETAIL_LABELS else key
        if key == "member_ids" and isinstance(value, list):
            parts.append(f"{name}: {formats.number(len(value))}")
        else:
            parts.append(f"{name}: {_value_text(value)}")
    return "; ".join(parts)


def entry_frame(entries: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The entries as the table (and the CSV) shows them: Dutch time, action names, details in words."""
    rows = [
        {
            "at": formats.moment(e.get("at")),
            "actor": str(e.get("actor") or ""),
            "action": action_label(str(e.get("action") or "")),
            "target": target_text(e.get("target")),
            "details": details_text(e),
            "function": str(e.get("function") or ""),
        }
        for e in entries
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def column_label(column: str) -> str:
    return t(COLUMN_LABELS[column]) if column in COLUMN_LABELS else column


def csv_bytes(entries: Sequence[dict[str, Any]]) -> bytes:
    """The entries as the table shows them, as a Dutch CSV (`;`, UTF-8 BOM, Dutch times, inert cells)."""
    return formats.csv_bytes(entry_frame(entries), header=column_label)


def csv_file_name(filters: AuditFilters) -> str:
    return f"toegangslog-{filters.since.isoformat()}-{filters.until.isoformat()}.csv"


Fetch = Callable[[str | None, int], tuple[list[dict[str, Any]], str | None]]


def all_entries(fetch: Fetch, cap: int = CSV_CAP) -> tuple[list[dict[str, Any]], bool]:
    """Every entry of the filters, page after page, up to `cap`; and whether more were left out."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page, cursor = fetch(cursor, min(CSV_PAGE_SIZE, cap - len(found)))
        found.extend(page)
        if cursor is None:
            return found[:cap], len(found) > cap
        if len(found) > cap:
            return found[:cap], True
        if len(found) == cap:
            # A cursor may lead to nothing more: one small read says whether the file is really cut.
            more, _ = fetch(cursor, 1)
            return found, bool(more)
