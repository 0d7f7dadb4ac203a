"""Dutch formats (Babel, nl_NL) for what people read, and safe CSV and Excel files of a member frame.

Numbers `2.001`, money `€ 6,50`, dates `dd-mm-jjjj`, times in Europe/Amsterdam to the minute.
Files: CSV with `;` and a UTF-8 BOM (Dutch Excel splits it into columns and reads accents),
whole numbers as integers, empty cells instead of `None`/`nan`; Excel with real date cells.
Any text cell that a spreadsheet would run as a formula is made inert (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal
from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING, WriteOnlyCell

from console.i18n import FORMAT_LOCALE

TIMEZONE = ZoneInfo("Europe/Amsterdam")
DATE_PATTERN = "dd-MM-yyyy"
DATETIME_PATTERN = "dd-MM-yyyy HH:mm"
EXCEL_DATE_FORMAT = "DD-MM-YYYY"
EXCEL_DATETIME_FORMAT = "DD-MM-YYYY HH:MM"
# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice, Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Markdown and Streamlit's own directives (`:red[...]`, `:material/x:`) that user text must not trigger.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def number(value: Any) -> str:
    """A count or amount as people in the Netherlands write it: 2.001, 3,5."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return format_decimal(value, locale=FORMAT_LOCALE)


def euros(cents: Any) -> str:
    """Cents as € 6,50."""
    if cents is None:
        return ""
    return format_currency(int(cents) / 100, "EUR", locale=FORMAT_LOCALE)


def amount(cents: Any) -> str:
    """Cents as an amount to edit: 6,50 (no sign, no grouping)."""
    if cents in (None, ""):
        return ""
    return format_decimal(int(cents) / 100, format="0.00", locale=FORMAT_LOCALE)


def cents(text: str) -> int | None:
    """An amount typed the Dutch way (6,50, € 6,5, 1.250,00) as whole cents; None if it is none."""
    cleaned = text.replace("€", "").replace("\xa0", "").replace(" ", "").strip()
    if re.fullmatch(r"\d+\.\d{1,2}", cleaned):
        cleaned = cleaned.replace(".", ",")  # 6.50 typed the English way: a decimal point, not thousands
    try:
        value = parse_decimal(cleaned, locale=FORMAT_LOCALE, strict=False)
    except NumberFormatError:
        return None
    if value < 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return int(value * 100)


def to_date(value: Any) -> date | None:
    """A date from a date, datetime, pandas timestamp or ISO / d-m-yyyy text; None otherwise."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    return None


def day(value: Any) -> str:
    """A date as dd-mm-jjjj; a value that is no date is shown as stored."""
    parsed = to_date(value)
    if parsed is None:
        return "" if value is None else str(value)
    return _babel_date(parsed, DATE_PATTERN, locale=FORMAT_LOCALE)


def to_moment(value: Any) -> datetime | None:
    """A timezone-aware moment (naive times are UTC, as the API stores them)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def moment(value: Any) -> str:
    """A time as dd-mm-jjjj uu:mm in Europe/Amsterdam (no seconds, no microseconds)."""
    parsed = to_moment(value)
    if parsed is None:
        return "" if value in (None, "") else str(value)
    return _babel_datetime(parsed, DATETIME_PATTERN, tzinfo=TIMEZONE, locale=FORMAT_LOCALE)


def seconds(value: float) -> str:
    """A duration: `2,5 s`, `48 s`, `2 min 05 s`."""
    if value < 10:
        return f"{format_decimal(round(value, 1), locale=FORMAT_LOCALE)} s"
    whole = round(value)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60:02d} s"


def md_escape(text: Any) -> str:
    """User text made inert in Markdown (labels, captions, messages): shown, never interpreted.

    Backslash escapes stop images, links and emphasis; GitHub-flavoured Markdown still turns a
    bare `http://...` or `www.` into a link after unescaping, so a zero-width space breaks those.
    """
    plain = str(text).replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain).replace("\n", " ")


