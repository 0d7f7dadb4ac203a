"""Member export preview logic, free of Streamlit: read, filter, chart data, compare, jubilarissen.

Pages call these on a cached DataFrame; every function returns a new frame and never
modifies its input (the cache's frame is shared between reruns).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from console import formats
from console.i18n import t
from console.member_model import COMPUTED_COLUMNS, FIELD_BY_NAME, LEGACY_NAMES, SUMMARY_COLUMNS, Kind, label

# A lower-cased "voornaam tussenvoegsel achternaam" column built once per export, so a name
# search is one vectorised `str.contains` instead of three per keystroke.
SEARCH_COLUMN = "_zoek"
NAME_COLUMNS = ("voornaam", "tussenvoegsel", "achternaam")
JUBILEE_YEARS: tuple[int, ...] = (10, 25, 40)
# Columns shown first when present; the rest follow in the file's order.
PREFERRED_ORDER = (*SUMMARY_COLUMNS, "ingangsdatum", "jaren_lid", "leeftijd")
# Columns people never need in a member table or file (bookkeeping of the API).
HIDDEN_COLUMNS = frozenset({SEARCH_COLUMN, "version"})


def read_parts(parts: Sequence[tuple[str | None, bytes]]) -> pa.Table:
    """One Arrow table from Parquet files (each with the regio of its partition, if known).

    The regio partition lives in the key (`regio=<value>/`), so a file read on its own
    may lack the column: it is added from the partition when missing.
    """
    tables: list[pa.Table] = []
    for regio, data in parts:
        table = pq.read_table(io.BytesIO(data))
        if "regio" not in table.column_names and regio is not None:
            table = table.append_column("regio", pa.array([regio] * table.num_rows, pa.string()))
        tables.append(table)
    if not tables:
        return pa.table({})
    # Files of one export share a schema except perhaps dictionary widths: permissive unify.
    return pa.concat_tables(tables, promote_options="permissive")


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame for filtering: dictionaries as categoricals, dates as datetime64, a search key."""
    frame = table.to_pandas(date_as_object=False, self_destruct=False)
    # An export written before the rename carries `lid_sinds`: read it under the club's name.
    frame = frame.rename(columns={o: n for o, n in LEGACY_NAMES.items() if n not in frame.columns})
    for col in ("regio", "status", "lidmaatschap", "clubblad", "geslacht", "land", "motormerk"):
        if col in frame.columns and frame[col].dtype == object:
            frame[col] = frame[col].astype("category")
    if "lidnummer" in frame.columns:
        # Parts come region by region; people expect the club's own order.
        frame = frame.sort_values("lidnummer", kind="stable")
    order = [c for c in PREFERRED_ORDER if c in frame.columns]
    frame = frame[order + [c for c in frame.columns if c not in order]]
    names = [frame[c].astype("string").fillna("") for c in NAME_COLUMNS if c in frame.columns]
    if names:
        joined = names[0].str.cat(names[1:], sep=" ") if len(names) > 1 else names[0]
        frame[SEARCH_COLUMN] = joined.str.replace(r"\s+", " ", regex=True).str.lower()
    return frame.reset_index(drop=True)


def display_columns(frame: pd.DataFrame) -> list[str]:
    """Every column a person may choose to see (the search key and the version are internal)."""
    return [c for c in frame.columns if c not in HIDDEN_COLUMNS]


# d3-format's Dutch locale (what Vega-Embed's `formatLocale` takes): 2.001, 3,5.
VEGA_NL_LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["€ ", ""]}


def column_kind(name: str) -> str:
    """How a column is shown: "date", "timestamp", "integer" or "text" (from the field catalogue)."""
    if name in COMPUTED_COLUMNS:
        return "integer"
    spec = FIELD_BY_NAME.get(LEGACY_NAMES.get(name, name))
    if spec is None:
        return "text"
    return {Kind.DATE: "date", Kind.TIMESTAMP: "timestamp", Kind.INTEGER: "integer"}.get(spec.kind, "text")


def has_member_key(frame: pd.DataFrame) -> bool:
    """Whether rows name their member (an anonymised export has neither member_id nor lidnummer)."""
    return "member_id" in frame.columns or "lidnummer" in frame.columns


@dataclass(frozen=True)
class Filters:
    """What a person filters the preview on; empty means everything."""

    search: str = ""
    regios: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    lidmaatschappen: tuple[str, ...] = ()


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows matching every filter (name or lidnummer search, region, status, lidmaatschap)."""
    mask = pd.Series(True, index=frame.index)
    for column, wanted in (
        ("regio", filters.regios),
        ("status", filters.statuses),
        ("lidmaatschap", filters.lidmaatschappen),
    ):
        if wanted and column in frame.columns:
            mask &= frame[column].isin(wanted)
    term = " ".join(filters.search.lower().split())
    if term:
        hit = pd.Series(False, index=frame.index)
        if SEARCH_COLUMN in frame.columns:
            hit |= frame[SEARCH_COLUMN].str.contains(term, regex=False).fillna(False).astype(bool)
        if term.isdigit() and "lidnummer" in frame.columns:
            hit |= frame["lidnummer"].astype("string").str.startswith(term).fillna(False).astype(bool)
        mask &= hit
    return frame.loc[mask]


def options_of(frame: pd.DataFrame, column: str, order: Iterable[str] = ()) -> list[str]:
    """The values a filter offers: known order first, then any others present."""
    if column not in frame.columns:
        return []
    present = {str(v) for v in frame[column].dropna().unique()}
    known = [v for v in order if v in present]
    return known + sorted(present - set(known))


def counts_by(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Members per value of `column` (for a bar chart), largest first."""
    if column not in frame.columns:
        return pd.DataFrame({column: [], "leden": []})
    counts = frame[column].astype("string").fillna("(leeg)").value_counts()
    return pd.DataFrame({column: counts.index.astype(str), "leden": counts.to_numpy()})


