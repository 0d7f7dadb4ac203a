"""Members (staff): browse, search, create, edit with the version read, delete with confirmation."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import ui
from console.api_client import ApiError
from console.record_form import Field, payload, record_inputs, show_validation
from console.roles import CLUBBLADEN, LIDMAATSCHAPPEN, STATUSES

PAGE_SIZE = 50
access = ui.access()
MEMBER_FIELDS = (
    Field("voornaam", "Voornaam", required=True),
    Field("tussenvoegsel", "Tussenvoegsel"),
    Field("achternaam", "Achternaam", required=True),
    Field("initialen", "Initialen"),
    Field("geboortedatum", "Geboortedatum (d-m-jjjj)"),
    Field("geslacht", "Geslacht", "select", ("M", "V", "X")),
    Field("email", "E-mail", required=True),
    Field("telefoon", "Telefoon"),
    Field("straat", "Straat en huisnummer"),
    Field("postcode", "Postcode"),
    Field("woonplaats", "Woonplaats"),
    Field("land", "Land"),
    Field("regio", "Regio", "select", access.regions, required=True),
    Field("lidmaatschap", "Lidmaatschap", "select", LIDMAATSCHAPPEN, required=True),
    Field("status", "Status", "select", STATUSES),
    Field("clubblad", "Clubblad", "select", CLUBBLADEN),
    Field("lid_sinds", "Lid sinds (d-m-jjjj)"),
    Field("motormerk", "Motormerk"),
    Field("motortype", "Motortype"),
    Field("bouwjaar", "Bouwjaar", "int"),
    Field("kenteken", "Kenteken"),
    Field("bankrekeningnummer", "IBAN"),
    Field("betaalwijze", "Betaalwijze", "select", ("Incasso", "Overmaking")),
    Field("nieuwsbrief", "Nieuwsbrief", "bool"),
    Field("privacy", "Privacy akkoord", "bool"),
    Field("notities", "Notities", "area"),
)
LIST_COLUMNS = [
    "lidnummer",
    "voornaam",
    "tussenvoegsel",
    "achternaam",
    "regio",
    "status",
    "lidmaatschap",
    "woonplaats",
    "version",
]


def who(m: dict[str, Any]) -> str:
    name = " ".join(str(m.get(k) or "") for k in ("voornaam", "tussenvoegsel", "achternaam")).split()
    return f"{m.get('lidnummer', '?')} — {' '.join(name)}"


st.title("Members")

# ------------------------------------------------------------------ search and list
with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    q = c1.text_input("Search name or lidnummer", key="mem_q")
    regio = c2.selectbox("Regio", ["", *access.regions], key="mem_regio")
    status = c3.selectbox("Status", ["", *STATUSES], key="mem_status")
    lidm = c4.selectbox("Lidmaatschap", ["", *LIDMAATSCHAPPEN], key="mem_lidmaatschap")

query = (q.strip(), regio, status, lidm)
if st.session_state.get("mem_query") != query:
    # A new search starts at its first page.
    st.session_state["mem_query"] = query
    st.session_state["mem_cursors"] = [None]
cursors: list[str | None] = st.session_state["mem_cursors"]
try:
    members, next_cursor = ui.client().list_members(
        limit=PAGE_SIZE,
        cursor=cursors[-1],
        q=q.strip() or None,
        regio=regio or None,
        status=status or None,
        lidmaatschap=lidm or None,
    )
except ApiError as err:
    ui.show_api_error(err, "Members")
    members, next_cursor = [], None

frame = pd.DataFrame(members)
st.dataframe(
    frame[[c for c in LIST_COLUMNS if c in frame.columns]] if not frame.empty else frame,
    hide_index=True,
    width="stretch",
    key="members_table",
)
p1, p2, p3 = st.columns([1, 1, 4])
if p1.button("Previous page", disabled=len(cursors) <= 1, key="mem_prev"):
    cursors.pop()
    st.rerun()
if p2.button("Next page", disabled=next_cursor is None, key="mem_next"):
    cursors.append(next_cursor)
    st.rerun()
p3.caption(f"Page {len(cursors)} · {len(members)} members on this page")

# ------------------------------------------------------------------ edit
st.subheader("Edit a member")
by_id = {str(m["member_id"]): m for m in members if m.get("member_id")}
chosen = st.selectbox(
    "Member",
    list(by_id),
    index=None,
    format_func=lambda i: who(by_id[i]),
    placeholder="Choose a member on this page",
    key="mem_chosen",
)
if chosen:
    # The record as last read (after a reload: the current one), never the list's copy once edited.
    loaded: dict[str, Any] = st.session_state.get("mem_loaded") or {}
    if loaded.get("member_id") != chosen:
        try:
            loaded = ui.client().get_member(chosen)
        except ApiError as err:
            ui.show_api_error(err, "Member")
            st.stop()
        st.session_state["mem_loaded"] = loaded
    version = int(loaded.get("version", 0))
    form_key = f"mem_{chosen}_{version}"
    with st.form(form_key):
        st.caption(
            f"Lidnummer {loaded.get('lidnummer')} · version {version} · updated {loaded.get('updated_at')}"
        )
        values = record_inputs(MEMBER_FIELDS, loaded, form_key)
        save = st.form_submit_button("Save changes", type="primary", icon=":material/save:")
    if save:
        changes = payload(values, loaded)
        if not changes:
            st.info("Nothing changed.")
        else:
            try:
                saved = ui.client().update_member(chosen, changes, version)
            except ApiError as err:
                if err.status == 409:
                    st.session_state["mem_conflict"] = chosen
                    st.session_state["mem_conflict_version"] = (
                        err.details.get("current_version") if isinstance(err.details, dict) else None
                    )
                elif err.status == 422:
                    show_validation(err)
                else:
                    ui.show_api_error(err, "Save")
            else:
                st.session_state["mem_loaded"] = {**loaded, **saved} if saved else {}
                st.session_state.pop("mem_conflict", None)
                st.toast(f"Saved member {loaded.get('lidnummer')}", icon=":material/check:")
                st.rerun()
    if st.session_state.get("mem_conflict") == chosen:
        now = st.session_state.get("mem_conflict_version")
        st.warning(
            "Someone else changed this member after you opened it, so your changes were **not** saved"
            f" (you edited version {version}{f', it is now version {now}' if now else ''}). "
            "Reload to see the current record, then make your changes again.",
            icon=":material/sync_problem:",
        )
        if st.button("Reload the current record", key="mem_reload", icon=":material/refresh:"):
            st.session_state.pop("mem_loaded", None)
            st.session_state.pop("mem_conflict", None)
            st.rerun()

    with st.expander("Delete this member"):
        sure = st.checkbox(f"Yes, delete {who(loaded)} for good", key=f"mem_del_sure_{chosen}")
        if st.button(
            "Delete member", disabled=not sure, type="primary", key="mem_delete", icon=":material/delete:"
        ):
            try:
                ui.client().delete_member(chosen, version)
            except ApiError as err:
                ui.show_api_error(err, "Delete")
            else:
                st.session_state.pop("mem_loaded", None)
                st.session_state.pop("mem_chosen", None)
                st.toast("Member deleted", icon=":material/delete:")
                st.rerun()

# ------------------------------------------------------------------ create
with st.expander("New member", icon=":material/person_add:"):
    with st.form("mem_new", clear_on_submit=False):
        new_values = record_inputs(MEMBER_FIELDS, {"status": "Aangemeld", "clubblad": "Digitaal"}, "mem_new")
        create = st.form_submit_button("Create member", type="primary", icon=":material/person_add:")
    if create:
        try:
            created = ui.client().create_member(payload(new_values))
        except ApiError as err:
            if err.status == 422:
                show_validation(err)
            else:
                ui.show_api_error(err, "Create")
        else:
            st.success(f"Created member {created.get('lidnummer', '')}")
