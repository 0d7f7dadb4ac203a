"""The member fields as the console shows and edits them, read from the one field catalogue.

The catalogue is `hdcn_common.member_fields` (the Lambda layer's code, pure Python): this is
the one place the console puts the layer on `sys.path`. Field lists, vocabularies, limits and
the region list all come from there; labels come from the message catalogue (`field.<name>`).
Records are read tolerantly: a value that does not fit the catalogue is shown as stored and
flagged, never dropped and never a crash.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

_LAYER = Path(__file__).resolve().parents[1] / "backend" / "layer"
if str(_LAYER) not in sys.path:
    sys.path.insert(0, str(_LAYER))  # hdcn_common, as the Lambda layer provides it

from hdcn_common import member_fields as mf  # noqa: E402 - after the path fix above
from hdcn_common.member_fields import FieldSpec, Group, Kind  # noqa: E402
from hdcn_common.validators import normalize_email, normalize_iban  # noqa: E402

from console.i18n import N_, field_label, t  # noqa: E402

FIELDS = mf.FIELDS
FIELD_BY_NAME = mf.FIELD_BY_NAME
REGIONS: tuple[str, ...] = mf.REGIO
STATUSES: tuple[str, ...] = mf.STATUS
LIDMAATSCHAPPEN: tuple[str, ...] = mf.LIDMAATSCHAP
YES, NO = mf.YES, mf.NO
# Names the API used before the club's own (the rename is under way): read as the new name.
LEGACY_NAMES: dict[str, str] = {"lid_sinds": "ingangsdatum"}
# Columns the export computes (not member fields) that also need a label.
COMPUTED_COLUMNS: tuple[str, ...] = ("leeftijd", "jaren_lid", "jubileum")
# Columns of the export comparison (the value in the earlier export) that also need a label.
COMPARISON_COLUMNS: tuple[str, ...] = ("status_vorige", "regio_vorige")
# The columns that name and place a member, first in every member table.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "lidnummer",
    "voornaam",
    "tussenvoegsel",
    "achternaam",
    "regio",
    "status",
    "lidmaatschap",
    "woonplaats",
)
# The fields a person edits in the member form: every client field except machine timestamps.
FORM_FIELDS: tuple[FieldSpec, ...] = tuple(f for f in mf.CLIENT_FIELDS if f.kind is not Kind.TIMESTAMP)
# Free text that deserves more than one line.
LONG_TEXT = frozenset({"notities"})
GROUP_TITLES: dict[Group, str] = {
    Group.PERSONAL: N_("group.personal"),
    Group.ADDRESS: N_("group.address"),
    Group.MEMBERSHIP: N_("group.membership"),
    Group.MOTOR: N_("group.motor"),
    Group.FINANCIAL: N_("group.financial"),
    Group.ADMINISTRATIVE: N_("group.administrative"),
}
# Stored values that are English words in the club's table: shown in the user's language.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "welcome_pack_status": {
        "pending": N_("value.welcome_pack.pending"),
        "sent": N_("value.welcome_pack.sent"),
        "not_applicable": N_("value.welcome_pack.not_applicable"),
    },
}


def label(name: str) -> str:
    """The column header or field label of `name` (never the raw key)."""
    return field_label(LEGACY_NAMES.get(name, name))


def value_label(name: str, value: Any) -> str:
    """A stored vocabulary value as people read it (most are Dutch already and shown as stored)."""
    msgid = VALUE_LABELS.get(name, {}).get(str(value))
    return t(msgid) if msgid else str(value)


def normalise_record(record: dict[str, Any]) -> dict[str, Any]:
    """An API member under the catalogue's names (`lid_sinds` read as `ingangsdatum`), values kept."""
    out = dict(record)
    for old, new in LEGACY_NAMES.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    return out


def problem_fields(record: dict[str, Any]) -> dict[str, str]:
    """Fields whose stored value cannot be read as its kind: from the API's `problems`, else our own read.

    The API sends `problems: [{"field": ..., "state": "normalisable" | "invalid"}]`; only
    "invalid" is flagged to people (a normalisable value, `12-3-1985` or `"1234"`, reads fine
    and is shown in the usual form). A member from an API without the list is classified here
    with the same reader, so the flags are the same either way.
    """
    found: dict[str, str] = {}
    problems = record.get("problems")
    if isinstance(problems, list):
        for p in problems:
            if isinstance(p, dict) and p.get("field") and p.get("state", "invalid") == "invalid":
                found[LEGACY_NAMES.get(str(p["field"]), str(p["field"]))] = "invalid"
        return found
    for name, raw in normalise_record(record).items():
        spec = FIELD_BY_NAME.get(name)
        if spec is None or spec.server:
            continue
        if mf.read_value(spec, raw).state is mf.ReadState.INVALID:
            found[name] = mf.ReadState.INVALID.value
    return found


