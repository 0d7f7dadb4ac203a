"""Stack (ops): the system's state first (counts by status, failures on top), details on demand."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import formats, ops_view, ui
from console.api_client import ApiError
from console.i18n import N_, t

COLUMNS = {
    "status": N_("stack.col.status"),
    "count": N_("stack.col.count"),
    "logical_id": N_("stack.col.logical_id"),
    "type": N_("stack.col.type"),
    "physical_id": N_("stack.col.physical_id"),
    "last_updated": N_("stack.col.last_updated"),
    "time": N_("stack.col.time"),
    "reason": N_("stack.col.reason"),
    "key": N_("stack.col.key"),
    "value": N_("stack.col.value"),
}


def table(rows: list[dict[str, Any]], key: str, coloured: bool = True) -> None:
    """Rows with translated headers, the status column coloured by tone, tall enough to read."""
    frame = pd.DataFrame(rows)
    config = {c: st.column_config.TextColumn(t(COLUMNS[c])) for c in frame.columns if c in COLUMNS}
    data: Any = frame.style.map(ops_view.status_css, subset=["status"]) if coloured else frame
    st.dataframe(
        data,
        hide_index=True,
        width="stretch",
        height=36 * (len(frame) + 1) + 3,  # every row in sight: no scroll box inside the page
        column_config=config,
        key=key,
    )


st.title(t("stack.title"))
if st.button(t("stack.refresh"), icon=":material/refresh:", key="stack_refresh"):
    ui.cached_get.clear()
try:
    stack = dict(ui.read("/ops/stack") or {})
except ApiError as err:
    ui.show_api_error(err, t("what.stack"))
    st.stop()

summary = ops_view.stack_summary(stack)
tone = ops_view.status_tone(summary["status"])
{"good": st.success, "busy": st.info, "bad": st.error}[tone](ops_view.stack_sentence(summary))
if summary["updated"]:
    st.caption(t("stack.updated", when=summary["updated"]))

resources = ops_view.resource_rows(stack)
st.subheader(t("stack.resources"))
if not resources:
    st.info(t("stack.no_resources"))
else:
    counts = ops_view.resource_counts(resources)
    cols = st.columns(min(len(counts), 4))
    for col, row in zip(cols * (len(counts) // len(cols) + 1), counts, strict=False):
        col.metric(row["status"], formats.number(row["count"]))
    problems = [r for r in resources if ops_view.status_tone(str(r.get("status") or "")) != "good"]
    if problems:
        st.markdown(f"**{t('stack.problems')}**")
        table(problems, "stack_problems")
    with st.expander(t("stack.all_resources", count=formats.number(len(resources)))):
        table(ops_view.failures_first(resources), "stack_resources")

outputs = ops_view.output_rows(stack)
with st.expander(t("stack.outputs", count=formats.number(len(outputs)))):
    if outputs:
        table(outputs, "stack_outputs", coloured=False)
    else:
        st.caption(t("stack.no_outputs"))

events = ops_view.event_rows(stack)
with st.expander(t("stack.events", count=formats.number(len(events)))):
    if events:
        table(ops_view.failures_first(events), "stack_events")
    else:
        st.caption(t("stack.no_events"))
