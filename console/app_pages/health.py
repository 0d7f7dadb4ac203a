"""Health (ops): the deploy health checks, each with its status, detail and the fix for a failure."""

from __future__ import annotations

import streamlit as st

from console import ops_view, ui
from console.api_client import ApiError

st.title("Health checks")
if st.button("Run the checks again", icon=":material/replay:", type="primary", key="health_rerun"):
    ui.cached_get.clear()
try:
    with st.spinner("Running the health checks …"):
        report = ui.read("/ops/health")
except ApiError as err:
    ui.show_api_error(err, "Health checks")
    st.stop()

checks = ops_view.health_checks(report)
counts = ops_view.count_statuses(checks)
cols = st.columns(4)
for col, status in zip(cols, ops_view.CHECK_STATUSES, strict=True):
    col.metric(ops_view.STATUS_LABEL[status], counts.get(status, 0))
overall = "fail" if counts.get("fail") else ("warn" if counts.get("warn") else "pass")
{"pass": st.success, "warn": st.warning, "fail": st.error}[overall](
    {"pass": "Every check passes.", "warn": "Checks pass with warnings.", "fail": "Some checks fail."}[
        overall
    ]
)
for check in checks:
    icon = ops_view.STATUS_ICON[check.status]
    label = f"{ops_view.STATUS_LABEL[check.status]} · {check.title}"
    if check.status == "not_applicable" and check.detail:
        label += f" — {check.detail}"  # the reason belongs in plain sight
    with st.expander(label, icon=icon, expanded=check.status in ("fail", "warn")):
        st.write(check.detail or "")
        if check.fix and check.status in ("fail", "warn"):
            st.markdown(f"**Fix:** {check.fix}")
        st.caption(f"check id `{check.id}`")
