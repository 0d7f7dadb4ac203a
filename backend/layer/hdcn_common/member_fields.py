"""The member field catalogue: one declaration the API, the export, the checks and the console read.

Field names and vocabularies are the club's own (its `Members` table is the truth, see
DESIGN.md "Member record"); other functions of the club read the same items, so what we
write keeps their form: dates as ISO `YYYY-MM-DD`, yes/no as `Ja`/`Nee`, numbers as numbers,
timestamps as naive ISO text. Reading is tolerant: `read_value` classifies any stored value
as ok, normalisable, empty or unreadable without ever throwing it away.

Pure Python (no boto3, no pydantic) so the console can import it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from hdcn_common.validators import normalize_email, normalize_iban, normalize_postcode, parse_date


class Kind(StrEnum):
    """How a field is stored and typed in exports."""

    TEXT = "text"
    ENUM = "enum"
    DATE = "date"
    YESNO = "yesno"
    INTEGER = "integer"
    TIMESTAMP = "timestamp"


class Group(StrEnum):
    PERSONAL = "personal"
    ADDRESS = "address"
    MEMBERSHIP = "membership"
    MOTOR = "motor"
    FINANCIAL = "financial"
    ADMINISTRATIVE = "administrative"


REGIO = (
    "Noord-Holland",
    "Zuid-Holland",
    "Friesland",
    "Utrecht",
    "Oost",
    "Limburg",
    "Groningen/Drenthe",
    "Brabant/Zeeland",
    "Duitsland",
    "Overig",
)
STATUS = (
    "Actief",
    "Opgezegd",
    "wachtRegio",
    "wachtBetaling",
    "Aangemeld",
    "Geschorst",
    "HdcnAccount",
    "Club",
    "Sponsor",
    "Overig",
)
LIDMAATSCHAP = ("Gewoon lid", "Gezins lid", "Donateur", "Gezins donateur", "Erelid", "Overig")
WIEWATWAAR = (
    "Eerder lid",
    "Facebook",
    "Familie",
    "Harleydag",
    "Instagram",
    "Lid H-DCN",
    "Internet",
    "Openingsrit",
    "Vrienden",
    "Website H-DCN",
    "The Young Ones",
    "Bigtwin Bike Expo",
    "Anders",
)
YES, NO = "Ja", "Nee"
# What the club's spreadsheet and forms wrote for "unknown": read as empty, never as a value.
EMPTY_TOKENS = frozenset({"", "na", "n/a", "n.v.t.", "nvt", "-", "onbekend", "null", "none"})
# Stored timestamps are naive ISO text in UTC, as the club's functions write them.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class FieldSpec:
    """One member field: its storage kind, vocabulary, limits and whether it is personal data."""

    name: str
    group: Group
    kind: Kind
    vocabulary: tuple[str, ...] = ()
    pii: bool = False
    max_length: int = 100
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    # Set by the system (never by a client): identifiers, lidnummer, timestamps, version.
    server: bool = False
    required: bool = False  # on create only; a stored record may lack it


F = FieldSpec
FIELDS: tuple[FieldSpec, ...] = (
    F("member_id", Group.ADMINISTRATIVE, Kind.TEXT, pii=True, server=True),
    F("lidnummer", Group.MEMBERSHIP, Kind.INTEGER, pii=True, server=True, minimum=1, maximum=10**9),
    # personal
    F("voornaam", Group.PERSONAL, Kind.TEXT, pii=True, required=True),
    F("tussenvoegsel", Group.PERSONAL, Kind.TEXT, pii=True, max_length=30),
    F("achternaam", Group.PERSONAL, Kind.TEXT, pii=True, required=True),
    F("initialen", Group.PERSONAL, Kind.TEXT, pii=True, max_length=20),
    F("korte_naam", Group.PERSONAL, Kind.TEXT, pii=True),
    F("geboortedatum", Group.PERSONAL, Kind.DATE, pii=True),
    F("geslacht", Group.PERSONAL, Kind.ENUM, vocabulary=("M", "V", "X", "N")),
    F("email", Group.PERSONAL, Kind.TEXT, pii=True, max_length=254, required=True),
    F("telefoon", Group.PERSONAL, Kind.TEXT, pii=True, max_length=20, pattern=r"^\+?[0-9 ()-]{6,20}$"),
    F("minderjarigNaam", Group.PERSONAL, Kind.TEXT, pii=True),
    # address
    F("straat", Group.ADDRESS, Kind.TEXT, pii=True),
    F("postcode", Group.ADDRESS, Kind.TEXT, pii=True, max_length=12),
    F("woonplaats", Group.ADDRESS, Kind.TEXT),
    F("land", Group.ADDRESS, Kind.TEXT, max_length=60),
    # membership
    F("status", Group.MEMBERSHIP, Kind.ENUM, vocabulary=STATUS),
    F("lidmaatschap", Group.MEMBERSHIP, Kind.ENUM, vocabulary=LIDMAATSCHAP),
    F("regio", Group.MEMBERSHIP, Kind.ENUM, vocabulary=REGIO, required=True),
    F("clubblad", Group.MEMBERSHIP, Kind.ENUM, vocabulary=("Digitaal", "Papier", "Geen")),
    F("nieuwsbrief", Group.MEMBERSHIP, Kind.YESNO),
    F("privacy", Group.MEMBERSHIP, Kind.YESNO),
    F("wiewatwaar", Group.MEMBERSHIP, Kind.ENUM, vocabulary=WIEWATWAAR),
    F("ingangsdatum", Group.MEMBERSHIP, Kind.DATE),
    F(
        "welcome_pack_status",
        Group.MEMBERSHIP,
        Kind.ENUM,
        vocabulary=("pending", "sent", "not_applicable"),
    ),
    F("welcome_pack_sent_date", Group.MEMBERSHIP, Kind.DATE),
    F("welcome_pack_sent_by", Group.MEMBERSHIP, Kind.TEXT),
    # motor
    F("motormerk", Group.MOTOR, Kind.ENUM, vocabulary=("Harley-Davidson", "Indian", "Buell", "Eigenbouw")),
    F("motortype", Group.MOTOR, Kind.TEXT, max_length=60),
    F("bouwjaar", Group.MOTOR, Kind.INTEGER, minimum=1900, maximum=2100),
    F("kenteken", Group.MOTOR, Kind.TEXT, pii=True, max_length=12, pattern=r"^[A-Za-z0-9-]{1,12}$"),
    # financial
    F("bankrekeningnummer", Group.FINANCIAL, Kind.TEXT, pii=True, max_length=42),
    F("betaalwijze", Group.FINANCIAL, Kind.ENUM, vocabulary=("Incasso", "Overmaking")),
    # administrative
    F("aanmeldingsjaar", Group.ADMINISTRATIVE, Kind.INTEGER, minimum=1900, maximum=2100),
    F("datum_ondertekening", Group.ADMINISTRATIVE, Kind.DATE),
    F("tijdstempel", Group.ADMINISTRATIVE, Kind.TIMESTAMP),
    F("notities", Group.ADMINISTRATIVE, Kind.TEXT, pii=True, max_length=2000),
    F("created_at", Group.ADMINISTRATIVE, Kind.TIMESTAMP, server=True),
    F("updated_at", Group.ADMINISTRATIVE, Kind.TIMESTAMP, server=True),
    F("version", Group.ADMINISTRATIVE, Kind.INTEGER, server=True, minimum=0, maximum=10**9),
)
del F

FIELD_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}
CATALOGUE_NAMES = frozenset(FIELD_BY_NAME)
CLIENT_FIELDS: tuple[FieldSpec, ...] = tuple(f for f in FIELDS if not f.server)
PII_FIELDS = frozenset(f.name for f in FIELDS if f.pii)
DUTCH_COUNTRIES = frozenset({"nederland", "nl", "netherlands", "the netherlands", "holland"})


class ReadState(StrEnum):
    """What a stored value is, seen from the catalogue."""

    OK = "ok"  # already in the stored form we write
    NORMALISABLE = "normalisable"  # readable, but not in that form (`12-3-1985`, `"1234"`, `true`)
    EMPTY = "empty"  # absent, empty or a placeholder such as `NA`
    INVALID = "invalid"  # does not read as its kind (`31-02-1990`, `12a`, a status outside the list)


@dataclass(frozen=True)
class ReadResult:
    state: ReadState
    value: Any = None  # the typed value (date, int, bool, str, datetime) when readable


def is_empty(raw: Any) -> bool:
    """Absent, blank or a placeholder the club used for unknown."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip().casefold() in EMPTY_TOKENS
    return False


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, Decimal | float):
        return int(raw) if raw == int(raw) else None
    if isinstance(raw, str) and re.fullmatch(r"\s*[0-9]{1,12}(\.0+)?\s*", raw):
        try:
            return int(Decimal(raw.strip()))
        except InvalidOperation:
            return None
    return None