def date_text(raw: Any) -> str:
    """A stored date as d-m-jjjj for the form; a value that is no date stays as stored."""
    if raw in (None, ""):
        return ""
    if isinstance(raw, date | datetime):
        value = raw.date() if isinstance(raw, datetime) else raw
        return f"{value.day}-{value.month}-{value.year}"
    result = mf.read_value(FIELD_BY_NAME["ingangsdatum"], raw)
    if result.state in (mf.ReadState.OK, mf.ReadState.NORMALISABLE):
        value = result.value
        return f"{value.day}-{value.month}-{value.year}"
    return str(raw)


def yesno_value(raw: Any) -> str | None:
    """`Ja`, `Nee` or None for a stored yes/no (booleans from the old API included)."""
    result = mf.read_value(FIELD_BY_NAME["nieuwsbrief"], raw)
    if result.state in (mf.ReadState.OK, mf.ReadState.NORMALISABLE):
        return YES if result.value else NO
    return None


def validate_value(spec: FieldSpec, raw: Any, record: dict[str, Any]) -> tuple[Any, str | None]:
    """The value to send for `spec` and a Dutch (or English) message if it cannot be sent.

    The same rules the API applies, checked for every field at once, so a person sees all
    problems together and next to their fields instead of one 422 at a time.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, (t("error.required") if spec.required else None)
    if spec.kind is Kind.DATE:
        try:
            return mf.write_date(raw), None
        except ValueError:
            return raw, t("error.date")
    if spec.kind is Kind.INTEGER:
        number = mf.read_value(spec, raw)
        if number.state not in (mf.ReadState.OK, mf.ReadState.NORMALISABLE):
            return raw, t("error.integer")
        value = int(number.value)
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            return value, t("error.range", minimum=low, maximum=high)
        return value, None
    if spec.kind is Kind.YESNO:
        try:
            return mf.write_yesno(raw), None
        except ValueError:
            return raw, t("error.yesno")
    if spec.kind is Kind.ENUM:
        if raw in spec.vocabulary:
            return raw, None
        return raw, t("error.choice")
    text = str(raw).strip()
    if len(text) > spec.max_length:
        return text, t("error.too_long", maximum=spec.max_length)
    if spec.name == "postcode":
        try:
            return mf.write_postcode(text, record.get("land")), None
        except ValueError:
            return text, t("error.postcode")
    if spec.name == "email":
        try:
            return normalize_email(text), None
        except ValueError:
            return text, t("error.email")
    if spec.name == "bankrekeningnummer":
        try:
            return normalize_iban(text), None
        except ValueError:
            return text, t("error.iban")
    try:
        return mf.write_text(spec, text), None
    except ValueError:
        return text, t("error.pattern")


# pydantic's error types (the API's 422 `details[].type`) → the message shown next to the field.
API_ERROR_MESSAGES: dict[str, str] = {
    "missing": N_("error.required"),
    "string_too_short": N_("error.required"),
    "string_too_long": N_("error.too_long_api"),
    "string_pattern_mismatch": N_("error.pattern"),
    "enum": N_("error.choice"),
    "literal_error": N_("error.choice"),
    "int_parsing": N_("error.integer"),
    "int_type": N_("error.integer"),
    "int_from_float": N_("error.integer"),
    "greater_than_equal": N_("error.range_api"),
    "less_than_equal": N_("error.range_api"),
    "date_parsing": N_("error.date"),
    "date_from_datetime_parsing": N_("error.date"),
    "date_type": N_("error.date"),
    "bool_parsing": N_("error.yesno"),
    "extra_forbidden": N_("error.unknown_field"),
}
FIELD_VALUE_ERRORS: dict[str, str] = {
    "postcode": N_("error.postcode"),
    "email": N_("error.email"),
    "bankrekeningnummer": N_("error.iban"),
}


def api_field_errors(details: Any) -> dict[str, str]:
    """A 422's `details` (`[{loc, msg, type}]`) as one translated message per field name."""
    errors: dict[str, str] = {}
    if not isinstance(details, list):
        return errors
    for item in details:
        if not isinstance(item, dict):
            continue
        loc = [str(p) for p in item.get("loc") or [] if str(p) not in ("body", "query", "path")]
        name = LEGACY_NAMES.get(loc[0], loc[0]) if loc else ""
        kind = str(item.get("type") or "")
        spec = FIELD_BY_NAME.get(name)
        if kind == "value_error" and name in FIELD_VALUE_ERRORS:
            msgid = FIELD_VALUE_ERRORS[name]
        elif kind == "value_error" and spec is not None and spec.kind is Kind.DATE:
            msgid = N_("error.date")
        else:
            msgid = API_ERROR_MESSAGES.get(kind, N_("error.rejected"))
        errors.setdefault(name, t(msgid))
    return errors
