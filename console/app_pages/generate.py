"""Generate: start a member export, follow it live (elapsed time, rows), and the recent jobs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from console import jobs_view, ui
from console.api_client import ApiError
from console.i18n import t

WATCH_KEY = "watch_job"
LAST_KEY = "last_job"
POLL_SECONDS = 2
HISTORY_SHOWN = 10

st.title(t("generate.title"))
access = ui.access()

try:
    history = jobs_view.history_items(ui.read("/analytics/jobs"))
    history_error: ApiError | None = None
except ApiError as err:
    history, history_error = [], err
running = next((j for j in history if jobs_view.is_active(j)), None)
if running and not st.session_state.get(WATCH_KEY):
    # A job started elsewhere (another person, another tab): follow it rather than offer a second.
    st.session_state[WATCH_KEY] = str(running.get("job_id"))
watching = bool(st.session_state.get(WATCH_KEY))

with st.form("export_options"):
    st.markdown(t("generate.intro"))
    active_only = st.checkbox(t("generate.active_only"), key="opt_active_only")
    regio = st.selectbox(
        t("generate.region"),
        ["", *access.regions],
        format_func=lambda r: r or t("generate.all_regions"),
        key="opt_regio",
    )
    anonymize = st.checkbox(t("generate.anonymize"), key="opt_anonymize")
    start = st.form_submit_button(
        t("generate.start"), type="primary", icon=":material/play_arrow:", disabled=watching
    )
if watching:
    st.caption(t("generate.start_disabled"))

if start and not watching:
    options: dict[str, Any] = {"active_only": active_only, "anonymize": anonymize}
    if regio:
        options["regio"] = regio
    try:
        answer = ui.client().generate_export(options)
    except ApiError as err:
        running_id = jobs_view.running_job_id(err.details) if err.status == 409 else None
        if running_id:
            st.session_state[WATCH_KEY] = running_id
            st.info(t("generate.already_running"))
        else:
            ui.show_api_error(err, t("what.start_export"))
    else:
        st.session_state[WATCH_KEY] = str(answer.get("job_id"))
        st.session_state.pop(LAST_KEY, None)
        if answer.get("state") not in (None, "queued"):
            st.info(t("generate.already_running"))
    ui.cached_get.clear()  # the job list has changed
    st.rerun()


def watch_job() -> None:
    """The watched job's live state; reruns itself every few seconds until the job ends."""
    job_id = st.session_state.get(WATCH_KEY)
    if not job_id:
        return
    try:
        job = ui.client().job(job_id)
    except ApiError as err:
        ui.show_api_error(err, t("what.job"))
        return
    view = jobs_view.job_status(job)
    # Not used as a `with` block: leaving one marks a running status complete (a ✓ while queued).
    box = st.status(view.label, state=view.state, expanded=True)
    box.write(view.detail)
    if view.error:
        box.error(view.error)
    if view.finished:
        st.session_state.pop(WATCH_KEY, None)
        st.session_state[LAST_KEY] = job
        ui.cached_get.clear()  # the history and the export list have changed
        st.rerun(scope="app")


# run_every only while a job is watched, so an idle page does not poll.
st.fragment(watch_job, run_every=POLL_SECONDS if watching else None)()

last = st.session_state.get(LAST_KEY)
if last and not watching:
    done = jobs_view.job_status(last)
    if done.state == "complete":
        st.success(f"{done.label} {done.detail}", icon=":material/check_circle:")
        st.page_link("app_pages/exports.py", label=t("generate.open_exports"), icon=":material/table_view:")
    else:
        st.error(f"{done.label} {done.error or ''}", icon=":material/error:")

st.subheader(t("generate.history"))
if history_error is not None:
    ui.show_api_error(history_error, t("what.history"))
elif not history:
    st.caption(t("generate.no_jobs"))
else:
    st.markdown("\n".join(f"- {jobs_view.history_sentence(j)}" for j in history[:HISTORY_SHOWN]))