def inert_cell(value: Any) -> Any:
    """A text cell a spreadsheet would take as a formula, prefixed with `'` so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# ----------------------------------------------------------------------------- files


def _cell_for_csv(value: Any) -> str:
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float):
        if pd.isna(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return format_decimal(value, locale=FORMAT_LOCALE, group_separator=False)
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if isinstance(value, pd.Timestamp | datetime):
        stamp = to_moment(value)
        if (
            stamp is not None
            and (stamp.hour, stamp.minute, stamp.second) == (0, 0, 0)
            and not (isinstance(value, datetime) and value.tzinfo)
        ):
            return day(stamp)
        return moment(value)
    if isinstance(value, date):
        return day(value)
    return str(inert_cell(str(value)))


def _csv_column(series: pd.Series) -> list[str]:
    """One column's cells as CSV text, converted per column (a 100k-row file in a few seconds)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ["Ja" if v is True else "Nee" if v is False else "" for v in series.astype(object)]
    if pd.api.types.is_integer_dtype(dtype):
        return series.astype("string").fillna("").tolist()
    if pd.api.types.is_float_dtype(dtype):
        values = series.dropna()
        if (values == values.round()).all():
            return series.astype("Int64").astype("string").fillna("").tolist()
        return [_cell_for_csv(v) for v in series.tolist()]
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return [_cell_for_csv(v) for v in series.tolist()] if series.isna().all() else _csv_times(series)
    sample = series.dropna().head(1000).tolist()
    textual = isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)
    if textual and all(isinstance(v, str) for v in sample):
        text = series.astype("string").fillna("")
        risky = text.str.startswith(FORMULA_PREFIXES)
        return text.where(~risky, "'" + text).tolist()
    return [_cell_for_csv(v) for v in series.astype(object).tolist()]


def _csv_times(series: pd.Series) -> list[str]:
    """Dates as dd-mm-jjjj; times (naive ones are UTC) as dd-mm-jjjj uu:mm in Amsterdam."""
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        present = series.dropna()
        if (present == present.dt.normalize()).all():
            return series.dt.strftime("%d-%m-%Y").fillna("").tolist()
        series = series.dt.tz_localize("UTC")
    local = series.dt.tz_convert(TIMEZONE)
    return local.dt.strftime("%d-%m-%Y %H:%M").fillna("").tolist()


def csv_bytes(frame: pd.DataFrame, header: Callable[[str], str] = str) -> bytes:
    """A CSV Dutch Excel opens as columns: `;`, UTF-8 BOM, Dutch dates and numbers, no formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([inert_cell(header(str(c))) for c in frame.columns])
    columns = [_csv_column(frame[c]) for c in frame.columns]
    writer.writerows(zip(*columns, strict=True))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _cell_for_excel(value: Any) -> tuple[Any, str | None]:
    """The value openpyxl writes and its number format (dates as real date cells)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None, None
    if isinstance(value, float) and pd.isna(value):
        return None, None
    if isinstance(value, float) and value.is_integer():
        return int(value), None
    if isinstance(value, bool):
        return ("Ja" if value else "Nee"), None
    if isinstance(value, pd.Timestamp | datetime):
        stamp = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        if stamp.tzinfo is None and (stamp.hour, stamp.minute, stamp.second) == (0, 0, 0):
            return stamp.date(), EXCEL_DATE_FORMAT
        aware = to_moment(stamp)
        local = aware.astimezone(TIMEZONE).replace(tzinfo=None, microsecond=0) if aware else None
        return local, EXCEL_DATETIME_FORMAT  # Excel has no time zones: Amsterdam time, as shown
    if isinstance(value, date):
        return value, EXCEL_DATE_FORMAT
    if isinstance(value, int | float):
        return value, None
    return inert_cell(str(value)), None


def excel_bytes(frame: pd.DataFrame, sheet: str, header: Callable[[str], str] = str) -> bytes:
    """An .xlsx with real date cells (dd-mm-jjjj) and every text cell kept as text, never a formula.

    Written in openpyxl's write-only mode (rows streamed, about ten times faster than cells
    kept in memory); a formula-like text is prefixed with `'`, so it no longer reads as one.
    """
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.append([_text_cell(ws, inert_cell(header(str(c)))) for c in frame.columns])
    columns = [frame[c].astype(object).tolist() for c in frame.columns]
    for row in zip(*columns, strict=True):
        ws.append([_excel_cell(ws, raw) for raw in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _text_cell(ws: Any, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = TYPE_STRING
    return cell


def _excel_cell(ws: Any, raw: Any) -> Any:
    value, fmt = _cell_for_excel(raw)
    if fmt:
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = fmt
        return cell
    if isinstance(value, str) and value.startswith("="):  # cannot happen after inert_cell; kept as text
        return _text_cell(ws, value)
    return value