def bar_spec(
    category: str,
    value: str = "leden",
    horizontal: bool = False,
    sort: bool = True,
    value_title: str | None = None,
    category_title: str | None = None,
) -> dict[str, Any]:
    """A Vega-Lite bar chart spec: built as a dict because Altair's schema validation of four
    charts costs about 0.1 s a rerun, a fifth of the filter redraw budget.

    Counts are whole numbers: the axis ticks are integers (`d`, no grouping, so no English
    thousands comma), never `0.000000`; tooltips use the Dutch locale where Vega-Embed reads it.
    """
    cat = {
        "field": category,
        "type": "nominal",
        "title": category_title,
        "sort": "-x" if horizontal and sort else None,
    }
    num = {
        "field": value,
        "type": "quantitative",
        "title": value_title or value,
        "axis": {"format": "d", "tickMinStep": 1},
    }
    enc = {"y": cat, "x": num} if horizontal else {"x": {**cat, "sort": None}, "y": num}
    return {
        "mark": {"type": "bar", "tooltip": True},
        "encoding": enc,
        "usermeta": {"embedOptions": {"formatLocale": VEGA_NL_LOCALE}},
        "height": {"step": 22} if horizontal else 260,
    }


def ages(frame: pd.DataFrame, today: date | None = None) -> pd.Series:
    """Age in whole years: the export's `leeftijd`, else computed from `geboortedatum`."""
    if "leeftijd" in frame.columns:
        return pd.to_numeric(frame["leeftijd"], errors="coerce")
    if "geboortedatum" not in frame.columns:
        return pd.Series([], dtype="float64")
    today = today or date.today()
    born = pd.to_datetime(frame["geboortedatum"], errors="coerce")
    years = today.year - born.dt.year
    before_birthday = (born.dt.month > today.month) | (
        (born.dt.month == today.month) & (born.dt.day > today.day)
    )
    return years - before_birthday.astype(int)


