"""Generate: trigger a member export, watch the job live, job history."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import jobs_view, ui
from console.api_client import ApiError

WATCH_KEY = "watch_job"
POLL_SECONDS = 2

st.title("Generate a member export")
access = ui.access()

with st.form("export_options"):
    st.markdown("A new export runs in the background; this page follows it.")
    active_only = st.checkbox("Active members only", key="opt_active_only")
    regions = ["(all my regions)", *access.regions]
    regio = st.selectbox("Region", regions, key="opt_regio")
    anonymize = st.checkbox("Anonymize (no names, contact, address, kenteken or IBAN)", key="opt_anonymize")
    start = st.form_submit_button("Start export", type="primary", icon=":material/play_arrow:")

if start:
    options: dict[str, Any] = {"active_only": active_only, "anonymize": anonymize}
    if regio != regions[0]:
        options["regio"] = regio
    try:
        answer = ui.client().generate_export(options)
    except ApiError as err:
        running = jobs_view.running_job_id(err.details) if err.status == 409 else None
        if running:
            # An export is already running: follow that one instead of starting a second.
            st.session_state[WATCH_KEY] = running
            st.info(f"Export {running} is already running; following it.")
        else:
            ui.show_api_error(err, "Start export")
    else:
        st.session_state[WATCH_KEY] = str(answer.get("job_id"))
        if answer.get("state") not in (None, "queued"):
            st.info("An export was already running; following it.")


def watch_job() -> None:
    """The watched job's live state; reruns itself every few seconds until the job ends."""
    job_id = st.session_state.get(WATCH_KEY)
    if not job_id:
        return
    try:
        job = ui.client().job(job_id)
    except ApiError as err:
        ui.show_api_error(err, "Job status")
        return
    view = jobs_view.job_status(job)
    with st.status(view.label, state=view.state, expanded=True):
        st.write(view.detail)
        if view.error:
            st.error(view.error)
    if view.finished:
        st.session_state.pop(WATCH_KEY, None)
        st.session_state["last_job"] = job
        ui.cached_get.clear()  # the history and the export list have changed
        st.rerun(scope="app")


# run_every only while a job is watched, so an idle page does not poll.
watching = bool(st.session_state.get(WATCH_KEY))
st.fragment(watch_job, run_every=POLL_SECONDS if watching else None)()

last = st.session_state.get("last_job")
if last and not watching:
    done = jobs_view.job_status(last)
    (st.success if done.state == "complete" else st.error)(f"{done.label}. {done.detail}")
    if done.state == "complete":
        st.page_link("app_pages/exports.py", label="Preview it on Exports", icon=":material/table_view:")

st.subheader("Job history")
try:
    history = ui.read("/analytics/jobs")
except ApiError as err:
    ui.show_api_error(err, "Job history")
else:
    rows = jobs_view.history_rows(history)
    if not rows:
        st.caption("No jobs yet.")
    else:
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "job": st.column_config.TextColumn("Job"),
                "state": st.column_config.TextColumn("State"),
                "requested_by": st.column_config.TextColumn("Requested by"),
                "created_at": st.column_config.TextColumn("Created (UTC)"),
                "options": st.column_config.TextColumn("Options"),
                "rows": st.column_config.NumberColumn("Rows", format="%d"),
                "size": st.column_config.TextColumn("Size"),
                "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
            },
            key="job_history",
        )
