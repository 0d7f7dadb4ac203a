"""Health (ops): the deploy health checks as `hdcn health` shows them, failures first with their fix."""

from __future__ import annotations

import streamlit as st

from console import formats, ops_view, ui
from console.api_client import ApiError
from console.i18n import t

st.title(t("health.title"))
if st.button(t("health.rerun"), icon=":material/replay:", type="primary", key="health_rerun"):
    ui.cached_get.clear()
    ui.clear_endpoint_results()
try:
    with st.spinner(t("health.running")):
        report = ui.read("/ops/health")
except ApiError as err:
    ui.show_api_error(err, t("what.health"))
    st.stop()

checks = ops_view.with_console_endpoint_checks(ops_view.health_checks(report), ui.endpoint_results())
counts = ops_view.count_statuses(checks)
for col, status in zip(st.columns(4), ops_view.CHECK_STATUSES, strict=True):
    col.metric(t(ops_view.STATUS_LABEL[status]), formats.number(counts.get(status, 0)))
tone, sentence = ops_view.health_sentence(checks)
{"good": st.success, "busy": st.warning, "bad": st.error}[tone](sentence)
for check in checks:
    label = f"{t(ops_view.STATUS_LABEL[check.status])} · {formats.md_escape(ops_view.check_title(check))}"
    with st.expander(
        label, icon=ops_view.STATUS_ICON[check.status], expanded=check.status in ("fail", "warn")
    ):
        st.markdown(f"{t('health.detail')}: {formats.md_escape(check.detail or '—')}")
        if check.fix and check.status in ("fail", "warn"):
            st.markdown(f"**{t('health.fix')}:** {formats.md_escape(check.fix)}")
