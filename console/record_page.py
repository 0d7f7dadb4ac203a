"""The flow the record pages (members, products) share: choose, edit, reload after a conflict, delete, create.

A `RecordKind` holds what differs between them: names, fields, texts and the API calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from console import ui
from console.api_client import ApiError
from console.record_form import Field, payload, record_inputs, show_validation

Record = dict[str, Any]


@dataclass(frozen=True)
class RecordKind:
    """One kind of record as its page names, shows and calls it."""

    prefix: str  # of its session-state and widget keys
    noun: str  # in headings, labels and messages: "member"
    id_field: str
    fields: Sequence[Field]
    title: Callable[[Record], str]  # a record's name in the chooser and the delete confirmation
    load: Callable[[str, Record], Record]  # the current record by id (and its copy in the list)
    update: Callable[[str, Record, int], Record]  # the changes, sent with the version read
    delete: Callable[[str, int], None]  # by id, with the version read
    create: Callable[[Record], Record]
    caption: Callable[[Record, int], str]  # above the edit form, given the record and its version
    saved: Callable[[Record], str]  # the toast after a save
    conflict: Callable[[int, Any], str]  # the warning after a 409: the version edited, the current one
    reload_label: str
    choose_placeholder: str
    created: Callable[[Record], str]  # the success line after a create
    new_defaults: Mapping[str, Any]  # what the create form starts with
    new_icon: str  # of the create expander
    create_icon: str  # of the create button

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"


def edit_section(kind: RecordKind, records: Sequence[Record]) -> None:
    """Choose one of `records`; edit it with the version read, reload it after a conflict, delete it."""
    st.subheader(f"Edit a {kind.noun}")
    by_id = {str(r[kind.id_field]): r for r in records if r.get(kind.id_field)}
    chosen = st.selectbox(
        kind.noun.capitalize(),
        list(by_id),
        index=None,
        format_func=lambda i: kind.title(by_id[i]),
        placeholder=kind.choose_placeholder,
        key=kind.key("chosen"),
    )
    if not chosen:
        return
    # The record as last read (after a reload: the current one), never the list's copy once edited.
    loaded: Record = st.session_state.get(kind.key("loaded")) or {}
    if loaded.get(kind.id_field) != chosen:
        try:
            loaded = kind.load(chosen, by_id[chosen])
        except ApiError as err:
            ui.show_api_error(err, kind.noun.capitalize())
            st.stop()
        st.session_state[kind.key("loaded")] = loaded
    version = int(loaded.get("version", 0))
    form_key = kind.key(f"{chosen}_{version}")
    with st.form(form_key):
        st.caption(kind.caption(loaded, version))
        values = record_inputs(kind.fields, loaded, form_key)
        save = st.form_submit_button("Save changes", type="primary", icon=":material/save:")
    if save:
        _save(kind, chosen, loaded, version, payload(values, loaded))
    if st.session_state.get(kind.key("conflict")) == chosen:
        now = st.session_state.get(kind.key("conflict_version"))
        st.warning(kind.conflict(version, now), icon=":material/sync_problem:")
        if st.button(kind.reload_label, key=kind.key("reload"), icon=":material/refresh:"):
            st.session_state.pop(kind.key("loaded"), None)
            st.session_state.pop(kind.key("conflict"), None)
            st.rerun()
    _delete(kind, chosen, loaded, version)


def _save(kind: RecordKind, chosen: str, loaded: Record, version: int, changes: Record) -> None:
    if not changes:
        st.info("Nothing changed.")
        return
    try:
        saved = kind.update(chosen, changes, version)
    except ApiError as err:
        if err.status == 409:
            st.session_state[kind.key("conflict")] = chosen
            st.session_state[kind.key("conflict_version")] = (
                err.details.get("current_version") if isinstance(err.details, dict) else None
            )
        elif err.status == 422:
            show_validation(err)
        else:
            ui.show_api_error(err, "Save")
    else:
        st.session_state[kind.key("loaded")] = {**loaded, **saved} if saved else {}
        st.session_state.pop(kind.key("conflict"), None)
        st.toast(kind.saved(loaded), icon=":material/check:")
        st.rerun()


def _delete(kind: RecordKind, chosen: str, loaded: Record, version: int) -> None:
    with st.expander(f"Delete this {kind.noun}"):
        sure = st.checkbox(f"Yes, delete {kind.title(loaded)} for good", key=kind.key(f"del_sure_{chosen}"))
        if st.button(
            f"Delete {kind.noun}",
            disabled=not sure,
            type="primary",
            key=kind.key("delete"),
            icon=":material/delete:",
        ):
            try:
                kind.delete(chosen, version)
            except ApiError as err:
                ui.show_api_error(err, "Delete")
            else:
                st.session_state.pop(kind.key("loaded"), None)
                st.session_state.pop(kind.key("chosen"), None)
                st.toast(f"{kind.noun.capitalize()} deleted", icon=":material/delete:")
                st.rerun()


def create_section(kind: RecordKind) -> None:
    """A form for a new record, starting from the kind's defaults."""
    with st.expander(f"New {kind.noun}", icon=kind.new_icon):
        with st.form(kind.key("new")):
            values = record_inputs(kind.fields, dict(kind.new_defaults), kind.key("new"))
            create = st.form_submit_button(f"Create {kind.noun}", type="primary", icon=kind.create_icon)
        if create:
            try:
                created = kind.create(payload(values))
            except ApiError as err:
                if err.status == 422:
                    show_validation(err)
                else:
                    ui.show_api_error(err, "Create")
            else:
                st.success(kind.created(created))
