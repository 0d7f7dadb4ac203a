"""Field checks the club's data needs: dates in ISO or Dutch form, Dutch postcodes, IBANs, emails.

Each returns the normalised value or raises ValueError with a message that never
repeats the input (pydantic puts the message in a 422 the client sees; the value may be PII).
"""

from __future__ import annotations

import re
from datetime import date

_DUTCH_DATE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Za-z]{2})$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
# Pragmatic address check (one @, a dotted domain, no spaces); delivery is the real test.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# IBAN lengths by country for the countries members live in (others: the generic pattern and check).
_IBAN_LENGTHS = {"NL": 18, "BE": 16, "DE": 22, "LU": 20, "FR": 27, "GB": 22}


def parse_date(value: str) -> date:
    """A calendar date from `YYYY-MM-DD` or the Dutch `d-m-yyyy`."""
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
        m = _DUTCH_DATE.match(text)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        raise ValueError("not an existing date") from None
    raise ValueError("use YYYY-MM-DD or d-m-yyyy")


def normalize_postcode(value: str) -> str:
    """A Dutch postcode as `1234 AB`."""
    m = _POSTCODE.match(value.strip())
    if not m:
        raise ValueError("not a Dutch postcode (1234 AB)")
    return f"{m.group(1)} {m.group(2).upper()}"


def normalize_iban(value: str) -> str:
    """An IBAN in its compact upper-case form, its ISO 7064 mod-97 check passed."""
    compact = re.sub(r"\s+", "", value).upper()
    if not _IBAN.match(compact):
        raise ValueError("not an IBAN")
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        raise ValueError("IBAN has the wrong length for its country")
    rearranged = compact[4:] + compact[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise ValueError("IBAN check digits do not match")
    return compact


def normalize_email(value: str) -> str:
    """An email address, lower-cased (uniqueness is case-insensitive)."""
    text = value.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValueError("not an email address")
    return text.lower()
