"""Exports: pick a member export, preview and filter it, charts, compare, jubilarissen, downloads."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from console import exports_view as ev
from console import formats, ui
from console.api_client import ApiError
from console.i18n import N_, t
from console.member_model import LIDMAATSCHAPPEN, REGIONS, STATUSES, SUMMARY_COLUMNS, label

# The table shows this many rows at most: the browser gets every shown row at once, and a
# full 100k-row table would cost seconds per redraw. The row count and downloads are complete.
MAX_TABLE_ROWS = 1_000
DEFAULT_COLUMNS = (*SUMMARY_COLUMNS, "ingangsdatum", "leeftijd")
# The download formats: button label id, bytes of a frame and columns, file suffix, MIME type.
DOWNLOAD_FORMATS: tuple[tuple[str, Callable[[pd.DataFrame, Sequence[str] | None], bytes], str, str], ...] = (
    (N_("download.csv"), ev.csv_bytes, "csv", "text/csv"),
    (
        N_("download.excel"),
        ev.excel_bytes,
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (N_("download.parquet"), ev.parquet_bytes, "parquet", "application/vnd.apache.parquet"),
)
TABS = {
    "table": N_("exports.tab.table"),
    "charts": N_("exports.tab.charts"),
    "compare": N_("exports.tab.compare"),
    "jubilee": N_("exports.tab.jubilee"),
    "download": N_("exports.tab.download"),
}
COMPARE_PARTS = {
    "joined": N_("compare.joined"),
    "left": N_("compare.left"),
    "status": N_("compare.status"),
    "regio": N_("compare.regio"),
}


def download_buttons(frame: pd.DataFrame, columns: Sequence[str] | None, stem: str, key: str) -> None:
    """CSV, Excel and Parquet of `frame`'s chosen columns, each built only when clicked; none if empty."""
    if frame.empty:
        st.caption(t("download.nothing"))
        return
    for column, (msgid, to_bytes, suffix, mime) in zip(st.columns(3), DOWNLOAD_FORMATS, strict=True):
        column.download_button(
            t(msgid),
            functools.partial(to_bytes, frame, columns),
            f"{stem}.{suffix}",
            mime,
            key=f"{key}_{suffix}",
            icon=":material/download:",
            on_click="ignore",
        )


def column_config(columns: Sequence[str]) -> dict[str, Any]:
    """Headers from the field catalogue's labels, dates as dd-mm-jjjj, whole numbers plain."""
    config: dict[str, Any] = {}
    for name in columns:
        kind = ev.column_kind(name)
        if kind == "date":
            config[name] = st.column_config.DateColumn(label(name), format="DD-MM-YYYY")
        elif kind == "timestamp":
            config[name] = st.column_config.DatetimeColumn(
                label(name), format="DD-MM-YYYY HH:mm", timezone="Europe/Amsterdam"
            )
        elif kind == "integer":
            config[name] = st.column_config.NumberColumn(label(name), format="%d")
        else:
            config[name] = label(name)
    return config


def bar_chart(data: pd.DataFrame, category: str, title: str, horizontal: bool = False) -> None:
    """A bar chart with Dutch axis titles, or a plain line when there is nothing to draw."""
    if data.empty:
        st.caption(t("chart.empty"))
        return
    spec = ev.bar_spec(category, horizontal=horizontal, value_title=t("chart.members"), category_title=title)
    st.vega_lite_chart(data, spec, width="stretch")


st.title(t("exports.title"))
try:
    exports = ui.read("/analytics/exports")
except ApiError as err:
    ui.show_api_error(err, t("what.exports"))
    st.stop()
items: list[dict[str, Any]] = list(
    (exports or {}).get("exports", []) if isinstance(exports, dict) else exports
)
if not items:
    st.info(t("exports.none"))
    if ui.access().can_export:
        st.page_link(
            "app_pages/generate.py", label=t("overview.generate_link"), icon=":material/play_circle:"
        )
    st.stop()

