"""Exports: pick a member export, preview and filter it, charts, compare, jubilarissen, downloads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from console import exports_view as ev
from console import ui
from console.api_client import ApiError
from console.roles import LIDMAATSCHAPPEN, MEMBER_SUMMARY_COLUMNS, REGIONS, STATUSES

# The table shows this many rows at most: the browser gets every shown row at once, and a
# full 100k-row table would cost seconds per redraw. The row count and downloads are complete.
MAX_TABLE_ROWS = 1_000
DEFAULT_COLUMNS = (*MEMBER_SUMMARY_COLUMNS, "ingangsdatum", "leeftijd")
# The download formats: button label, bytes of a frame, file suffix (and key suffix), MIME type.
DOWNLOAD_FORMATS: tuple[tuple[str, Callable[[pd.DataFrame], bytes], str, str], ...] = (
    ("CSV", ev.csv_bytes, "csv", "text/csv"),
    ("Excel", ev.excel_bytes, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("Parquet", ev.parquet_bytes, "parquet", "application/vnd.apache.parquet"),
)


def export_label(item: dict[str, Any]) -> str:
    rows = item.get("rows")
    rows_text = f"{int(rows):,} rows" if isinstance(rows, int | float) else "rows unknown"
    created = str(item.get("created_at") or "?").replace("T", " ")[:16]
    opts = ", ".join(
        k.replace("_", " ") if v is True else f"{v}" for k, v in (item.get("options") or {}).items() if v
    )
    return f"{created} UTC · {rows_text}{f' · {opts}' if opts else ''} · {item.get('export_id')}"


def download_buttons(frame: pd.DataFrame, stem: str, key: str) -> None:
    """CSV, Excel and Parquet of `frame`, each built only when clicked."""
    for column, (label, to_bytes, suffix, mime) in zip(st.columns(3), DOWNLOAD_FORMATS, strict=True):
        column.download_button(
            label,
            functools.partial(to_bytes, frame),
            f"{stem}.{suffix}",
            mime,
            key=f"{key}_{suffix}",
            icon=":material/download:",
            on_click="ignore",
        )


st.title("Member exports")
try:
    exports = ui.read("/analytics/exports")
except ApiError as err:
    ui.show_api_error(err, "Exports")
    st.stop()
items: list[dict[str, Any]] = list(
    (exports or {}).get("exports", []) if isinstance(exports, dict) else exports
)
if not items:
    st.info("There is no export yet.")
    if ui.access().can_export:
        st.page_link("app_pages/generate.py", label="Generate an export", icon=":material/play_circle:")
    st.stop()

by_id = {str(i["export_id"]): i for i in items}
export_id = st.selectbox("Export", list(by_id), format_func=lambda i: export_label(by_id[i]), key="export_id")
try:
    with st.spinner("Downloading the export …"):
        frame, files, seconds = ui.load_export_frame(export_id)
except ApiError as err:
    ui.show_api_error(err, "Export download")
    st.stop()
st.caption(f"{len(frame):,} members in {len(files)} file(s) of your regions, ready in {seconds:.2f} s")

# ------------------------------------------------------------------ filters
with st.container(border=True):
    f1, f2, f3, f4 = st.columns([2, 2, 2, 2])
    search = f1.text_input("Search name or lidnummer", key="flt_search", placeholder="e.g. Jansen or 1042")
    regios = f2.multiselect("Regio", ev.options_of(frame, "regio", REGIONS), key="flt_regio")
    statuses = f3.multiselect("Status", ev.options_of(frame, "status", STATUSES), key="flt_status")
    lidm = f4.multiselect(
        "Lidmaatschap", ev.options_of(frame, "lidmaatschap", LIDMAATSCHAPPEN), key="flt_lidmaatschap"
    )
    all_columns = ev.display_columns(frame)
    columns = st.multiselect(
        "Columns",
        all_columns,
        default=[c for c in DEFAULT_COLUMNS if c in all_columns] or all_columns[:10],
        key="flt_columns",
    )
filters = ev.Filters(
    search=search, regios=tuple(regios), statuses=tuple(statuses), lidmaatschappen=tuple(lidm)
)
view = ev.apply_filters(frame, filters)
st.metric(
    "Rows",
    f"{len(view):,}",
    delta=None if len(view) == len(frame) else f"of {len(frame):,}",
    delta_color="off",
)

tab_table, tab_charts, tab_compare, tab_jubilee, tab_files = st.tabs(
    ["Table", "Charts", "Compare with previous", "Jubilarissen", "Download"],
    key="export_tab",
    on_change="rerun",
)
# Only the open tab runs: the others' tables and charts would cost every filter redraw.
if tab_table.open:
    with tab_table:
        shown = view[columns or all_columns]
        if len(shown) > MAX_TABLE_ROWS:
            st.caption(
                f"Showing the first {MAX_TABLE_ROWS:,} of {len(shown):,} rows; downloads hold them all."
            )
            shown = shown.head(MAX_TABLE_ROWS)
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "lidnummer": st.column_config.NumberColumn("Lidnummer", format="%d"),
                "ingangsdatum": st.column_config.DateColumn("Lid sinds", format="D-M-YYYY"),
                "geboortedatum": st.column_config.DateColumn("Geboortedatum", format="D-M-YYYY"),
            },
            key="export_table",
        )

if tab_charts.open:
    with tab_charts:
        c1, c2 = st.columns(2)
        with c1:
            st.markdown("**Members per region**")
            st.vega_lite_chart(
                ev.counts_by(view, "regio"), ev.bar_spec("regio", horizontal=True), width="stretch"
            )
            st.markdown("**Age distribution**")
            st.vega_lite_chart(ev.age_distribution(view), ev.bar_spec("leeftijd"), width="stretch")
        with c2:
            st.markdown("**Status**")
            st.vega_lite_chart(
                ev.counts_by(view, "status"), ev.bar_spec("status", horizontal=True), width="stretch"
            )
            st.markdown("**Joins per year**")
            st.vega_lite_chart(ev.joins_per_year(view), ev.bar_spec("jaar"), width="stretch")

if tab_compare.open:
    with tab_compare:
        older = [i for i in by_id if i < export_id]
        if not older:
            st.info("There is no earlier export to compare with.")
        else:
            previous = st.selectbox(
                "Compare with", older, format_func=lambda i: export_label(by_id[i]), key="compare_with"
            )
            try:
                with st.spinner("Loading the earlier export …"):
                    diff = ui.export_diff(previous, export_id)
            except ApiError as err:
                ui.show_api_error(err, "Earlier export")
            else:
                if diff is None:
                    st.warning("These exports share no member key (member_id or lidnummer) to compare on.")
                else:
                    cols = st.columns(len(diff.summary))
                    for col, (label, count) in zip(cols, diff.summary.items(), strict=True):
                        col.metric(label.capitalize(), f"{count:,}")
                    for title, part, key in (
                        ("Joined", diff.joined, "joined"),
                        ("Left", diff.left, "left"),
                        ("Status changed", diff.status_changed, "status"),
                        ("Region changed", diff.region_changed, "regio"),
                    ):
                        with st.expander(f"{title} ({len(part):,})", expanded=False):
                            st.dataframe(part.head(MAX_TABLE_ROWS), hide_index=True, width="stretch")
                            download_buttons(part, f"{key}-{previous}-{export_id}", f"cmp_{key}")

if tab_jubilee.open:
    with tab_jubilee:
        year = int(
            st.number_input(
                "Year", min_value=1990, max_value=2100, value=date.today().year, step=1, key="jubilee_year"
            )
        )
        jubilee = ev.jubilarissen(view, year)
        st.caption(f"{len(jubilee):,} active members reach 10, 25 or 40 years of membership in {year}.")
        if not jubilee.empty:
            counts = jubilee["jubileum"].value_counts().sort_index()
            st.write(", ".join(f"{n} x {y} jaar" for y, n in counts.items()))
        st.dataframe(jubilee.head(MAX_TABLE_ROWS), hide_index=True, width="stretch", key="jubilee_table")
        download_buttons(jubilee, f"jubilarissen-{year}", "jubilee")

if tab_files.open:
    with tab_files:
        st.markdown(f"**The filtered view** ({len(view):,} rows)")
        download_buttons(view, f"leden-{export_id}", "view")
        st.markdown("**The export's Parquet files** (links expire after a few minutes)")
        for f in files:
            label = f"{f.get('regio') or f['key'].rsplit('/', 1)[-1]}"
            rows = f.get("rows")
            st.link_button(
                f"{label}{f' · {rows:,} rows' if isinstance(rows, int) else ''}",
                str(f["url"]),
                icon=":material/download:",
            )
