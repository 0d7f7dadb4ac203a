"""Deterministic, realistic seed data: Dutch members of any count, and webshop products.

The same count gives the same members on every machine (a seeded `random.Random`),
so tests and benchmarks can rely on them. Emails are unique (they carry the
lidnummer); IBANs have valid check digits; postcodes are Dutch `1234 AB`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hdcn_common.member_fields import WIEWATWAAR

SEED = 20261125
NAMESPACE = uuid.UUID("6f1c1d2e-8a51-4c39-9c1e-4b8d2f0a7e11")

VOORNAMEN_M = [
    "Jan",
    "Pieter",
    "Kees",
    "Henk",
    "Willem",
    "Gerrit",
    "Hans",
    "Johan",
    "Marco",
    "Erik",
    "Ruud",
    "Bas",
    "Dirk",
    "Frank",
    "Sander",
    "Thijs",
    "Jeroen",
    "Bram",
    "Koen",
    "Wouter",
    "Arjen",
    "Rob",
]
VOORNAMEN_V = [
    "Anna",
    "Maria",
    "Els",
    "Ingrid",
    "Sandra",
    "Linda",
    "Monique",
    "Petra",
    "Anouk",
    "Femke",
    "Sanne",
    "Lotte",
    "Marieke",
    "Esther",
    "Karin",
    "Wilma",
    "Ria",
    "Joke",
    "Ilse",
    "Nicole",
]
ACHTERNAMEN = [
    ("", "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("van", "Dijk"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("de", "Groot"),
    ("", "Bos"),
    ("", "Vos"),
    ("", "Peters"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Dijkstra"),
    ("", "Smits"),
    ("de", "Graaf"),
    ("van der", "Meer"),
    ("van der", "Linden"),
    ("", "Kok"),
    ("", "Jacobs"),
    ("de", "Haan"),
    ("", "Vermeulen"),
    ("van den", "Heuvel"),
    ("van der", "Veen"),
    ("van den", "Broek"),
    ("de", "Bruijn"),
    ("", "Schouten"),
    ("van", "Beek"),
    ("", "Willems"),
    ("van", "Vliet"),
]
STRATEN = [
    "Dorpsstraat",
    "Kerkstraat",
    "Schoolstraat",
    "Molenweg",
    "Stationsweg",
    "Julianastraat",
    "Beatrixlaan",
    "Wilhelminastraat",
    "Parallelweg",
    "Industrieweg",
    "Eikenlaan",
    "Lindelaan",
]
WOONPLAATSEN: dict[str, list[tuple[str, str]]] = {
    "Noord-Holland": [("Amsterdam", "10"), ("Haarlem", "20"), ("Alkmaar", "18"), ("Hoorn", "16")],
    "Zuid-Holland": [("Rotterdam", "30"), ("Den Haag", "25"), ("Leiden", "23"), ("Dordrecht", "33")],
    "Friesland": [("Leeuwarden", "89"), ("Sneek", "86"), ("Heerenveen", "84")],
    "Utrecht": [("Utrecht", "35"), ("Amersfoort", "38"), ("Zeist", "37"), ("Nieuwegein", "34")],
    "Oost": [("Zwolle", "80"), ("Enschede", "75"), ("Apeldoorn", "73"), ("Arnhem", "68"), ("Nijmegen", "65")],
    "Limburg": [("Maastricht", "62"), ("Venlo", "59"), ("Roermond", "60"), ("Heerlen", "64")],
    "Groningen/Drenthe": [("Groningen", "97"), ("Assen", "94"), ("Emmen", "78")],
    "Brabant/Zeeland": [("Eindhoven", "56"), ("Tilburg", "50"), ("Breda", "48"), ("Middelburg", "43")],
    "Duitsland": [("Kleve", "47"), ("Emmerich", "46"), ("Aachen", "52")],
    "Overig": [("Antwerpen", "20"), ("Gent", "90")],
}
REGIO_WEIGHTS = {
    "Noord-Holland": 14,
    "Zuid-Holland": 15,
    "Friesland": 6,
    "Utrecht": 10,
    "Oost": 16,
    "Limburg": 8,
    "Groningen/Drenthe": 8,
    "Brabant/Zeeland": 17,
    "Duitsland": 4,
    "Overig": 2,
}
MOTOREN = {
    "Harley-Davidson": [
        "Electra Glide",
        "Road King",
        "Fat Boy",
        "Street Glide",
        "Sportster 1200",
        "Softail Heritage",
        "Dyna Low Rider",
        "Road Glide",
        "Breakout",
    ],
    "Buell": ["XB12S"],
    "Indian": ["Chief"],
}
LIDMAATSCHAP_WEIGHTS = {
    "Gewoon lid": 78,
    "Gezins lid": 12,
    "Donateur": 5,
    "Gezins donateur": 2,
    "Erelid": 1,
    "Overig": 2,
}
STATUS_WEIGHTS = {
    "Actief": 82,
    "Opgezegd": 9,
    "wachtRegio": 1,
    "wachtBetaling": 1,
    "Aangemeld": 3,
    "Geschorst": 1,
    "HdcnAccount": 1,
    "Club": 1,
    "Sponsor": 1,
    "Overig": 1,
}
BANKS = ["ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB"]
LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"


def iban_nl(rng: random.Random) -> str:
    """A Dutch IBAN with valid ISO 7064 check digits."""
    bank = rng.choice(BANKS)
    account = f"{rng.randrange(10**9, 10**10):010d}"
    numeric = "".join(str(int(c, 36)) for c in f"{bank}{account}NL00")
    check = 98 - int(numeric) % 97
    return f"NL{check:02d}{bank}{account}"


def kenteken(rng: random.Random) -> str:
    """A Dutch motorcycle-style plate, e.g. MZ-12-AB."""
    return f"M{rng.choice(LETTERS)}-{rng.randrange(10, 99)}-{rng.choice(LETTERS)}{rng.choice(LETTERS)}"


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_members(count: int, seed: int = SEED, today: date | None = None) -> Iterator[dict[str, Any]]:
    """`count` member records as stored in the Members table (lidnummer 1..count)."""
    rng = random.Random(seed)
    today = today or date(2026, 11, 1)
    for i in range(count):
        lidnummer = 1 + i
        man = rng.random() < 0.82
        voornaam = rng.choice(VOORNAMEN_M if man else VOORNAMEN_V)
        tussenvoegsel, achternaam = rng.choice(ACHTERNAMEN)
        regio = _weighted(rng, REGIO_WEIGHTS)
        woonplaats, pc = rng.choice(WOONPLAATSEN[regio])
        birth = today - timedelta(days=rng.randrange(18 * 365, 85 * 365))
        joined = max(date(1985, 1, 1), birth + timedelta(days=18 * 365 + rng.randrange(0, 40 * 365)))
        joined = min(joined, today)
        merk = "Harley-Davidson" if rng.random() < 0.93 else rng.choice(["Buell", "Indian"])
        created = f"{joined.isoformat()}T12:00:00"  # naive ISO, as the club's functions write it
        record: dict[str, Any] = {
            "member_id": str(uuid.uuid5(NAMESPACE, f"member-{seed}-{lidnummer}")),
            "lidnummer": lidnummer,
            "voornaam": voornaam,
            "tussenvoegsel": tussenvoegsel,
            "achternaam": achternaam,
            "initialen": f"{voornaam[0]}.",
            "geboortedatum": birth.isoformat(),
            "geslacht": "M" if man else "V",
            "email": f"{voornaam}.{achternaam}.{lidnummer}@example.nl".lower().replace(" ", ""),
            "telefoon": f"06{rng.randrange(10**7, 10**8)}",
            "straat": f"{rng.choice(STRATEN)} {rng.randrange(1, 250)}",
            "postcode": f"{pc}{rng.randrange(10, 99)} {rng.choice(LETTERS)}{rng.choice(LETTERS)}",
            "woonplaats": woonplaats,
            "land": "Duitsland" if regio == "Duitsland" else ("België" if regio == "Overig" else "Nederland"),
            "regio": regio,
            "lidmaatschap": _weighted(rng, LIDMAATSCHAP_WEIGHTS),
            "status": _weighted(rng, STATUS_WEIGHTS),
            "clubblad": rng.choice(["Digitaal", "Digitaal", "Papier", "Geen"]),
            "ingangsdatum": joined.isoformat(),
            "wiewatwaar": rng.choice(WIEWATWAAR),
            "welcome_pack_status": "sent" if joined < today - timedelta(days=60) else "pending",
            "motormerk": merk,
            "motortype": rng.choice(MOTOREN[merk]),
            "bouwjaar": rng.randrange(1975, 2026),
            "kenteken": kenteken(rng),
            "bankrekeningnummer": iban_nl(rng),
            "betaalwijze": rng.choice(["Incasso", "Incasso", "Incasso", "Overmaking"]),
            "nieuwsbrief": "Ja" if rng.random() < 0.7 else "Nee",
            "privacy": "Ja" if rng.random() < 0.9 else "Nee",
            "aanmeldingsjaar": joined.year,
            "notities": "",
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
        yield record


def _dutch(day: str) -> str:
    """An ISO date as the club's spreadsheet wrote it: `d-m-yyyy`, no leading zeros."""
    d = date.fromisoformat(day)
    return f"{d.day}-{d.month}-{d.year}"


