"""Toegangslog (System_CRUD, System_Logs_Read): who read, changed, exported or erased which member data.

Filters by period, user, action and member (a lidnummer is looked up where the user may read
members); the table pages through the API's cursor; the CSV holds every page, up to a cap.
"""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from console import audit_view, avg_ui, formats, ui
from console.api_client import ApiError
from console.i18n import t

QUERY_KEY = "audit_query"  # the filters the shown pages belong to
CURSORS_KEY = "audit_cursors"  # the cursor of each page read so far (None: the first page)
CSV_KEY = "audit_csv"  # (filters, bytes, rows, cut off) of the last CSV made

st.title(t("audit.title"))
st.caption(t("audit.caption"))
access = ui.access()
today = datetime.now(formats.TIMEZONE).date()
first_day, last_day = audit_view.default_period(today)

with st.container(border=True):
    c1, c2, c3 = st.columns([1, 1, 2])
    since = c1.date_input(
        t("audit.since"), value=first_day, max_value=today, format="DD-MM-YYYY", key="audit_since"
    )
    until = c2.date_input(
        t("audit.until"), value=last_day, max_value=today, format="DD-MM-YYYY", key="audit_until"
    )
    if c3.button(t("audit.refresh"), key="audit_refresh", icon=":material/refresh:"):
        avg_ui.forget_audit()
        st.session_state.pop(QUERY_KEY, None)
    c4, c5, c6 = st.columns(3)
    user = c4.text_input(t("audit.user"), key="audit_user", max_chars=128)
    action = c5.selectbox(
        t("audit.action"),
        ["", *audit_view.ACTIONS],
        format_func=lambda code: audit_view.action_label(code) if code else t("audit.all_actions"),
        key="audit_action",
    )
    member_text = c6.text_input(
        t("audit.member"), key="audit_member", max_chars=64, help=t("audit.member_help")
    ).strip()

if not isinstance(since, date) or not isinstance(until, date):
    st.info(t("audit.choose_period"))
    st.stop()

member = member_text
if member_text and audit_view.is_lidnummer(member_text):
    if access.can_read_members:
        try:
            found = audit_view.member_id_for(member_text, ui.all_members(member_text, None, None, None))
        except ApiError as err:
            ui.show_api_error(err, t("what.members"))
            found = None
        if found:
            member = found
            st.caption(t("audit.member_found", lidnummer=member_text, member_id=found))
        else:
            st.info(t("audit.member_unknown", lidnummer=member_text))
    else:
        st.info(t("audit.member_no_lookup"))

filters = audit_view.AuditFilters(since, until, user.strip(), action, member)
problem = filters.problem()
if problem:
    st.warning(t(problem, days=formats.number(audit_view.MAX_PERIOD_DAYS)))
    st.stop()
if st.session_state.get(QUERY_KEY) != filters:
    # New filters start at their first page, and a CSV of other filters is no longer offered.
    st.session_state[QUERY_KEY] = filters
    st.session_state[CURSORS_KEY] = [None]
    st.session_state.pop(CSV_KEY, None)
cursors: list[str | None] = list(st.session_state[CURSORS_KEY])

try:
    entries, next_cursor = avg_ui.audit_page(filters, cursors[-1])
except ApiError as err:
    ui.show_api_error(err, t("what.audit"))
    st.stop()

page_no = len(cursors)
if not entries and page_no == 1 and next_cursor is None:
    st.info(t("audit.none"))
else:
    frame = audit_view.entry_frame(entries)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="audit_table",
        column_config={c: st.column_config.TextColumn(audit_view.column_label(c)) for c in frame.columns},
    )
    p1, p2, p3 = st.columns([1, 1, 4])
    if p1.button(
        t("audit.previous"), disabled=page_no <= 1, key="audit_prev", icon=":material/chevron_left:"
    ):
        st.session_state[CURSORS_KEY] = cursors[:-1]
        st.rerun()
    if p2.button(
        t("audit.next"), disabled=next_cursor is None, key="audit_next", icon=":material/chevron_right:"
    ):
        st.session_state[CURSORS_KEY] = [*cursors, next_cursor]
        st.rerun()
    p3.caption(t("audit.page", page=formats.number(page_no), rows=formats.number(len(entries))))

st.subheader(t("audit.csv.title"))
st.caption(t("audit.csv.intro", cap=formats.number(audit_view.CSV_CAP)))
if st.button(t("audit.csv.prepare"), key="audit_csv_prepare", icon=":material/table_view:"):
    try:
        with st.spinner(t("audit.csv.reading")):
            rows, cut = audit_view.all_entries(
                lambda cursor, limit: avg_ui.audit_page(filters, cursor, limit), audit_view.CSV_CAP
            )
    except ApiError as err:
        ui.show_api_error(err, t("what.audit"))
    else:
        st.session_state[CSV_KEY] = (filters, audit_view.csv_bytes(rows), len(rows), cut)
made = st.session_state.get(CSV_KEY)
if made and made[0] == filters:
    _, data, count, cut = made
    if cut:
        st.warning(t("audit.csv.cut", cap=formats.number(audit_view.CSV_CAP)), icon=":material/content_cut:")
    st.download_button(
        t("audit.csv.download", rows=formats.number(count)),
        data,
        audit_view.csv_file_name(filters),
        "text/csv",
        key="audit_csv_download",
        icon=":material/download:",
    )
