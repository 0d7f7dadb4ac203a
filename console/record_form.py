"""Streamlit forms for one record: members from the field catalogue, products from a short field list.

A form gives back what was entered and one empty slot under each field, so every problem
(the console's own checks, or the API's 422) is shown in the user's language next to its
field, all at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st

from console import formats
from console import member_model as mm
from console.i18n import t
from console.member_model import FieldSpec

Kind = Literal["text", "area", "select", "int", "bool", "euros", "list"]
Values = dict[str, Any]
Slots = dict[str, Any]  # field name → an st.empty() under its input
# Fields the server owns: never sent back in a create or an update body.
SERVER_FIELDS = frozenset(
    {"member_id", "product_id", "lidnummer", "created_at", "updated_at", "version", "leeftijd", "jaren_lid"}
)


# ----------------------------------------------------------------------------- products


@dataclass(frozen=True)
class Field:
    """A product field: its name, label (a message id), input kind and limits."""

    name: str
    label: str
    kind: Kind = "text"
    options: tuple[str, ...] = ()
    required: bool = False
    max_chars: int | None = None


def widget(field: Field, value: Any, key: str) -> Any:
    """One input for `field`, showing `value`; returns what the user entered."""
    label = f"{t(field.label)}{' *' if field.required else ''}"
    if field.kind == "select":
        options = list(field.options)
        if value not in options and value not in (None, ""):
            options.append(str(value))
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, key=key, placeholder=t("form.choose"))
    if field.kind == "int":
        return st.number_input(
            label, value=int(value) if value not in (None, "") else None, step=1, min_value=0, key=key
        )
    if field.kind == "euros":
        # Text, not a number input: that one only knows the decimal point; people type 6,50.
        return st.text_input(label, value=formats.amount(value), key=key, max_chars=12, placeholder="0,00")
    if field.kind == "bool":
        return st.checkbox(label, value=bool(value), key=key)
    if field.kind == "area":
        return st.text_area(label, value=str(value or ""), key=key, max_chars=field.max_chars)
    if field.kind == "list":
        text = st.text_input(label, value=", ".join(value or []), key=key)
        return [v.strip() for v in text.split(",") if v.strip()]
    return st.text_input(label, value="" if value is None else str(value), key=key, max_chars=field.max_chars)


def record_inputs(
    fields: Sequence[Field], record: Mapping[str, Any], key: str, columns: int = 3
) -> tuple[Values, Slots]:
    """Inputs for every field, laid out in columns; the entered values and a message slot per field."""
    cols = st.columns(columns)
    values: Values = {}
    slots: Slots = {}
    for i, field in enumerate(fields):
        with cols[i % columns]:
            values[field.name] = widget(field, record.get(field.name), f"{key}_{field.name}")
            slots[field.name] = st.empty()
    return values, slots


def product_body(
    fields: Sequence[Field], values: Values, original: Mapping[str, Any] | None
) -> tuple[Values, dict[str, str]]:
    """The product body to send (amounts as cents), the required fields left empty, unreadable amounts."""
    errors = {
        f.name: t("error.required") for f in fields if f.required and values.get(f.name) in (None, "", [])
    }
    converted = dict(values)
    for f in fields:
        if f.kind == "euros" and f.name not in errors and values.get(f.name) not in (None, ""):
            cents = formats.cents(str(values[f.name]))
            if cents is None:
                errors[f.name] = t("error.amount")
            else:
                converted[f.name] = cents
    return payload(converted, dict(original) if original is not None else None), errors


def payload(values: Values, original: dict[str, Any] | None = None) -> Values:
    """The body to send: entered values, empty text as absent, server-owned fields dropped.

    For an update only the changed fields go, so a field the form does not show is never
    overwritten with a stale copy.
    """
    body: Values = {}
    for name, value in values.items():
        if name in SERVER_FIELDS:
            continue
        if isinstance(value, str):
            value = value.strip()
        if original is not None:
            before = original.get(name)
            if value == before or (value in ("", None) and before in ("", None)):
                continue
        if value in ("", None) and original is None:
            continue
        body[name] = value if value != "" else None
    return body


# ----------------------------------------------------------------------------- members


def member_display_value(spec: FieldSpec, raw: Any) -> Any:
    """What the input for `spec` starts with: d-m-jjjj for dates, Ja/Nee, a stored value kept as it is."""
    if spec.kind is mm.Kind.DATE:
        return mm.date_text(raw)
    if spec.kind is mm.Kind.YESNO:
        return mm.yesno_value(raw) or ("" if raw in (None, "") else str(raw))
    if spec.kind is mm.Kind.INTEGER:
        result = mm.mf.read_value(spec, raw)
        if result.state in (mm.mf.ReadState.OK, mm.mf.ReadState.NORMALISABLE):
            return int(result.value)
        return None if result.state is mm.mf.ReadState.EMPTY else str(raw)
    return "" if raw is None else raw


def _member_widget(
    spec: FieldSpec, start: Any, key: str, vocabulary: Sequence[str], flagged: str | None
) -> Any:
    label = formats.md_escape(mm.label(spec.name)) + (" *" if spec.required else "")
    help_text = t("form.flagged", value=formats.md_escape(flagged)) if flagged is not None else None
    if spec.kind in (mm.Kind.ENUM, mm.Kind.YESNO):
        options = list(vocabulary) if spec.kind is mm.Kind.ENUM else [mm.YES, mm.NO]
        if start not in options and start not in (None, ""):
            options.append(str(start))  # a stored value outside the list is kept, shown, flagged
        return st.selectbox(
            label,
            options,
            index=options.index(start) if start in options else None,
            format_func=lambda v: _option_text(spec, v),
            placeholder=t("form.choose"),
            key=key,
            help=help_text,
        )
    if spec.kind is mm.Kind.INTEGER and (start is None or isinstance(start, int)):
        return st.number_input(
            label,
            value=start,
            min_value=spec.minimum,
            max_value=spec.maximum,
            step=1,
            key=key,
            help=help_text,
        )
    if spec.kind is mm.Kind.DATE:
        return st.text_input(
            label,
            value=str(start or ""),
            placeholder=t("form.date_placeholder"),
            max_chars=40,
            key=key,
            help=help_text,
        )
    if spec.name in mm.LONG_TEXT:
        return st.text_area(label, value=str(start or ""), max_chars=spec.max_length, key=key, help=help_text)
    # A stored value longer than the limit is still shown whole (the limit applies to new input).
    limit = max(spec.max_length, len(str(start or "")))
    return st.text_input(label, value=str(start or ""), max_chars=limit, key=key, help=help_text)


def _option_text(spec: FieldSpec, value: Any) -> str:
    if spec.kind is mm.Kind.YESNO:
        return {mm.YES: t("value.yes"), mm.NO: t("value.no")}.get(value, str(value))
    return mm.value_label(spec.name, value)


def member_inputs(
    record: Mapping[str, Any], key: str, vocabularies: Mapping[str, Sequence[str]] | None = None
) -> tuple[Values, Slots]:
    """The member form from the catalogue's client fields, grouped; entered values and message slots.

    Values that do not fit the catalogue (the API's `problems`, or our own reading) are shown as
    stored, with a flag in the field's help, and are only checked again when someone changes them.
    """
    record = mm.normalise_record(dict(record))
    problems = mm.problem_fields(record)
    values: Values = {}
    slots: Slots = {}
    for group, title in mm.GROUP_TITLES.items():
        fields = [f for f in mm.FORM_FIELDS if f.group is group]
        if not fields:
            continue
        st.markdown(f"**{t(title)}**")
        cols = st.columns(3)
        for i, spec in enumerate(fields):
            raw = record.get(spec.name)
            vocabulary = (vocabularies or {}).get(spec.name, spec.vocabulary)
            flagged = str(raw) if spec.name in problems else None
            with cols[i % 3]:
                values[spec.name] = _member_widget(
                    spec, member_display_value(spec, raw), f"{key}_{spec.name}", vocabulary, flagged
                )
                slots[spec.name] = st.empty()
    return values, slots


def member_body(values: Values, original: Mapping[str, Any] | None) -> tuple[Values, dict[str, str]]:
    """The member body to send (stored forms) and every problem by field, checked all at once.

    For an update only what was changed goes, compared with what the form started from, so a
    legacy value nobody touched is neither rewritten nor blocking.
    """
    record = mm.normalise_record(dict(original or {}))
    merged = {**record, **{k: v for k, v in values.items() if v not in (None, "")}}
    body: Values = {}
    errors: dict[str, str] = {}
    for spec in mm.FORM_FIELDS:
        if spec.name not in values:
            continue
        entered = values[spec.name]
        if isinstance(entered, str):
            entered = entered.strip()
        if original is not None:
            start = member_display_value(spec, record.get(spec.name))
            if entered == start or (entered in (None, "") and start in (None, "")):
                continue
            if entered in (None, ""):
                if spec.required:
                    errors[spec.name] = t("error.required")
                else:
                    body[spec.name] = None  # cleared on purpose
                continue
        value, error = mm.validate_value(spec, entered, merged)
        if error:
            errors[spec.name] = error
        elif value is not None:
            body[spec.name] = value
    return body, errors


def show_field_errors(errors: Mapping[str, str], slots: Slots) -> None:
    """Each message under its field; any for a field the form does not show, in one box above."""
    stray = []
    for name, message in errors.items():
        slot = slots.get(name)
        if slot is not None:
            slot.error(message, icon=":material/error:")
        else:
            stray.append(f"{formats.md_escape(mm.label(name)) if name else ''}: {message}".lstrip(": "))
    st.error(t("form.errors", count=len(errors)), icon=":material/error:")
    for line in stray:
        st.caption(line)
