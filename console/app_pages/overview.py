"""Overview: member counts by region and status, the latest export and its age, stack status."""

from __future__ import annotations

import streamlit as st

from console import exports_view, ui
from console.api_client import ApiError

st.title("Overview")
access = ui.access()

if access.can_read_members:
    st.subheader("Members")
    try:
        exports = ui.client().exports()
    except ApiError as err:
        ui.show_api_error(err, "Exports")
        exports = []
    if not exports:
        st.info("No export yet: member counts come from the latest export.")
        if access.can_export:
            st.page_link("app_pages/generate.py", label="Generate an export", icon=":material/play_circle:")
    else:
        latest = exports[0]
        export_id = str(latest.get("export_id"))
        try:
            with st.spinner("Loading the latest export …"):
                frame = ui.load_export_frame(export_id)[0]
        except ApiError as err:
            ui.show_api_error(err, "Latest export")
        else:
            c1, c2, c3 = st.columns(3)
            c1.metric("Members in your regions", f"{len(frame):,}")
            active = int((frame["status"] == "Actief").sum()) if "status" in frame.columns else 0
            c2.metric("Active", f"{active:,}")
            c3.metric("Latest export", exports_view.age_text(latest.get("created_at")) + " old")
            st.caption(f"Export {export_id}, created {latest.get('created_at')}")
            left, right = st.columns(2)
            with left:
                st.markdown("**By region**")
                st.vega_lite_chart(
                    exports_view.counts_by(frame, "regio"),
                    exports_view.bar_spec("regio", horizontal=True),
                    width="stretch",
                )
            with right:
                st.markdown("**By status**")
                st.dataframe(exports_view.counts_by(frame, "status"), hide_index=True, width="stretch")

if access.can_read_ops:
    st.subheader("Stack")
    try:
        stack = ui.read("/ops/stack")
    except ApiError as err:
        ui.show_api_error(err, "Stack status")
    else:
        status = str((stack or {}).get("status") or (stack or {}).get("stack_status") or "unknown")
        good = status.endswith("_COMPLETE") and "ROLLBACK" not in status
        (st.success if good else st.warning)(f"Stack {stack.get('stack_name', '')}: {status}")

if not (access.can_read_members or access.can_read_ops):
    st.write("Choose a page in the menu.")
