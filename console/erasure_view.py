"""The member page's AVG parts, plain logic: the data export's file, the erase confirmation and progress.

Erasure contract (`POST|GET /members/{member_id}/erase`): an erasure object with `mode`
("delete": the record goes; "wipe": lidnummer and membership history stay, every personal
field is emptied), `status` (queued, running, done, failed) and the export job's counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from console import formats
from console.i18n import N_, t

POLL_SECONDS = 2
ACTIVE = frozenset({"queued", "running"})
STATUS_LABELS: dict[str, str] = {
    "queued": N_("erase.status.queued"),
    "running": N_("erase.status.running"),
    "done": N_("erase.status.done"),
    "failed": N_("erase.status.failed"),
}
MODE_DONE: dict[str, str] = {
    "delete": N_("erase.done.delete"),
    "wipe": N_("erase.done.wipe"),
}


def confirmation_token(member: dict[str, Any]) -> str:
    """What must be typed to confirm: the lidnummer (an applicant without one: the member id)."""
    number = member.get("lidnummer")
    return str(number).strip() if number not in (None, "") else str(member.get("member_id", ""))


def confirmed(typed: str, member: dict[str, Any]) -> bool:
    """The typed text is exactly the member's lidnummer (spaces around it forgiven)."""
    token = confirmation_token(member)
    return bool(token) and typed.strip() == token


def data_export_file_name(member: dict[str, Any]) -> str:
    """`avg-gegevens-lid-1042.json`: named by lidnummer, never by name (file names travel)."""
    return f"avg-gegevens-lid-{confirmation_token(member)}.json"


def data_export_bytes(data: dict[str, Any]) -> bytes:
    """The API's answer as readable JSON (UTF-8, accents kept, indented)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def data_export_summary(data: dict[str, Any]) -> str:
    """One line on what the file holds: history entries and exports that hold the member."""
    history = data.get("history") or data.get("change_history") or []
    exports = data.get("exports") or []
    return t(
        "avg.data_export.summary",
        history=formats.number(len(history) if isinstance(history, list) else 0),
        exports=formats.number(len(exports) if isinstance(exports, list) else 0),
    )


@dataclass(frozen=True)
class ErasureStatus:
    """An erasure as the page shows it."""

    status: str
    label: str
    detail: str
    progress: float  # 0..1 of the exports handled
    finished: bool
    failed: bool


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def erasure_status(erasure: dict[str, Any]) -> ErasureStatus:
    """The erasure's status line, its counts in words, and how far the exports are."""
    status = str(erasure.get("status") or "queued")
    total, done = _int(erasure.get("exports_total")), _int(erasure.get("exports_done"))
    progress = min(1.0, done / total) if total else (1.0 if status == "done" else 0.0)
    counts = t(
        "erase.counts",
        done=formats.number(done),
        total=formats.number(total),
    )
    if status == "done":
        mode = str(erasure.get("mode") or "")
        detail = " ".join(
            [
                t(MODE_DONE[mode]) if mode in MODE_DONE else "",
                t(
                    "erase.done.exports",
                    rewritten=formats.number(_int(erasure.get("exports_rewritten"))),
                    withdrawn=formats.number(_int(erasure.get("exports_withdrawn"))),
                    versions=formats.number(_int(erasure.get("versions_deleted"))),
                ),
            ]
        ).strip()
    elif status == "failed":
        error = formats.md_escape(erasure.get("error") or "—")
        detail = t("erase.failed.detail", error=error)
    else:
        detail = counts
    return ErasureStatus(
        status=status,
        label=t(STATUS_LABELS.get(status, "erase.status.running")),
        detail=detail,
        progress=progress,
        finished=status not in ACTIVE,
        failed=status == "failed",
    )
