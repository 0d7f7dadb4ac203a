"""The club's existing records: read tolerantly, kept verbatim, exported with counts, made ready."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hdcn_common.member_export import export_members
from hdcn_common.member_fields import FIELD_BY_NAME, ReadState, read_value
from hdcn_common.members import (
    COUNTER_KEY,
    MemberCreate,
    MemberFilter,
    MemberRepository,
    MemberUpdate,
    merge_update,
    stored_fields,
    to_member,
)

from backend.local.seed import generate_legacy_members, seed_tables
from console.members_cmd import MemberTableCheck, format_report
from tests.unit.api_events import call_api
from tests.unit.aws_fixtures import REGION, ExportEnv

pytestmark = pytest.mark.unit
LEGACY = 300
TODAY = date(2026, 11, 25)


@pytest.fixture
def legacy(template_resources: dict[str, str]) -> MemberRepository:
    """GIVEN the template's tables holding LEGACY members in the old system's shapes, nothing else."""
    resource = boto3.resource("dynamodb", region_name=REGION)
    seed_tables(
        resource,
        template_resources["MembersTable"],
        template_resources["MemberKeysTable"],
        template_resources["ProductsTable"],
        LEGACY,
        data="legacy",
    )
    return MemberRepository(
        resource.Table(template_resources["MembersTable"]),
        resource.Table(template_resources["MemberKeysTable"]),
    )


def _records() -> list[dict[str, Any]]:
    return list(generate_legacy_members(LEGACY))


# ---------------------------------------------------------------- the catalogue's reader


@pytest.mark.parametrize(
    ("field", "raw", "state", "value"),
    [
        ("geboortedatum", "1985-03-12", ReadState.OK, date(1985, 3, 12)),
        ("geboortedatum", "12-3-1985", ReadState.NORMALISABLE, date(1985, 3, 12)),
        ("geboortedatum", "31-02-1990", ReadState.INVALID, None),
        ("geboortedatum", "NA", ReadState.EMPTY, None),
        ("lidnummer", Decimal(1234), ReadState.OK, 1234),
        ("lidnummer", "1234", ReadState.NORMALISABLE, 1234),
        ("lidnummer", "12a", ReadState.INVALID, None),
        ("nieuwsbrief", "Ja", ReadState.OK, True),
        ("nieuwsbrief", True, ReadState.NORMALISABLE, True),
        ("nieuwsbrief", "", ReadState.EMPTY, None),
        ("status", "wachtBetaling", ReadState.OK, "wachtBetaling"),
        ("motormerk", "Triumph", ReadState.INVALID, "Triumph"),
        ("regio", "utrecht", ReadState.NORMALISABLE, "Utrecht"),
        ("created_at", "2024-01-02T10:11:12", ReadState.OK, None),
        ("tijdstempel", "12-3-2019 14:22:05", ReadState.OK, None),
        ("tijdstempel", "2019-03-12 14:22", ReadState.OK, None),
        ("tijdstempel", "gisteren", ReadState.INVALID, None),
    ],
)
def test_stored_values_are_classified_never_dropped(
    field: str, raw: Any, state: ReadState, value: Any
) -> None:
    result = read_value(FIELD_BY_NAME[field], raw)
    assert result.state is state
    if value is not None:
        assert result.value == value


def test_every_legacy_record_reads_as_a_member_with_its_problems_named() -> None:
    # GIVEN the old system's records WHEN turned into API members THEN none fails and every value is as stored
    for record in _records():
        member = to_member(record).model_dump()
        for key, raw in record.items():
            assert member[key] == (int(raw) if isinstance(raw, Decimal) else raw), key
        problems = {p["field"]: p["state"] for p in member["problems"]}
        if record.get("geboortedatum") == "31-02-1990":
            assert problems["geboortedatum"] == "invalid"
        if str(record.get("lidnummer", "")).endswith("a"):
            assert problems["lidnummer"] == "invalid"
        assert member["version"] == 0  # never written by this project


def test_an_update_changes_only_what_it_sends() -> None:
    # GIVEN a legacy record with odd values and a field outside the catalogue
    record = next(r for r in _records() if "opmerking_import" in r and "-" in str(r["ingangsdatum"])[:3])
    # WHEN only woonplaats is sent THEN everything else is kept exactly, in its stored form
    merged = merge_update(record, MemberUpdate(woonplaats="Zeist", version=0))
    assert merged["woonplaats"] == "Zeist"
    for key, raw in record.items():
        if key not in ("woonplaats", "member_id", "lidnummer", "created_at", "updated_at"):
            assert merged[key] == raw, key
    # AND what a client sends is stored in the club's form
    merged = merge_update(record, MemberUpdate(nieuwsbrief=True, geboortedatum="1-2-1970"))
    assert merged["nieuwsbrief"] == "Ja" and merged["geboortedatum"] == "1970-02-01"


# ---------------------------------------------------------------- API on the legacy table


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call_api(method, path, "Members_CRUD,Regio_All", body, username="t")


def test_every_legacy_record_lists_opens_and_edits(legacy: MemberRepository) -> None:
    records = _records()
    # WHEN a national user pages through all members THEN every record is listed, regio or not
    seen: list[str] = []
    cursor = None
    while True:
        items, cursor = legacy.list([], MemberFilter(), 37, cursor, everything=True)
        seen.extend(i["member_id"] for i in items)
        if cursor is None:
            break
    assert sorted(seen) == sorted(r["member_id"] for r in records)
    # AND each opens; an edit of one field keeps the others in their stored form
    for record in records[:40]:
        status, body = _call("GET", f"/members/{record['member_id']}")
        assert status == 200, body
        status, body = _call("PUT", f"/members/{record['member_id']}", {"notities": "gebeld", "version": 0})
        assert status == 200, body
        stored = legacy.get(record["member_id"])
        assert stored is not None and stored["notities"] == "gebeld" and stored["version"] == 1
        for key, raw in record.items():
            if key not in ("notities", "updated_at"):
                assert stored[key] == raw, key
    # AND a regional user sees only records of their region
    items, _ = legacy.list(["Utrecht"], MemberFilter(), 200, None)
    assert items and all(i["regio"] == "Utrecht" for i in items)


def test_a_new_member_gets_a_lidnummer_above_every_existing_one(legacy: MemberRepository) -> None:
    highest = max(
        n
        for r in _records()
        if isinstance(n := read_value(FIELD_BY_NAME["lidnummer"], r.get("lidnummer")).value, int)
    )
    body = {"voornaam": "Nieuw", "achternaam": "Lid", "email": "nieuw.lid@example.nl", "regio": "Oost"}
    created = legacy.create(stored_fields(MemberCreate.model_validate(body)))
    assert created["lidnummer"] == highest + 1


# ---------------------------------------------------------------- export


def _export_everyone(env: ExportEnv, export_id: str) -> Any:
    """A full export of the table as it stands (no options)."""
    return export_members(
        dynamodb=env.scan_client(),
        s3=env.s3,
        bucket=env.bucket,
        members_table=env.members_table,
        export_id=export_id,
        options={},
        created_at="2026-11-25T21:00:00+00:00",
        today=TODAY,
    )


def test_legacy_records_export_with_every_value_and_counted_failures(
    export_env: ExportEnv, legacy: MemberRepository
) -> None:
    # GIVEN the legacy records beside the clean ones WHEN exported
    legacy_ids = {r["member_id"] for r in _records()}
    manifest = _export_everyone(export_env, "20261125T210000Z-0000000a")
    rows = pa.concat_tables(
        pq.read_table(
            io.BytesIO(export_env.s3.get_object(Bucket=export_env.bucket, Key=f.key)["Body"].read())
        )
        for f in manifest.files
    ).to_pylist()
    by_id = {r["member_id"]: r for r in rows}
    # THEN every record is a row, the values convert, and what does not convert is counted, not hidden
    assert legacy_ids <= set(by_id)
    expected: Counter[str] = Counter()
    for record in _records():
        row = by_id[record["member_id"]]
        for name in ("geboortedatum", "lidnummer", "bouwjaar", "nieuwsbrief", "ingangsdatum"):
            result = read_value(FIELD_BY_NAME[name], record.get(name))
            if result.state is ReadState.INVALID:
                expected[name] += 1
                assert row[name] is None
            elif result.state is ReadState.EMPTY:
                assert row[name] is None
            else:
                assert row[name] == result.value, name
        assert row["motormerk"] == (record["motormerk"] if record["motormerk"] != "NA" else None)
    assert expected["geboortedatum"] > 0 and expected["lidnummer"] > 0
    assert {k: v for k, v in manifest.unconverted.items() if k in expected} == dict(expected)


# ---------------------------------------------------------------- hdcn members check


def _club_like_tables(template_resources: dict[str, str]) -> tuple[Any, Any, Any]:
    """A Members table as the club has it (key only, no indexes), the template's keys table."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="Members",
        KeySchema=[{"AttributeName": "member_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "member_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    resource = boto3.resource("dynamodb", region_name=REGION)
    return client, resource.Table("Members"), resource.Table(template_resources["MemberKeysTable"])


def test_a_table_without_the_indexes_still_lists_and_finds(template_resources: dict[str, str]) -> None:
    # GIVEN the club's table before `--apply` (no indexes) WHEN a regional list or email lookup runs
    _, members, keys = _club_like_tables(template_resources)
    records = _records()
    with members.batch_writer() as w:
        for r in records:
            w.put_item(Item=r)
    repo = MemberRepository(members, keys)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = repo.list(["Utrecht", "Oost"], MemberFilter(), 9, cursor)
        seen.extend(i["member_id"] for i in items)
        if cursor is None:
            break
    # THEN the answers are those the indexes would give (by a filtered scan)
    assert sorted(seen) == sorted(r["member_id"] for r in records if r.get("regio") in ("Utrecht", "Oost"))
    target = next(r for r in records if r["email"] == r["email"].lower() and "@" in r["email"])
    assert repo.find_by_email(target["email"]) == target["member_id"]


def test_check_reports_then_apply_makes_the_table_ready_idempotently(
    template_resources: dict[str, str],
) -> None:
    client, members, keys = _club_like_tables(template_resources)
    records = _records()
    # The old forms could leave empty strings, which no index key may hold.
    records[3] = {**records[3], "regio": "", "email": ""}
    with members.batch_writer() as w:
        for r in records:
            w.put_item(Item=r)
    check = MemberTableCheck(client, members, keys)
    # WHEN checked THEN the counts add up per field, indexes are missing, no personal data is printed
    report = check.check()
    assert report.records == LEGACY
    for counts in report.fields.values():
        assert counts.ok + counts.normalisable + counts.empty + counts.invalid == LEGACY
    assert report.fields["geboortedatum"].invalid == sum(
        r.get("geboortedatum") == "31-02-1990" for r in records
    )
    assert set(report.missing_indexes) == {"email-index", "regio-member-index"}
    assert report.outside_catalogue["opmerking_import"] > 0 and report.counter is None
    text = "\n".join(format_report(report, show_ids=False))
    for r in records:
        assert r["achternaam"] not in text and r["bankrekeningnummer"] not in text
        assert r["member_id"] not in text
    assert (
        records[0]["member_id"] in "\n".join(format_report(report, show_ids=True)) or not report.to_normalise
    )
    # WHEN applied THEN indexes exist, index fields are normalised, claims written, counter above the highest
    applied = check.apply(report)
    assert applied.indexes_created == ["email-index", "regio-member-index"]
    assert applied.normalised == len({m for ms in report.to_normalise.values() for m in ms})
    assert applied.counter_raised_to == report.highest_lidnummer > 0
    counter = keys.get_item(Key={"pk": COUNTER_KEY})["Item"]["value"]
    assert int(counter) == report.highest_lidnummer
    stored = {i["member_id"]: i for i in members.scan()["Items"]}
    for r in records:
        item = stored[r["member_id"]]
        # only index fields changed; every other value is exactly as it was
        for key, raw in r.items():
            if key not in ("email", "regio", "lidnummer", "updated_at"):
                assert item[key] == raw, key
        if isinstance(r.get("lidnummer"), str) and r["lidnummer"].isdigit():
            assert item["lidnummer"] == int(r["lidnummer"])
    emptied = stored[records[3]["member_id"]]
    assert "regio" not in emptied and "email" not in emptied
    # AND a second run finds nothing more to do
    again = check.check()
    assert not again.to_normalise and not again.missing_indexes and again.claims_missing == 0
    assert check.apply(again).normalised == 0


def test_records_with_odd_types_read_edit_and_export_without_failing(
    export_env: ExportEnv, legacy: MemberRepository
) -> None:
    # GIVEN records whose catalogue fields hold other DynamoDB types, and fields of every type outside it
    odd: list[dict[str, Any]] = [
        {
            "member_id": "hdcn-import-0001",
            "regio": Decimal(3),
            "email": ["a@example.nl"],
            "status": True,
            "version": "3",
            "lidnummer": Decimal("12.5"),
            "geboortedatum": Decimal(19850312),
            "nieuwsbrief": {"keuze": "Ja"},
            "kenmerken": {"SS"},
            "bijlage": b"\x00\x01",
            "adres_oud": {"straat": "Kerkstraat 1", "jaren": [Decimal(1999), Decimal(2004)]},
            "scores": {Decimal(1), Decimal(2)},
        },
        {"member_id": "hdcn-import-0002"},  # nothing but its key
    ]
    for item in odd:
        legacy.members.put_item(Item=item)
    for item in odd:
        # WHEN opened THEN it answers, with the odd values named as problems
        status, body = _call("GET", f"/members/{item['member_id']}")
        assert status == 200, body
        # WHEN one field is changed THEN the others are written back exactly, types included
        version = body["version"]
        status, body = _call(
            "PUT", f"/members/{item['member_id']}", {"woonplaats": "Zeist", "version": version}
        )
        assert status == 200, body
        stored = legacy.get(item["member_id"])
        assert stored is not None
        for key, raw in item.items():
            if key != "version":
                assert stored[key] == raw, key
    # AND a national listing and an export still answer
    status, body = _call("GET", "/members")
    assert status == 200
    manifest = _export_everyone(export_env, "20261125T210000Z-0000000b")
    # (the legacy seed holds the same people as the clean one, under the same member ids)
    assert manifest.rows == LEGACY + len(odd)
    assert "tijdstempel" not in manifest.unconverted  # the sheet's `12-3-2019 14:22:05` reads


@pytest.mark.parametrize("everything", [True, False])
def test_a_name_search_pages_exactly_through_every_match(legacy: MemberRepository, everything: bool) -> None:
    # GIVEN a search most members do not match, read in small pages
    regions = ["Utrecht", "Oost", "Limburg"]
    expected = {
        r["member_id"]
        for r in _records()
        if "jansen" in str(r.get("achternaam", "")).casefold() and (everything or r.get("regio") in regions)
    }
    seen: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = legacy.list(regions, MemberFilter(q="JANSEN"), 3, cursor, everything=everything)
        assert len(items) <= 3
        assert all("status" in i and "postcode" in i for i in items)  # whole records, not the searched names
        seen.extend(i["member_id"] for i in items)
        if cursor is None:
            break
    # THEN every match comes exactly once, however far into the table it lies
    assert expected and sorted(seen) == sorted(expected)
