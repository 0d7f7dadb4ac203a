"""Member rules, the repository on moto (tables from template.yaml), the handler with minimal events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hdcn_common.auth import Caller
from hdcn_common.enums import Regio, Status
from hdcn_common.members import (
    MemberCreate,
    MemberFilter,
    MemberUpdate,
    PermissionDenied,
    check_privileged_changes,
    merge_update,
    stored_fields,
    to_member,
)
from hdcn_common.pagination import InvalidCursor, encode_cursor
from hdcn_common.records import DuplicateValue, InvalidRecord, VersionConflict
from hdcn_common.validators import normalize_email, normalize_iban, normalize_postcode, parse_date
from pydantic import ValidationError

from backend.local.runtime import LambdaContext, load_handler
from backend.local.seed import generate_members
from backend.local.template import functions, load_template
from tests.unit.aws_fixtures import SEEDED_MEMBERS, MemberTables

pytestmark = pytest.mark.unit


def valid_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "voornaam": "Anna",
        "achternaam": "Visser",
        "email": f"Anna.{uuid.uuid4().hex[:8]}@Example.NL",
        "regio": "Utrecht",
        "postcode": "3511ab",
    }
    body.update(extra)
    return body


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "iso"), [("5-3-1970", "1970-03-05"), ("05-03-1970", "1970-03-05"), ("1970-03-05", "1970-03-05")]
)
def test_dates_in_dutch_or_iso_form_are_normalised(text: str, iso: str) -> None:
    assert parse_date(text).isoformat() == iso


@pytest.mark.parametrize("text", ["31-2-1980", "1980/02/01", "5 maart 1970", "2026-13-01"])
def test_impossible_or_foreign_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_iban_postcode_and_email_rules() -> None:
    assert normalize_iban("nl91 abna 0417 1643 00") == "NL91ABNA0417164300"
    for bad in ("NL92ABNA0417164300", "NL91ABNA04171643", "XX"):
        with pytest.raises(ValueError):
            normalize_iban(bad)
    assert normalize_postcode("1234ab") == "1234 AB"
    with pytest.raises(ValueError):
        normalize_postcode("0123 AB")  # Dutch postcodes never start with 0
    assert normalize_email(" Jan.Jansen@Example.NL ") == "jan.jansen@example.nl"


def test_unknown_fields_are_rejected_by_name() -> None:
    with pytest.raises(ValidationError) as err:
        MemberCreate.model_validate(valid_body(shoe_size=44))
    assert [e["loc"] for e in err.value.errors()] == [("shoe_size",)]


def test_dutch_postcode_error_names_the_field_and_foreign_postcodes_pass() -> None:
    # GIVEN a Dutch address with a bad postcode WHEN validated THEN the error's location is `postcode`
    with pytest.raises(ValidationError) as err:
        MemberCreate.model_validate(valid_body(postcode="12345"))
    assert err.value.errors()[0]["loc"] == ("postcode",)
    # AND a German one is left as given
    assert MemberCreate.model_validate(valid_body(land="Duitsland", postcode="47533")).postcode == "47533"


def test_validation_messages_never_echo_the_input() -> None:
    secret = "NL00SECRET000000"
    with pytest.raises(ValidationError) as err:
        MemberCreate.model_validate(valid_body(bankrekeningnummer=secret))
    assert secret not in json.dumps(err.value.errors(include_input=False, include_url=False), default=str)


def test_update_merges_fields_and_a_null_cannot_remove_a_required_one() -> None:
    current = stored_fields(MemberCreate.model_validate(valid_body()))
    merged = merge_update(current, MemberUpdate(woonplaats="Zeist", version=1))
    assert merged["woonplaats"] == "Zeist" and merged["voornaam"] == "Anna"
    with pytest.raises(InvalidRecord) as err:
        merge_update(current, MemberUpdate.model_validate({"achternaam": None}))
    assert err.value.details[0]["loc"] == ["body", "achternaam"]


# ---------------------------------------------------------------- privileged changes


def test_status_and_honorary_membership_need_members_crud() -> None:
    # GIVEN a hypothetical writer without Members_CRUD, and one with it
    narrow = Caller("narrow", frozenset({"Members_Read", "Regio_All"}))
    crud = Caller("crud", frozenset({"Members_CRUD", "Regio_All"}))
    before = {"status": "Actief", "lidmaatschap": "Gewoon lid"}
    # WHEN status changes or lidmaatschap becomes Erelid/Overig THEN only Members_CRUD may
    for after in (
        {"status": "Geschorst", "lidmaatschap": "Gewoon lid"},
        {"status": "Actief", "lidmaatschap": "Erelid"},
    ):
        with pytest.raises(PermissionDenied):
            check_privileged_changes(narrow, before, after)
        check_privileged_changes(crud, before, after)
    # AND other changes (or keeping an existing Erelid) are not privileged
    check_privileged_changes(narrow, before, {"status": "Actief", "lidmaatschap": "Donateur"})
    erelid = {"status": "Actief", "lidmaatschap": "Erelid"}
    check_privileged_changes(narrow, erelid, dict(erelid))


# ---------------------------------------------------------------- repository on moto


def test_seeded_members_fit_the_models(shared_member_tables: MemberTables) -> None:
    # GIVEN the seed's members WHEN read back THEN each is a valid API member and a valid update base
    for record in generate_members(SEEDED_MEMBERS):
        stored = shared_member_tables.repo.get(record["member_id"])
        assert stored is not None
        to_member(stored)
        merge_update(stored, MemberUpdate())


def test_create_draws_the_next_lidnummer_and_guards_the_email(member_tables: MemberTables) -> None:
    fields = stored_fields(MemberCreate.model_validate(valid_body()))
    first = member_tables.repo.create(fields)
    assert first["lidnummer"] == SEEDED_MEMBERS + 1 and first["version"] == 1
    assert member_tables.repo.find_by_email(fields["email"]) == first["member_id"]
    # WHEN another member is created with the same email THEN DuplicateValue and no second record
    with pytest.raises(DuplicateValue):
        member_tables.repo.create(dict(fields))
    assert (
        member_tables.repo.create(stored_fields(MemberCreate.model_validate(valid_body())))["lidnummer"]
        == SEEDED_MEMBERS + 3
    )


def test_stale_update_is_a_conflict_naming_the_current_version(member_tables: MemberTables) -> None:
    current = member_tables.repo.create(stored_fields(MemberCreate.model_validate(valid_body())))
    updated = member_tables.repo.update(current, merge_update(current, MemberUpdate(woonplaats="Zeist")), 1)
    assert updated["version"] == 2
    # WHEN a writer who read version 1 writes again THEN VersionConflict(2), even with the old record in hand
    with pytest.raises(VersionConflict) as err:
        member_tables.repo.update(current, merge_update(current, MemberUpdate(woonplaats="Baarn")), 1)
    assert err.value.current_version == 2
    stored = member_tables.repo.get(current["member_id"])
    assert stored is not None and stored["woonplaats"] == "Zeist"


def test_email_change_and_delete_move_the_uniqueness_record(member_tables: MemberTables) -> None:
    a = member_tables.repo.create(stored_fields(MemberCreate.model_validate(valid_body())))
    b = member_tables.repo.create(stored_fields(MemberCreate.model_validate(valid_body())))
    # WHEN A takes B's address THEN DuplicateValue; WHEN A moves to a new one THEN A's old one is free
    with pytest.raises(DuplicateValue):
        member_tables.repo.update(a, merge_update(a, MemberUpdate(email=b["email"])), 1)
    moved = member_tables.repo.update(a, merge_update(a, MemberUpdate(email="nieuw.adres@example.nl")), 1)
    assert member_tables.repo.find_by_email("nieuw.adres@example.nl") == a["member_id"]
    reuse = member_tables.repo.create(
        stored_fields(MemberCreate.model_validate(valid_body(email=a["email"])))
    )
    assert reuse["email"] == a["email"]
    # WHEN A is deleted THEN its address can be used again
    member_tables.repo.delete(moved, 2)
    assert member_tables.repo.get(a["member_id"]) is None
    member_tables.repo.create(
        stored_fields(MemberCreate.model_validate(valid_body(email="nieuw.adres@example.nl")))
    )


def test_pages_cover_every_member_of_the_regions_once(shared_member_tables: MemberTables) -> None:
    # GIVEN all regions WHEN listed 7 at a time following the cursor THEN every seeded member comes once
    regions = sorted(r.value for r in Regio)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = shared_member_tables.repo.list(regions, MemberFilter(), 7, cursor)
        assert len(items) <= 7
        seen.extend(i["member_id"] for i in items)
        if cursor is None:
            break
    assert sorted(seen) == sorted(m["member_id"] for m in generate_members(SEEDED_MEMBERS))


def test_filters_and_search(shared_member_tables: MemberTables) -> None:
    members = list(generate_members(SEEDED_MEMBERS))
    target = members[5]
    regions = [target["regio"]]
    by_nr, _ = shared_member_tables.repo.list(regions, MemberFilter(q=str(target["lidnummer"])), 10, None)
    assert [i["member_id"] for i in by_nr] == [target["member_id"]]
    by_name, _ = shared_member_tables.repo.list(
        regions, MemberFilter(q=target["achternaam"].upper()), 200, None
    )
    assert target["member_id"] in {i["member_id"] for i in by_name}
    active, _ = shared_member_tables.repo.list(regions, MemberFilter(status=Status("Actief")), 200, None)
    assert all(i["status"] == "Actief" for i in active)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        encode_cursor({"r": 0, "member_id": "x", "regio": "Limburg", "extra": "y"}),
        encode_cursor({"r": 0, "member_id": "x", "regio": "Oost"}),  # another region's key
        encode_cursor({"r": 99}),
        # the right keys with a wrong type
        encode_cursor({"r": 0, "member_id": 7, "regio": "Limburg"}),  # a string key as a number
        encode_cursor({"s": "1", "member_id": "x"}),  # the scan marker as a string
    ],
)
def test_forged_cursors_are_refused(shared_member_tables: MemberTables, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        shared_member_tables.repo.list(["Limburg", "Utrecht"], MemberFilter(), 10, cursor)


# ---------------------------------------------------------------- handler with minimal events


def _event(method: str, path: str, groups: str | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    claims = {"cognito:username": "tester", "cognito:groups": groups} if groups is not None else None
    params = {"member_id": path.rsplit("/", 1)[1]} if path.count("/") > 1 else None
    return {
        "httpMethod": method,
        "path": path,
        "resource": "/members/{member_id}" if params else "/members",
        "pathParameters": params,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": None,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"authorizer": {"claims": claims} if claims else {}, "requestId": "r1"},
    }


def _call(event: dict[str, Any]) -> tuple[int, Any]:
    handler = load_handler(functions(load_template())["MembersFunction"])
    ctx = LambdaContext("members", 512, "arn:aws:lambda:eu-west-1:123456789012:function:members", "r1", 9e12)
    res = handler(event, ctx)
    return res["statusCode"], json.loads(res["body"]) if res.get("body") else None


def test_handler_hides_other_regions_and_refuses_forged_roles(shared_member_tables: MemberTables) -> None:
    # GIVEN a Noord-Holland member
    nh = next(m for m in generate_members(SEEDED_MEMBERS) if m["regio"] == "Noord-Holland")
    path = f"/members/{nh['member_id']}"
    # WHEN a Utrecht reader asks for it THEN 404, the same as a member that does not exist
    assert _call(_event("GET", path, "Members_Read,Regio_Utrecht"))[0] == 404
    assert _call(_event("GET", path, "Members_Read,Regio_Noord-Holland"))[0] == 200
    # AND a reader cannot write, whatever the body says; nobody at all is 401
    event = _event("POST", "/members", "Members_Read,Regio_All", valid_body())
    event["headers"]["X-Enhanced-Groups"] = "System_CRUD"
    assert _call(event)[0] == 403
    assert _call(_event("GET", "/members", None))[0] == 401


def test_handler_create_and_stale_update(member_tables: MemberTables) -> None:
    status, created = _call(_event("POST", "/members", "Members_CRUD,Regio_All", valid_body()))
    assert status == 201 and created["email"] == created["email"].lower()
    path = f"/members/{created['member_id']}"
    status, body = _call(_event("PUT", path, "Members_CRUD,Regio_All", {"woonplaats": "Zeist", "version": 1}))
    assert status == 200 and body["version"] == 2
    status, body = _call(_event("PUT", path, "Members_CRUD,Regio_All", {"woonplaats": "Baarn", "version": 1}))
    assert status == 409 and body["error"]["details"] == {"current_version": 2}


@pytest.mark.parametrize("q", ["9" * 60, "\u00b2", "  ", "\uff10\uff11"])
def test_odd_searches_find_nothing_rather_than_fail(shared_member_tables: MemberTables, q: str) -> None:
    # GIVEN searches DynamoDB could not take as a number WHEN listed THEN an empty page, no error
    items, _ = shared_member_tables.repo.list(["Utrecht"], MemberFilter(q=q), 10, None)
    assert items == [] or q.strip() == ""
    assert shared_member_tables.repo.find_by_email("   ") is None


def test_a_replayed_create_with_its_idempotency_key_returns_the_first_answer(
    member_tables: MemberTables,
) -> None:
    # GIVEN a create sent with an Idempotency-Key
    event = _event("POST", "/members", "Members_CRUD,Regio_All", valid_body())
    event["headers"]["Idempotency-Key"] = "form-3f1c9a7e"
    first_status, first = _call(event)
    assert first_status == 201
    # WHEN the same request is sent again (a retry after a lost answer) THEN the first answer, not a 409
    again_status, again = _call(event)
    assert again_status == 201 and again["member_id"] == first["member_id"]
    assert again["lidnummer"] == first["lidnummer"]
    # AND only one member holds that email
    assert member_tables.repo.find_by_email(first["email"]) == first["member_id"]
    # WHEN the key comes back with another body THEN 422, nothing created
    other = _event("POST", "/members", "Members_CRUD,Regio_All", valid_body())
    other["headers"]["Idempotency-Key"] = "form-3f1c9a7e"
    status, body = _call(other)
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    # AND a malformed key is refused before anything is written
    bad = _event("POST", "/members", "Members_CRUD,Regio_All", valid_body())
    bad["headers"]["Idempotency-Key"] = "x"
    assert _call(bad)[0] == 422