by_id = {str(i["export_id"]): i for i in items}
export_id = st.selectbox(
    t("exports.choose"), list(by_id), format_func=lambda i: ev.export_label(by_id[i]), key="export_id"
)
chosen = by_id[export_id]
try:
    with st.spinner(t("exports.loading")):
        frame, files, _ = ui.load_export_frame(export_id)
except ApiError as err:
    ui.show_api_error(err, t("what.export_download"))
    st.stop()
st.caption(
    t(
        "exports.summary",
        count=formats.number(len(frame)),
        created=formats.moment(chosen.get("created_at")),
        kind=", ".join(ev.option_words(chosen.get("options"))) or t("export.option.full"),
    )
)
anonymised = bool((chosen.get("options") or {}).get("anonymize")) or not ev.has_member_key(frame)
if anonymised:
    st.info(t("exports.anonymised"), icon=":material/visibility_off:")
if frame.empty:
    st.info(t("exports.empty_regions"))
    st.stop()

# ------------------------------------------------------------------ filters
with st.container(border=True):
    f1, f2, f3, f4 = st.columns([2, 2, 2, 2])
    search = f1.text_input(
        t("filter.search"), key="flt_search", placeholder=t("filter.search_placeholder"), max_chars=100
    )
    everyone = t("filter.all")  # Streamlit's own placeholder is English
    regios = f2.multiselect(
        label("regio"), ev.options_of(frame, "regio", REGIONS), key="flt_regio", placeholder=everyone
    )
    statuses = f3.multiselect(
        label("status"), ev.options_of(frame, "status", STATUSES), key="flt_status", placeholder=everyone
    )
    lidm = f4.multiselect(
        label("lidmaatschap"),
        ev.options_of(frame, "lidmaatschap", LIDMAATSCHAPPEN),
        key="flt_lidmaatschap",
        placeholder=everyone,
    )
    all_columns = ev.display_columns(frame)
    columns = st.multiselect(
        t("filter.columns"),
        all_columns,
        default=[c for c in DEFAULT_COLUMNS if c in all_columns] or all_columns[:10],
        format_func=label,
        key="flt_columns",
        placeholder=t("filter.all_columns"),
    )
chosen_columns = columns or all_columns
filters = ev.Filters(
    search=search, regios=tuple(regios), statuses=tuple(statuses), lidmaatschappen=tuple(lidm)
)
view = ev.apply_filters(frame, filters)
st.metric(t("exports.metric.members"), formats.number(len(view)))
if len(view) != len(frame):
    st.caption(t("exports.filtered_of", count=formats.number(len(frame))))

tabs = dict(
    zip(TABS, st.tabs([t(m) for m in TABS.values()], key="export_tab", on_change="rerun"), strict=True)
)
if view.empty:
    st.info(t("exports.no_match"))

# Only the open tab runs: the others' tables and charts would cost every filter redraw.
if tabs["table"].open and not view.empty:
    with tabs["table"]:
        shown = view[chosen_columns]
        if len(shown) > MAX_TABLE_ROWS:
            st.caption(
                t(
                    "exports.first_rows",
                    shown=formats.number(MAX_TABLE_ROWS),
                    count=formats.number(len(shown)),
                )
            )
            shown = shown.head(MAX_TABLE_ROWS)
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config=column_config(chosen_columns),
            key="export_table",
        )

if tabs["charts"].open and not view.empty:
    with tabs["charts"]:
        c1, c2 = st.columns(2)
        with c1:
            st.markdown(f"**{t('chart.per_region')}**")
            bar_chart(ev.counts_by(view, "regio"), "regio", label("regio"), horizontal=True)
            st.markdown(f"**{t('chart.ages')}**")
            bar_chart(ev.age_distribution(view), "leeftijd", label("leeftijd"))
        with c2:
            st.markdown(f"**{t('chart.status')}**")
            bar_chart(ev.counts_by(view, "status"), "status", label("status"), horizontal=True)
            st.markdown(f"**{t('chart.joins')}**")
            bar_chart(ev.joins_per_year(view), "jaar", t("chart.year"))

