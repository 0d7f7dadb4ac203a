"""Members (staff): find any member by lidnummer or name, open one by its row, edit, delete, create."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import avg_ui, formats, members_view, ui
from console.api_client import ApiError
from console.i18n import t
from console.member_model import LIDMAATSCHAPPEN, REGIONS, STATUSES, SUMMARY_COLUMNS, label
from console.record_form import member_body, member_inputs
from console.record_page import RecordKind, create_section, edit_section

PAGE_SIZE = 25
TABLE_KEY = "members_table"
access = ui.access()

MEMBERS = RecordKind(
    prefix="mem",
    texts="member",
    id_field="member_id",
    title=members_view.who,
    inputs=lambda record, key: member_inputs(record, key, {"regio": access.regions}),
    body=member_body,
    load=lambda member_id, _listed: ui.client().get_member(member_id),
    update=lambda member_id, changes, version: ui.client().update_member(member_id, changes, version),
    delete=lambda member_id, version: ui.client().delete_member(member_id, version),
    create=lambda fields: ui.client().create_member(fields),
    caption=lambda m, version: t(
        "member.caption",
        lidnummer=formats.md_escape(m.get("lidnummer") or "—"),
        updated=formats.moment(m.get("updated_at")) or "—",
    ),
    new_defaults={
        "status": "Aangemeld",
        "clubblad": "Digitaal",
        "lidmaatschap": "Gewoon lid",
        "land": "Nederland",
    },
    new_icon=":material/person_add:",
    create_icon=":material/person_add:",
    on_change=ui.forget_members,
)

st.title(t("members.title"))
# An erasure started here: its progress while it runs, its outcome once (the member may be gone).
avg_ui.erasure_progress()

# ------------------------------------------------------------------ search and list
with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    # The API takes at most 100 characters: the box takes no more.
    q = c1.text_input(
        t("filter.search"), key="mem_q", max_chars=100, placeholder=t("filter.search_placeholder")
    )
    regio = c2.selectbox(
        label("regio"), ["", *access.regions], format_func=lambda v: v or t("filter.all"), key="mem_regio"
    )
    status = c3.selectbox(
        label("status"), ["", *STATUSES], format_func=lambda v: v or t("filter.all"), key="mem_status"
    )
    lidm = c4.selectbox(
        label("lidmaatschap"),
        ["", *LIDMAATSCHAPPEN],
        format_func=lambda v: v or t("filter.all"),
        key="mem_lidmaatschap",
    )

query = (q.strip(), regio, status, lidm)
if st.session_state.get("mem_query") != query:
    st.session_state["mem_query"] = query  # a new search starts at its first page
    st.session_state["mem_page"] = 1
try:
    found = members_view.by_lidnummer(
        ui.all_members(q.strip() or None, regio or None, status or None, lidm or None)
    )
except ApiError as err:
    ui.show_api_error(err, t("what.members"))
    found = []

pages = members_view.page_count(len(found), PAGE_SIZE)
page_no = min(int(st.session_state.get("mem_page", 1)), pages)
shown = members_view.page_of(found, page_no, PAGE_SIZE)


def open_clicked_row() -> None:
    """A click on a row opens that member below (the callback runs before the page is drawn)."""
    rows = st.session_state[TABLE_KEY].selection.rows
    if rows and rows[0] < len(shown):
        st.session_state["mem_chosen"] = str(shown[rows[0]]["member_id"])
        st.session_state.pop("mem_loaded", None)


if not found:
    st.info(t("members.no_match") if any(query) else t("members.none"))
else:
    table = members_view.table_rows(shown)
    st.dataframe(
        pd.DataFrame(table),
        hide_index=True,
        width="stretch",
        key=TABLE_KEY,
        on_select=open_clicked_row,
        selection_mode="single-row",
        height=36 * (len(table) + 1) + 3,  # the whole page of rows, no scroll box
        column_config={
            **{c: label(c) for c in SUMMARY_COLUMNS},
            "lidnummer": st.column_config.NumberColumn(label("lidnummer"), format="%d"),
            members_view.PROBLEMS_COLUMN: st.column_config.TextColumn(t("members.col.problems")),
        },
    )
    p1, p2, p3 = st.columns([1, 1, 4])
    if p1.button(
        t("members.previous"), disabled=page_no <= 1, key="mem_prev", icon=":material/chevron_left:"
    ):
        st.session_state["mem_page"] = page_no - 1
        st.rerun()
    if p2.button(
        t("members.next"), disabled=page_no >= pages, key="mem_next", icon=":material/chevron_right:"
    ):
        st.session_state["mem_page"] = page_no + 1
        st.rerun()
    p3.caption(
        t(
            "members.page",
            page=formats.number(page_no),
            pages=formats.number(pages),
            total=formats.number(len(found)),
        )
    )
    st.caption(t("members.click_hint"))

records: list[dict[str, Any]] = list(found)
opened = edit_section(MEMBERS, records)
# AVG tools need Members_CRUD on the member's region (the API checks it again); every region's
# writers also reach records whose regio is missing.
if opened is not None and (access.regions == REGIONS or opened.get("regio") in access.regions):
    avg_ui.member_section(opened)
create_section(MEMBERS)
