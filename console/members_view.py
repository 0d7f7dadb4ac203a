"""The Members page's plain logic: a member's name line, even pages, table rows with flags."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from console import member_model as mm

PROBLEMS_COLUMN = "_let_op"


def who(member: dict[str, Any]) -> str:
    """ "1042 — Jan de Vries" (plain text; escape it where Markdown would read it)."""
    name = " ".join(
        " ".join(str(member.get(k) or "") for k in ("voornaam", "tussenvoegsel", "achternaam")).split()
    )
    number = member.get("lidnummer")
    return f"{number} — {name}" if number not in (None, "") else name


def by_lidnummer(members: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members in the club's order (the API pages region by region); no number last, as applicants."""

    def key(member: dict[str, Any]) -> tuple[int, int]:
        number = mm.mf.read_value(mm.FIELD_BY_NAME["lidnummer"], member.get("lidnummer"))
        return (0, int(number.value)) if number.value is not None else (1, 0)

    return sorted(members, key=key)


def page_count(total: int, size: int) -> int:
    """Pages of `size` for `total` rows (at least one, so an empty list is page 1 of 1)."""
    return max(1, math.ceil(total / size))


def page_of(rows: Sequence[dict[str, Any]], page: int, size: int) -> list[dict[str, Any]]:
    """Page `page` (from 1): every page holds `size` rows except perhaps the last."""
    start = (max(1, page) - 1) * size
    return list(rows[start : start + size])


def table_rows(members: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list's rows: the summary columns as stored, and the labels of fields whose value is flagged."""
    rows = []
    for member in members:
        record = mm.normalise_record(member)
        row: dict[str, Any] = {}
        for column in mm.SUMMARY_COLUMNS:
            value = record.get(column)
            if column == "lidnummer":
                result = mm.mf.read_value(mm.FIELD_BY_NAME["lidnummer"], value)
                # A legacy lidnummer that is no number stays out of the number column (shown flagged).
                value = int(result.value) if result.value is not None else None
            row[column] = "" if value is None else value
        problems = mm.problem_fields(record)
        row[PROBLEMS_COLUMN] = ", ".join(mm.label(name) for name in problems)
        rows.append(row)
    return rows