def generate_legacy_members(count: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """`count` members in the shapes the club's old system stored (see issue #11, DESIGN.md).

    The same people as `generate_members`, written the way the spreadsheet import and the old
    forms left them: numbers as text, dates in either form, `NA` or empty for unknown, applicants
    without a lidnummer, mixed-case and shared emails, values outside the vocabularies, a few
    values that do not parse at all, fields outside the catalogue, and no `version`.
    """
    rng = random.Random(seed + 1)
    previous_email: str | None = None
    for n, clean in enumerate(generate_members(count, seed)):
        m: dict[str, Any] = {k: v for k, v in clean.items() if k != "version"}
        roll = rng.random()
        if m["status"] == "Aangemeld":
            del m["lidnummer"]  # applicants get their number when they are accepted
        elif n % 97 == 13:
            m["lidnummer"] = f"{m['lidnummer']}a"  # a typo the sheet kept
        elif roll < 0.8:
            m["lidnummer"] = str(m["lidnummer"])
        for field in ("geboortedatum", "ingangsdatum"):
            if rng.random() < 0.5:
                m[field] = _dutch(m[field])
        if n % 89 == 7:
            m["geboortedatum"] = "31-02-1990"  # no such day
        elif rng.random() < 0.03:
            m["geboortedatum"] = "NA"
        m["bouwjaar"] = "NA" if rng.random() < 0.05 else str(m["bouwjaar"])
        m["aanmeldingsjaar"] = str(m["aanmeldingsjaar"])
        if rng.random() < 0.1:
            m["nieuwsbrief"] = ""
        if rng.random() < 0.3:
            m["email"] = m["email"].title()  # as typed on the paper form
        if n % 61 == 5 and previous_email:
            m["email"] = previous_email  # a family sharing one address
        elif n % 113 == 9:
            m["email"] = "NA"
        previous_email = m["email"]
        if m["status"] == "wachtRegio":
            # Still waiting for a region: a placeholder or nothing (an empty string cannot be an index key).
            if rng.random() < 0.5:
                m["regio"] = "NA"
            else:
                del m["regio"]
        if rng.random() < 0.02:
            m["motormerk"] = "Triumph"  # outside the vocabulary: kept, reported
        if rng.random() < 0.05:
            m["geslacht"] = "N"
        if rng.random() < 0.2:
            m["korte_naam"] = m["voornaam"]
        if rng.random() < 0.3:
            m["tijdstempel"] = f"{m['ingangsdatum']} 1{rng.randrange(0, 9)}:2{rng.randrange(0, 9)}:05"
            m["datum_ondertekening"] = _dutch(clean["ingangsdatum"])
        if rng.random() < 0.1:
            m["welcome_pack_sent_date"] = _dutch(clean["ingangsdatum"])
            m["welcome_pack_sent_by"] = "secretariaat"
        if rng.random() < 0.15:
            m["opmerking_import"] = f"rij {n + 2} van het ledenbestand"  # a field outside the catalogue
        if rng.random() < 0.05:
            m["postcode"] = m["postcode"].replace(" ", "").lower()
        if rng.random() < 0.04:
            m["telefoon"] = "NA"
        yield m


def generate_products() -> list[dict[str, Any]]:
    """The webshop's catalogue (fixed)."""
    items = [
        ("H-DCN T-shirt zwart", "Katoenen T-shirt met clublogo", 2250, "Kleding", 120),
        ("H-DCN hoodie", "Hoodie met geborduurd logo", 4995, "Kleding", 45),
        ("Clubpatch groot", "Rugpatch 25 cm", 1800, "Patches", 200),
        ("Clubpatch klein", "Borstpatch 8 cm", 750, "Patches", 350),
        ("Pin jubileum 40 jaar", "Emaille pin", 500, "Accessoires", 80),
        ("Sleutelhanger", "Metalen sleutelhanger", 650, "Accessoires", 150),
        ("Cap", "Baseball cap zwart/oranje", 1995, "Kleding", 60),
        ("Bandana", "Bandana met clublogo", 995, "Kleding", 90),
        ("Sticker set", "Vijf stickers", 400, "Accessoires", 500),
        ("Jaarboek 2026", "Het clubjaar in beeld", 2500, "Boeken", 40),
    ]
    products = []
    for n, (name, desc, price, cat, stock) in enumerate(items, start=1):
        products.append(
            {
                "product_id": str(uuid.uuid5(NAMESPACE, f"product-{n}")),
                "name": name,
                "description": desc,
                "price_cents": price,
                "stock": stock,
                "category": cat,
                "images": [],
                "active": True,
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
                "version": 1,
            }
        )
    return products


DATA_KINDS = ("clean", "legacy")


def seed_tables(
    dynamodb: Any,
    members_table: str,
    keys_table: str,
    products_table: str,
    members: int,
    data: str = "clean",
) -> None:
    """Write `members` members and the products.

    `clean`: records as this project writes them, with their uniqueness records and the
    lidnummer counter. `legacy`: the club's old shapes and nothing else, as a table taken over
    from the old system is before `hdcn members check --apply`.
    """
    members_t, keys_t = dynamodb.Table(members_table), dynamodb.Table(keys_table)
    if data == "legacy":
        with members_t.batch_writer() as mw:
            for m in generate_legacy_members(members):
                mw.put_item(Item=m)
    else:
        with members_t.batch_writer() as mw, keys_t.batch_writer() as kw:
            for m in generate_members(members):
                mw.put_item(Item=m)
                kw.put_item(Item={"pk": f"email#{m['email']}", "member_id": m["member_id"]})
        keys_t.put_item(Item={"pk": "counter#lidnummer", "value": Decimal(members)})
    with dynamodb.Table(products_table).batch_writer() as pw:
        for p in generate_products():
            pw.put_item(Item=p)
