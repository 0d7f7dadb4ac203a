"""A Streamlit form for one record (member or product) from a field list, and the payload it sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st

from console.api_client import ApiError

Kind = Literal["text", "area", "select", "int", "bool", "euros", "list"]
# Fields the server owns: never sent back in a create or an update body.
SERVER_FIELDS = frozenset(
    {"member_id", "product_id", "lidnummer", "created_at", "updated_at", "version", "leeftijd", "jaren_lid"}
)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Kind = "text"
    options: tuple[str, ...] = ()
    required: bool = False


def widget(field: Field, value: Any, key: str) -> Any:
    """One input for `field`, showing `value`; returns what the user entered."""
    label = f"{field.label}{' *' if field.required else ''}"
    if field.kind == "select":
        options = list(field.options)
        if value not in options and value not in (None, ""):
            options.append(str(value))
        index = options.index(value) if value in options else None
        return st.selectbox(label, options, index=index, key=key)
    if field.kind == "int":
        return st.number_input(label, value=int(value) if value not in (None, "") else None, step=1, key=key)
    if field.kind == "euros":
        cents = int(value) if value not in (None, "") else 0
        return round(st.number_input(label, value=cents / 100, step=0.05, format="%.2f", key=key) * 100)
    if field.kind == "bool":
        return st.checkbox(label, value=bool(value), key=key)
    if field.kind == "area":
        return st.text_area(label, value=str(value or ""), key=key)
    if field.kind == "list":
        text = st.text_input(label, value=", ".join(value or []), key=key)
        return [v.strip() for v in text.split(",") if v.strip()]
    return st.text_input(label, value="" if value is None else str(value), key=key)


def record_inputs(
    fields: Sequence[Field], record: dict[str, Any], key: str, columns: int = 3
) -> dict[str, Any]:
    """Inputs for every field, laid out in columns; the entered values by field name."""
    cols = st.columns(columns)
    values: dict[str, Any] = {}
    for i, field in enumerate(fields):
        with cols[i % columns]:
            values[field.name] = widget(field, record.get(field.name), f"{key}_{field.name}")
    return values


def payload(values: dict[str, Any], original: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body to send: entered values, empty text as absent, server-owned fields dropped.

    For an update only the changed fields go, so a field the form does not show is never
    overwritten with a stale copy.
    """
    body: dict[str, Any] = {}
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


def show_validation(err: ApiError) -> None:
    """A 422's per-field reasons (the API never echoes the rejected value)."""
    st.error(err.message, icon=":material/error:")
    if isinstance(err.details, list):
        for item in err.details:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p not in ("body",))
                st.caption(f"• {where or 'request'}: {item.get('msg', '')}")