if tabs["compare"].open:
    with tabs["compare"]:
        older = [i for i in by_id if i < export_id]
        if anonymised:
            st.info(t("compare.anonymised"))
        elif not older:
            st.info(t("compare.no_earlier"))
        else:
            previous = st.selectbox(
                t("compare.with"), older, format_func=lambda i: ev.export_label(by_id[i]), key="compare_with"
            )
            try:
                with st.spinner(t("compare.loading")):
                    diff = ui.export_diff(previous, export_id, filters)
            except ApiError as err:
                ui.show_api_error(err, t("what.earlier_export"))
            else:
                if diff is None:
                    st.info(t("compare.anonymised"))
                else:
                    if filters != ev.Filters():
                        st.caption(t("compare.within_filters"))
                    cols = st.columns(len(diff.summary))
                    for col, (part_id, count) in zip(cols, diff.summary.items(), strict=True):
                        col.metric(t(COMPARE_PARTS[part_id]), formats.number(count))
                    for part_id, part in (
                        ("joined", diff.joined),
                        ("left", diff.left),
                        ("status", diff.status_changed),
                        ("regio", diff.region_changed),
                    ):
                        title = t(COMPARE_PARTS[part_id])
                        with st.expander(f"{title} ({formats.number(len(part))})", expanded=False):
                            if part.empty:
                                st.caption(t("compare.none"))
                                continue
                            part_columns = [c for c in chosen_columns if c in part.columns] or list(
                                part.columns
                            )
                            if part_id in ("status", "regio"):
                                # who, and the value before and now; the internal member id is no help
                                part_columns = [c for c in part.columns if c != "member_id"]
                            st.dataframe(
                                part[part_columns].head(MAX_TABLE_ROWS),
                                hide_index=True,
                                width="stretch",
                                column_config=column_config(part_columns),
                            )
                            download_buttons(
                                part, part_columns, f"{part_id}-{previous}-{export_id}", f"cmp_{part_id}"
                            )

if tabs["jubilee"].open:
    with tabs["jubilee"]:
        year = int(
            st.number_input(
                t("jubilee.year"),
                min_value=1990,
                max_value=2100,
                value=date.today().year,
                step=1,
                key="jubilee_year",
            )
        )
        jubilee = ev.jubilarissen(view, year)
        st.caption(t("jubilee.summary", count=formats.number(len(jubilee)), year=year))
        if jubilee.empty:
            st.info(t("jubilee.none"))
        else:
            counts = jubilee["jubileum"].value_counts().sort_index()
            st.write(", ".join(t("jubilee.count", count=n, years=y) for y, n in counts.items()))
            jubilee_columns = [
                "jubileum",
                *[c for c in chosen_columns if c in jubilee.columns and c != "jubileum"],
            ]
            st.dataframe(
                jubilee[jubilee_columns].head(MAX_TABLE_ROWS),
                hide_index=True,
                width="stretch",
                column_config=column_config(jubilee_columns),
                key="jubilee_table",
            )
            download_buttons(jubilee, jubilee_columns, f"jubilarissen-{year}", "jubilee")

if tabs["download"].open:
    with tabs["download"]:
        heading = t(
            "download.view", count=formats.number(len(view)), columns=formats.number(len(chosen_columns))
        )
        st.markdown(f"**{heading}**")
        download_buttons(view, chosen_columns, f"leden-{export_id}", "view")
        st.markdown(f"**{t('download.files')}**")
        for f in files:
            name = f.get("regio") or f["key"].rsplit("/", 1)[-1]
            rows = f.get("rows")
            text = (
                t("download.file_rows", name=name, rows=formats.number(rows))
                if isinstance(rows, int)
                else name
            )
            st.link_button(formats.md_escape(text), str(f["url"]), icon=":material/download:")
