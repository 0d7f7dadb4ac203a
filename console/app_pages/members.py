"""Members (staff): browse, search, create, edit with the version read, delete with confirmation."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import ui
from console.api_client import ApiError
from console.record_form import Field
from console.record_page import RecordKind, create_section, edit_section
from console.roles import CLUBBLADEN, LIDMAATSCHAPPEN, MEMBER_SUMMARY_COLUMNS, STATUSES

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
    Field("ingangsdatum", "Lid sinds (d-m-jjjj)"),
    Field("motormerk", "Motormerk"),
    Field("motortype", "Motortype"),
    Field("bouwjaar", "Bouwjaar", "int"),
    Field("kenteken", "Kenteken"),
    Field("bankrekeningnummer", "IBAN"),
    Field("betaalwijze", "Betaalwijze", "select", ("Incasso", "Overmaking")),
    Field("nieuwsbrief", "Nieuwsbrief", "select", ("Ja", "Nee")),
    Field("privacy", "Privacy akkoord", "select", ("Ja", "Nee")),
    Field("notities", "Notities", "area"),
)
LIST_COLUMNS = [*MEMBER_SUMMARY_COLUMNS, "version"]


def who(m: dict[str, Any]) -> str:
    name = " ".join(str(m.get(k) or "") for k in ("voornaam", "tussenvoegsel", "achternaam")).split()
    return f"{m.get('lidnummer', '?')} — {' '.join(name)}"


def conflict_warning(version: int, now: Any) -> str:
    """The warning after a refused save: the version edited and, when the API says, the current one."""
    return (
        "Someone else changed this member after you opened it, so your changes were **not** saved"
        f" (you edited version {version}{f', it is now version {now}' if now else ''}). "
        "Reload to see the current record, then make your changes again."
    )


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

# ------------------------------------------------------------------ edit and create
MEMBERS = RecordKind(
    prefix="mem",
    noun="member",
    id_field="member_id",
    fields=MEMBER_FIELDS,
    title=who,
    load=lambda member_id, _listed: ui.client().get_member(member_id),
    update=lambda member_id, changes, version: ui.client().update_member(member_id, changes, version),
    delete=lambda member_id, version: ui.client().delete_member(member_id, version),
    create=lambda fields: ui.client().create_member(fields),
    caption=lambda m, version: (
        f"Lidnummer {m.get('lidnummer')} · version {version} · updated {m.get('updated_at')}"
    ),
    saved=lambda m: f"Saved member {m.get('lidnummer')}",
    conflict=conflict_warning,
    reload_label="Reload the current record",
    choose_placeholder="Choose a member on this page",
    created=lambda m: f"Created member {m.get('lidnummer', '')}",
    new_defaults={"status": "Aangemeld", "clubblad": "Digitaal"},
    new_icon=":material/person_add:",
    create_icon=":material/person_add:",
)
edit_section(MEMBERS, members)
create_section(MEMBERS)
