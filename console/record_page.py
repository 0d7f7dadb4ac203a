"""The flow the record pages (members, products) share: choose, edit, reload after a conflict, delete, create.

A `RecordKind` holds what differs between them: names, the form, texts and the API calls.
Every text is a message id or a function giving text in the user's language; user data
shown in a label or message is escaped, never rendered as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from console import formats, ui
from console.api_client import ApiError
from console.i18n import t
from console.member_model import api_field_errors
from console.record_form import Slots, Values, show_field_errors

Record = dict[str, Any]
# The texts each kind has in the catalogue, as "<kind.texts>.<name>" (member.edit, product.edit, ...).
RECORD_TEXTS = (
    "edit",
    "choose_label",
    "choose",
    "what",
    "conflict",
    "saved",
    "delete_section",
    "delete_confirm",
    "delete",
    "deleted",
    "new",
    "create",
    "created",
)


@dataclass(frozen=True)
class RecordKind:
    """One kind of record as its page names, shows and calls it."""

    prefix: str  # of its session-state and widget keys
    texts: str  # message id prefix: "<texts>.edit", "<texts>.save", ... (members: "member")
    id_field: str
    title: Callable[[Record], str]  # a record's name (plain text, escaped where shown as Markdown)
    inputs: Callable[[Record, str], tuple[Values, Slots]]  # the form: entered values and message slots
    body: Callable[[Values, Record | None], tuple[Values, dict[str, str]]]  # what to send, problems
    load: Callable[[str, Record], Record]  # the current record by id (and its copy in the list)
    update: Callable[[str, Record, int], Record]  # the changes, sent with the version read
    delete: Callable[[str, int], None]  # by id, with the version read
    create: Callable[[Record], Record]
    caption: Callable[[Record, int], str]  # above the edit form, given the record and its version
    new_defaults: Mapping[str, Any]  # what the create form starts with
    new_icon: str  # of the create expander
    create_icon: str  # of the create button
    on_change: Callable[[], None] = lambda: None  # after a create, save or delete (caches to clear)

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def text(self, text_id: str, /, **values: Any) -> str:
        """This kind's text `text_id` (one of RECORD_TEXTS) in the user's language."""
        return t(f"{self.texts}.{text_id}", **values)


def choose(kind: RecordKind, record_id: str, record: Record | None = None) -> None:
    """Open `record_id` in the edit section on the next run (safe to call after the chooser is drawn)."""
    st.session_state[kind.key("pending")] = record_id
    if record is not None:
        st.session_state[kind.key("loaded")] = record


def edit_section(kind: RecordKind, records: Sequence[Record]) -> Record | None:
    """Choose one of `records`; edit it with the version read, reload it after a conflict, delete it.

    Returns the opened record as last read (None when none is open), for the page's own tools.
    """
    st.subheader(kind.text("edit"))
    flash = st.session_state.pop(kind.key("flash"), None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    pending = st.session_state.pop(kind.key("pending"), None)
    if pending:
        st.session_state[kind.key("chosen")] = pending
    by_id = {str(r[kind.id_field]): r for r in records if r.get(kind.id_field)}
    loaded_before: Record = st.session_state.get(kind.key("loaded")) or {}
    chosen_before = st.session_state.get(kind.key("chosen"))
    if chosen_before and chosen_before not in by_id:
        if loaded_before.get(kind.id_field) == chosen_before:
            by_id[chosen_before] = loaded_before  # just created, or outside the current search
        else:
            st.session_state.pop(kind.key("chosen"))  # no longer listed (deleted, or searched away)
    chosen = st.selectbox(
        kind.text("choose_label"),
        list(by_id),
        index=None,
        format_func=lambda i: kind.title(by_id[i]),
        placeholder=kind.text("choose"),
        key=kind.key("chosen"),
    )
    if not chosen:
        return None
    # The record as last read (after a reload: the current one), never the list's copy once edited.
    loaded: Record = st.session_state.get(kind.key("loaded")) or {}
    if loaded.get(kind.id_field) != chosen:
        try:
            loaded = kind.load(chosen, by_id[chosen])
        except ApiError as err:
            ui.show_api_error(err, kind.text("what"))
            st.stop()
        st.session_state[kind.key("loaded")] = loaded
    version = int(loaded.get("version", 0))
    form_key = kind.key(f"{chosen}_{version}")
    with st.form(form_key):
        st.caption(kind.caption(loaded, version))
        values, slots = kind.inputs(loaded, form_key)
        save = st.form_submit_button(t("form.save"), type="primary", icon=":material/save:")
    if save:
        _save(kind, chosen, loaded, version, values, slots)
    if st.session_state.get(kind.key("conflict")) == chosen:
        now = st.session_state.get(kind.key("conflict_version"))
        message = kind.text("conflict", version=version)
        if now:
            message += " " + t("form.conflict_now", version=now)
        st.warning(message + " " + t("form.conflict_reload"), icon=":material/sync_problem:")
        if st.button(t("form.reload"), key=kind.key("reload"), icon=":material/refresh:"):
            st.session_state.pop(kind.key("loaded"), None)
            st.session_state.pop(kind.key("conflict"), None)
            st.rerun()
    _delete(kind, chosen, loaded, version)
    return loaded


def _save(kind: RecordKind, chosen: str, loaded: Record, version: int, values: Values, slots: Slots) -> None:
    changes, errors = kind.body(values, loaded)
    if errors:
        show_field_errors(errors, slots)
        return
    if not changes:
        st.info(t("form.nothing_changed"))
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
            show_field_errors(api_field_errors(err.details) or {"": ui.api_error_text(err)}, slots)
        else:
            ui.show_api_error(err, kind.text("what"))
    else:
        st.session_state[kind.key("loaded")] = {**loaded, **saved} if saved else {}
        st.session_state.pop(kind.key("conflict"), None)
        kind.on_change()
        st.toast(kind.text("saved", name=formats.md_escape(kind.title(loaded))), icon=":material/check:")
        st.rerun()


def _delete(kind: RecordKind, chosen: str, loaded: Record, version: int) -> None:
    with st.expander(kind.text("delete_section")):
        sure = st.checkbox(
            kind.text("delete_confirm", name=formats.md_escape(kind.title(loaded))),
            key=kind.key(f"del_sure_{chosen}"),
        )
        if st.button(
            kind.text("delete"),
            disabled=not sure,
            type="primary",
            key=kind.key("delete"),
            icon=":material/delete:",
        ):
            try:
                kind.delete(chosen, version)
            except ApiError as err:
                ui.show_api_error(err, kind.text("what"))
            else:
                st.session_state.pop(kind.key("loaded"), None)
                st.session_state.pop(kind.key("chosen"), None)
                kind.on_change()
                st.toast(kind.text("deleted"), icon=":material/delete:")
                st.rerun()


def create_section(kind: RecordKind) -> None:
    """A form for a new record from the kind's defaults; after a create it starts empty again."""
    round_key = kind.key("new_round")
    st.session_state.setdefault(round_key, 0)
    form_key = kind.key(f"new_{st.session_state[round_key]}")
    with st.expander(kind.text("new"), icon=kind.new_icon):
        with st.form(form_key):
            values, slots = kind.inputs(dict(kind.new_defaults), form_key)
            create = st.form_submit_button(kind.text("create"), type="primary", icon=kind.create_icon)
        if not create:
            return
        body, errors = kind.body(values, None)
        if errors:
            show_field_errors(errors, slots)
            return
        try:
            created = kind.create(body)
        except ApiError as err:
            if err.status == 422:
                show_field_errors(api_field_errors(err.details) or {"": ui.api_error_text(err)}, slots)
            else:
                ui.show_api_error(err, kind.text("what"))
            return
    # A fresh (empty) form next time, and the new record opened above, with a line saying so.
    st.session_state[round_key] += 1
    st.session_state[kind.key("flash")] = kind.text("created", name=formats.md_escape(kind.title(created)))
    kind.on_change()
    if created.get(kind.id_field):
        choose(kind, str(created[kind.id_field]), created)
    st.rerun()
