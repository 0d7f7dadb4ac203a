"""Stack (ops): the CloudFormation stack's status, resources, outputs and recent events."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import ops_view, ui
from console.api_client import ApiError


def status_table(rows: list[dict[str, Any]], none: str, key: str) -> None:
    """Rows with their `status` column coloured by tone, or the caption `none` when there are no rows."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        st.caption(none)
    else:
        st.dataframe(
            frame.style.map(ops_view.status_css, subset=["status"]),
            hide_index=True,
            width="stretch",
            key=key,
        )


st.title("Stack")
if st.button("Refresh", icon=":material/refresh:", key="stack_refresh"):
    ui.cached_get.clear()
try:
    stack = dict(ui.read("/ops/stack") or {})
except ApiError as err:
    ui.show_api_error(err, "Stack")
    st.stop()

summary = ops_view.stack_summary(stack)
tone = ops_view.status_tone(summary["status"])
{"good": st.success, "busy": st.info, "bad": st.error}[tone](
    f"**{summary['name']}** is {summary['status']}" + (f": {summary['reason']}" if summary["reason"] else "")
)
if summary["updated"]:
    st.caption(f"Last updated {summary['updated']}")

st.subheader("Resources")
status_table(ops_view.resource_rows(stack), "No resources reported.", "stack_resources")

st.subheader("Outputs")
outputs = pd.DataFrame(ops_view.output_rows(stack))
st.dataframe(outputs, hide_index=True, width="stretch", key="stack_outputs")

st.subheader("Recent events")
status_table(ops_view.event_rows(stack), "No events reported.", "stack_events")