def age_distribution(frame: pd.DataFrame, width: int = 5) -> pd.DataFrame:
    """Members per age band of `width` years (`"45-49"`), youngest first."""
    values = ages(frame).dropna().astype(int)
    if values.empty:
        return pd.DataFrame({"leeftijd": [], "leden": []})
    bands = (values // width) * width
    counts = bands.value_counts().sort_index()
    labels = [f"{b}-{b + width - 1}" for b in counts.index]
    return pd.DataFrame({"leeftijd": labels, "leden": counts.to_numpy()})


def joins_per_year(frame: pd.DataFrame) -> pd.DataFrame:
    """Members per year of `ingangsdatum`, oldest year first."""
    if "ingangsdatum" not in frame.columns:
        return pd.DataFrame({"jaar": [], "leden": []})
    years = pd.to_datetime(frame["ingangsdatum"], errors="coerce").dt.year.dropna().astype(int)
    counts = years.value_counts().sort_index()
    return pd.DataFrame({"jaar": counts.index.astype(str), "leden": counts.to_numpy()})


def jubilarissen(
    frame: pd.DataFrame,
    year: int,
    milestones: Sequence[int] = JUBILEE_YEARS,
    statuses: Sequence[str] = ("Actief",),
) -> pd.DataFrame:
    """Members whose membership reaches one of `milestones` years in `year` (active members only)."""
    if "ingangsdatum" not in frame.columns:
        return frame.iloc[0:0].assign(jubileum=pd.Series(dtype="int64"))
    joined = pd.to_datetime(frame["ingangsdatum"], errors="coerce")
    years = year - joined.dt.year
    mask = years.isin(list(milestones))
    if statuses and "status" in frame.columns:
        mask &= frame["status"].isin(list(statuses))
    out = frame.loc[mask].assign(jubileum=years[mask].astype(int))
    sort = [c for c in ("jubileum", "regio", "lidnummer") if c in out.columns]
    cols = ["jubileum"] + [c for c in display_columns(out) if c != "jubileum"]
    return out.sort_values(sort, ascending=[False] + [True] * (len(sort) - 1))[cols]


@dataclass
class ExportDiff:
    """What changed between two exports, keyed by member."""

    joined: pd.DataFrame
    left: pd.DataFrame
    status_changed: pd.DataFrame
    region_changed: pd.DataFrame
    key: str = "member_id"
    summary: dict[str, int] = field(default_factory=dict)


def _key_column(old: pd.DataFrame, new: pd.DataFrame) -> str:
    for candidate in ("member_id", "lidnummer"):
        if candidate in old.columns and candidate in new.columns:
            return candidate
    raise ValueError("the exports share no member key (member_id or lidnummer)")


def _who(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("lidnummer", "voornaam", "tussenvoegsel", "achternaam") if c in frame.columns]


def _is_in(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """`values.isin(pool)` through Arrow: pandas' isin on Arrow strings loops in Python (~1 s per 100k)."""
    found = pc.is_in(pa.array(values), value_set=pa.array(pool))
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def compare_exports(old: pd.DataFrame, new: pd.DataFrame) -> ExportDiff:
    """Who joined, who left, and whose status or region changed from `old` to `new`."""
    key = _key_column(old, new)
    joined = new.loc[~_is_in(new[key], old[key]), display_columns(new)]
    left = old.loc[~_is_in(old[key], new[key]), display_columns(old)]
    fields = [c for c in ("status", "regio") if c in old.columns and c in new.columns]
    who = [c for c in _who(new) if c != key]
    both = new[[key, *who, *fields]].merge(old[[key, *fields]], on=key, how="inner", suffixes=("", "_vorige"))
    changes: dict[str, pd.DataFrame] = {}
    for col in ("status", "regio"):
        if col not in fields:
            changes[col] = pd.DataFrame()
            continue
        now = both[col].astype("string")
        before = both[f"{col}_vorige"].astype("string")
        changed = both.loc[(now != before).fillna(False).astype(bool)]
        changes[col] = pd.DataFrame(
            {
                **{c: changed[c] for c in [key, *who] if c != "member_id" or key == "member_id"},
                f"{col}_vorige": changed[f"{col}_vorige"].astype("string"),
                col: changed[col].astype("string"),
            }
        ).reset_index(drop=True)
    diff = ExportDiff(
        joined=joined.reset_index(drop=True),
        left=left.reset_index(drop=True),
        status_changed=changes["status"],
        region_changed=changes["regio"],
        key=key,
    )
    diff.summary = {
        "joined": len(diff.joined),
        "left": len(diff.left),
        "status": len(diff.status_changed),
        "regio": len(diff.region_changed),
    }
    return diff


def _for_files(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The frame as people get it in a file: the chosen columns (else all), no internal ones."""
    wanted = [
        c for c in (columns or display_columns(frame)) if c in frame.columns and c not in HIDDEN_COLUMNS
    ]
    return frame[wanted]


def csv_bytes(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> bytes:
    """The rows and chosen columns as a Dutch CSV (`;`, BOM, labelled headers, inert cells)."""
    return formats.csv_bytes(_for_files(frame, columns), header=label)


def excel_bytes(frame: pd.DataFrame, columns: Sequence[str] | None = None, sheet: str = "leden") -> bytes:
    """The rows and chosen columns as an .xlsx with real date cells and inert text cells."""
    return formats.excel_bytes(_for_files(frame, columns), sheet, header=label)


def parquet_bytes(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> bytes:
    """The rows and chosen columns as one zstd Parquet file (field names kept: it is for programs)."""
    buf = io.BytesIO()
    _for_files(frame, columns).to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


def age_text(created_at: str | None, now: datetime | None = None) -> str:
    """How old an export is, for people: "3 min", "5 uur", "2 dagen"."""
    moment = formats.to_moment(created_at) if created_at else None
    if moment is None:
        return t("age.unknown")
    seconds = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 3600:
        return t("age.minutes", count=int(seconds // 60))
    if seconds < 2 * 86400:
        return t("age.hours", count=int(seconds // 3600))
    return t("age.days", count=int(seconds // 86400))


def option_words(options: dict[str, Any] | None) -> list[str]:
    """An export's or job's options as words: "alleen actieve leden", "regio Utrecht", "geanonimiseerd"."""
    options = options or {}
    words = []
    if options.get("regio"):
        words.append(t("export.option.regio", regio=options["regio"]))
    if options.get("active_only"):
        words.append(t("export.option.active_only"))
    if options.get("anonymize"):
        words.append(t("export.option.anonymize"))
    return words


def is_full_export(item: dict[str, Any]) -> bool:
    """An export of every member: no region, not only active members, not anonymised."""
    options = item.get("options") or {}
    return not (options.get("regio") or options.get("active_only") or options.get("anonymize"))


def latest_full_export(items: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest full export (the list is newest first), or None when there is none."""
    return next((i for i in items if is_full_export(i)), None)


def export_label(item: dict[str, Any]) -> str:
    """One export as people choose it: when, how many members, and what kind."""
    rows = item.get("rows")
    parts = [formats.moment(item.get("created_at"))]
    if isinstance(rows, int | float):
        parts.append(t("export.members_count", count=formats.number(int(rows))))
    parts.append(", ".join(option_words(item.get("options"))) or t("export.option.full"))
    return " · ".join(p for p in parts if p)
