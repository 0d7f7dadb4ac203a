"""Overview: members by region and status from the latest full export; the system's state for ops."""

from __future__ import annotations

import streamlit as st

from console import exports_view, formats, ops_view, ui
from console.api_client import ApiError
from console.i18n import t
from console.member_model import label

st.title(t("overview.title"))
access = ui.access()

if access.can_read_members:
    st.subheader(t("overview.members"))
    try:
        exports = ui.client().exports()
    except ApiError as err:
        ui.show_api_error(err, t("what.exports"))
        exports = []
    # Counts come from a full export only: a regional, active-only or anonymised one counts fewer.
    latest = exports_view.latest_full_export(exports)
    if latest is None:
        st.info(t("overview.no_full_export") if exports else t("overview.no_export"))
        if access.can_export:
            st.page_link(
                "app_pages/generate.py", label=t("overview.generate_link"), icon=":material/play_circle:"
            )
    else:
        export_id = str(latest.get("export_id"))
        try:
            with st.spinner(t("overview.loading")):
                frame = ui.load_export_frame(export_id)[0]
        except ApiError as err:
            ui.show_api_error(err, t("what.latest_export"))
        else:
            c1, c2, c3 = st.columns(3)
            c1.metric(t("overview.metric.members"), formats.number(len(frame)))
            active = int((frame["status"] == "Actief").sum()) if "status" in frame.columns else 0
            c2.metric(t("overview.metric.active"), formats.number(active))
            c3.metric(t("overview.metric.age"), exports_view.age_text(latest.get("created_at")))
            st.caption(t("overview.which_export", created=formats.moment(latest.get("created_at"))))
            if frame.empty:
                st.info(t("overview.empty_regions"))
            else:
                left, right = st.columns(2)
                with left:
                    st.markdown(f"**{t('overview.by_region')}**")
                    st.vega_lite_chart(
                        exports_view.counts_by(frame, "regio"),
                        exports_view.bar_spec("regio", horizontal=True, value_title=t("chart.members")),
                        width="stretch",
                    )
                with right:
                    st.markdown(f"**{t('overview.by_status')}**")
                    counts = exports_view.counts_by(frame, "status")
                    st.dataframe(
                        counts.assign(leden=counts["leden"].map(formats.number)),
                        hide_index=True,
                        width="stretch",
                        column_config={
                            "status": st.column_config.TextColumn(label("status")),
                            "leden": st.column_config.TextColumn(t("chart.members")),
                        },
                    )

if access.can_read_ops:
    st.subheader(t("overview.system"))
    try:
        stack = dict(ui.read("/ops/stack") or {})
    except ApiError as err:
        ui.show_api_error(err, t("what.stack"))
    else:
        summary = ops_view.stack_summary(stack)
        tone = ops_view.status_tone(summary["status"])
        {"good": st.success, "busy": st.info, "bad": st.error}[tone](ops_view.stack_sentence(summary))
    try:
        report = ui.read("/ops/health")
    except ApiError as err:
        ui.show_api_error(err, t("what.health"))
    else:
        checks = ops_view.with_console_endpoint_checks(ops_view.health_checks(report), ui.endpoint_results())
        tone, sentence = ops_view.health_sentence(checks)
        {"good": st.success, "busy": st.warning, "bad": st.error}[tone](sentence)
        st.page_link("app_pages/health.py", label=t("overview.health_link"), icon=":material/monitor_heart:")

if not (access.can_read_members or access.can_read_ops):
    st.info(t("overview.no_pages"))