# A form's timestamp as a Dutch spreadsheet shows it: `12-3-2019 14:22:05` (seconds optional).
_DUTCH_DATETIME = re.compile(r"^(\d{1,2}-\d{1,2}-\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _as_timestamp(raw: str) -> datetime | None:
    """ISO (naive is UTC, as the club writes it), a Dutch `d-m-yyyy H:MM[:SS]`, or a bare date."""
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        value = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        try:
            m = _DUTCH_DATETIME.match(text)
            if m:
                day = parse_date(m.group(1))
                clock = (int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))
                return datetime(day.year, day.month, day.day, *clock, tzinfo=UTC)
            return datetime.combine(parse_date(text), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def read_value(spec: FieldSpec, raw: Any) -> ReadResult:
    """Classify a stored value of `spec`'s field and give its typed value when it has one."""
    if is_empty(raw):
        return ReadResult(ReadState.EMPTY)
    if spec.kind is Kind.INTEGER:
        number = _as_int(raw)
        if number is None:
            return ReadResult(ReadState.INVALID)
        in_stored_form = isinstance(raw, int | Decimal) and not isinstance(raw, bool)
        return ReadResult(ReadState.OK if in_stored_form else ReadState.NORMALISABLE, number)
    if spec.kind is Kind.YESNO:
        if raw in (YES, NO):
            return ReadResult(ReadState.OK, raw == YES)
        if isinstance(raw, bool):
            return ReadResult(ReadState.NORMALISABLE, raw)
        text = str(raw).strip().casefold()
        if text in ("ja", "j", "yes", "true", "1"):
            return ReadResult(ReadState.NORMALISABLE, True)
        if text in ("nee", "n", "no", "false", "0"):
            return ReadResult(ReadState.NORMALISABLE, False)
        return ReadResult(ReadState.INVALID)
    if not isinstance(raw, str):
        # A number where text belongs (the sheet's postcode 1234, say) is readable as its text.
        if isinstance(raw, int | Decimal) and not isinstance(raw, bool) and spec.kind is Kind.TEXT:
            return ReadResult(ReadState.NORMALISABLE, str(raw))
        return ReadResult(ReadState.INVALID)
    if spec.kind is Kind.DATE:
        try:
            value = parse_date(raw)
        except ValueError:
            return ReadResult(ReadState.INVALID)
        return ReadResult(ReadState.OK if raw == value.isoformat() else ReadState.NORMALISABLE, value)
    if spec.kind is Kind.TIMESTAMP:
        stamp = _as_timestamp(raw)
        if stamp is None:
            return ReadResult(ReadState.INVALID)
        return ReadResult(ReadState.OK, stamp)
    if spec.kind is Kind.ENUM:
        if raw in spec.vocabulary:
            return ReadResult(ReadState.OK, raw)
        folded = {v.casefold(): v for v in spec.vocabulary}
        match = folded.get(raw.strip().casefold())
        if match is not None:
            return ReadResult(ReadState.NORMALISABLE, match)
        return ReadResult(ReadState.INVALID, raw)
    return ReadResult(ReadState.OK, raw)


# ---------------------------------------------------------------- strict writes


def write_text(spec: FieldSpec, value: str) -> str:
    """A client's text in the stored form; ValueError (never echoing the value) if it does not fit."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > spec.max_length:
        raise ValueError(f"at most {spec.max_length} characters")
    if spec.name == "email":
        return normalize_email(text)
    if spec.name == "bankrekeningnummer":
        return normalize_iban(text)
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError("contains characters that are not allowed here")
    return text


def write_date(value: str | date) -> str:
    """A date as the club stores it: ISO `YYYY-MM-DD` (input may be Dutch `d-m-yyyy`)."""
    parsed = value if isinstance(value, date) else parse_date(value)
    if not date(1900, 1, 1) <= parsed <= date(2100, 12, 31):
        raise ValueError("date out of range")
    return parsed.isoformat()


def write_yesno(value: Any) -> str:
    """`Ja` or `Nee` (booleans and the common spellings are accepted)."""
    result = read_value(FIELD_BY_NAME["nieuwsbrief"], value)
    if result.state in (ReadState.OK, ReadState.NORMALISABLE):
        return YES if result.value else NO
    raise ValueError("use Ja or Nee")


def write_postcode(value: str, land: Any) -> str:
    """Dutch addresses get `1234 AB`; a postcode abroad is kept as given."""
    if is_empty(land) or str(land).strip().casefold() in DUTCH_COUNTRIES:
        return normalize_postcode(value)
    return value.strip()


def now_timestamp() -> str:
    """The current time as the club's functions store it (naive ISO, UTC, whole seconds)."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def normalised_value(spec: FieldSpec, raw: Any) -> Any:
    """The stored form for a readable value (what `hdcn members check --apply` writes), else `raw`."""
    result = read_value(spec, raw)
    if result.state is not ReadState.NORMALISABLE:
        return raw
    if spec.kind is Kind.INTEGER:
        return result.value
    if spec.kind is Kind.YESNO:
        return YES if result.value else NO
    if spec.kind is Kind.DATE:
        return result.value.isoformat()
    return result.value
