"""Members over real HTTP on the local stack: CRUD with versions, region scoping, validation, uniqueness."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

Api = Callable[..., requests.Response]


def new_member(regio: str = "Utrecht", **extra: Any) -> dict[str, Any]:
    """A valid create body with an email no other test uses."""
    body: dict[str, Any] = {
        "voornaam": "Test",
        "achternaam": "Lid",
        "email": f"test-{uuid.uuid4().hex[:12]}@example.nl",
        "regio": regio,
        "lidmaatschap": "Gewoon lid",
        "status": "Aangemeld",
        "postcode": "3511ab",
        "geboortedatum": "5-3-1970",
        "bankrekeningnummer": "NL91 ABNA 0417 1643 00",
    }
    body.update(extra)
    return body


def test_staff_creates_reads_updates_and_deletes_a_member(api: Api) -> None:
    # GIVEN staff WHEN a member is created THEN it has an id, a lidnummer, version 1 and normalised fields
    created = api("POST", "/members", user="staff", json=new_member())
    assert created.status_code == 201, created.text
    member = created.json()
    assert member["version"] == 1 and member["lidnummer"] > 0
    assert member["postcode"] == "3511 AB" and member["geboortedatum"] == "1970-03-05"
    assert member["bankrekeningnummer"] == "NL91ABNA0417164300"
    path = f"/members/{member['member_id']}"
    # WHEN it is read THEN it is the same record
    assert api("GET", path, user="staff").json() == member
    # WHEN it is updated with its version THEN the change is stored and the version moves on
    updated = api("PUT", path, user="staff", json={"woonplaats": "Utrecht", "version": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["woonplaats"] == "Utrecht" and updated.json()["version"] == 2
    # WHEN a second update still sends the old version THEN 409 names the current one
    stale = api("PUT", path, user="staff", json={"woonplaats": "Zeist"}, headers={"If-Match": "1"})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    assert api("GET", path, user="staff").json()["woonplaats"] == "Utrecht"
    # WHEN it is deleted THEN it is gone
    assert api("DELETE", path, user="staff", headers={"If-Match": "2"}).status_code == 204
    assert api("GET", path, user="staff").status_code == 404


def test_regional_reader_sees_only_their_region(api: Api) -> None:
    # GIVEN a Noord-Holland member and a Utrecht member
    nh = api("POST", "/members", user="staff", json=new_member("Noord-Holland", postcode="1011 AB")).json()
    ut = api("POST", "/members", user="staff", json=new_member("Utrecht")).json()
    # WHEN regio-utrecht lists members THEN every row is Utrecht, and pages follow the cursor
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": 20}
        if cursor:
            params["cursor"] = cursor
        page = api("GET", "/members", user="regio-utrecht", params=params)
        assert page.status_code == 200, page.text
        seen.extend(page.json()["members"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen and {m["regio"] for m in seen} == {"Utrecht"}
    ids = [m["member_id"] for m in seen]
    assert len(ids) == len(set(ids)) and ut["member_id"] in ids
    # WHEN they ask for the Noord-Holland member by id THEN it is 404, like a member that does not exist
    hidden = api("GET", f"/members/{nh['member_id']}", user="regio-utrecht")
    missing = api("GET", f"/members/{uuid.uuid4()}", user="regio-utrecht")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    # AND filtering on another region gives nothing
    other = api("GET", "/members", user="regio-utrecht", params={"regio": "Noord-Holland"})
    assert other.status_code == 200 and other.json()["members"] == []


def test_second_member_with_same_email_is_409(api: Api) -> None:
    # GIVEN a member WHEN another is created with the same email in other case THEN 409
    body = new_member()
    assert api("POST", "/members", user="staff", json=body).status_code == 201
    dup = api("POST", "/members", user="staff", json=new_member(email=body["email"].upper()))
    assert dup.status_code == 409 and dup.json()["error"]["details"] == {"field": "email"}


def test_email_change_frees_the_old_address_and_guards_the_new(api: Api) -> None:
    # GIVEN two members A and B
    a = api("POST", "/members", user="staff", json=new_member()).json()
    b = api("POST", "/members", user="staff", json=new_member()).json()
    # WHEN A takes B's email THEN 409 and A is unchanged
    taken = api("PUT", f"/members/{a['member_id']}", user="staff", json={"email": b["email"], "version": 1})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "duplicate"
    # WHEN A moves to a fresh address THEN a new member may use A's old one
    fresh = f"moved-{uuid.uuid4().hex[:10]}@example.nl"
    moved = api("PUT", f"/members/{a['member_id']}", user="staff", json={"email": fresh, "version": 1})
    assert moved.status_code == 200 and moved.json()["email"] == fresh
    reuse = api("POST", "/members", user="staff", json=new_member(email=a["email"]))
    assert reuse.status_code == 201
    # AND the email lookup (through the index) finds the member holding an address
    found = api("GET", "/members", user="staff", params={"email": fresh}).json()["members"]
    assert [m["member_id"] for m in found] == [a["member_id"]]


def test_search_by_name_and_lidnummer(api: Api) -> None:
    # GIVEN a member with a distinctive surname
    surname = f"Zoek{uuid.uuid4().hex[:6]}"
    m = api("POST", "/members", user="staff", json=new_member("Limburg", achternaam=surname)).json()
    # WHEN searched by part of the name (any case) or by lidnummer THEN it is found
    by_name = api("GET", "/members", user="staff", params={"q": surname.lower(), "limit": 5}).json()
    assert [x["member_id"] for x in by_name["members"]] == [m["member_id"]]
    by_nr = api("GET", "/members", user="staff", params={"q": str(m["lidnummer"])}).json()
    assert [x["member_id"] for x in by_nr["members"]] == [m["member_id"]]


def test_filters_narrow_the_list(api: Api) -> None:
    page = api("GET", "/members", user="admin", params={"status": "Actief", "regio": "Oost", "limit": 30})
    assert page.status_code == 200
    rows = page.json()["members"]
    assert rows and all(r["status"] == "Actief" and r["regio"] == "Oost" for r in rows)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"postcode": "12345"}, "postcode"),
        ({"bankrekeningnummer": "NL00ABNA0417164300"}, "bankrekeningnummer"),
        ({"geboortedatum": "31-2-1980"}, "geboortedatum"),
        ({"regio": "Mars"}, "regio"),
        ({"email": "not-an-email"}, "email"),
        ({"shoe_size": 44}, "shoe_size"),
    ],
)
def test_invalid_fields_are_422_naming_them(api: Api, change: dict[str, Any], field: str) -> None:
    resp = api("POST", "/members", user="staff", json=new_member(**change))
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert any(field in d["loc"] for d in err["details"])
    # the rejected value is never echoed back (it may be PII)
    assert str(next(iter(change.values()))) not in resp.text


def test_body_over_256_kb_is_413(api: Api) -> None:
    resp = api("POST", "/members", user="staff", json=new_member(notities="x" * (300 * 1024)))
    assert resp.status_code == 413


def test_update_without_version_is_422_and_readers_cannot_write(api: Api) -> None:
    m = api("POST", "/members", user="staff", json=new_member()).json()
    path = f"/members/{m['member_id']}"
    assert api("PUT", path, user="staff", json={"woonplaats": "Zeist"}).status_code == 422
    assert api("PUT", path, user="admin", json={"woonplaats": "Zeist", "version": 1}).status_code == 403
    assert api("DELETE", path, user="regio-utrecht").status_code == 403
    assert api("POST", "/members", user="ops", json=new_member()).status_code == 403


def test_client_role_headers_are_ignored(api: Api) -> None:
    # GIVEN a reader who claims extra groups in a header WHEN they write THEN the token's roles decide
    resp = api(
        "POST",
        "/members",
        user="regio-utrecht",
        json=new_member(),
        headers={"X-Enhanced-Groups": "System_CRUD,Members_CRUD,Regio_All"},
    )
    assert resp.status_code == 403


def test_root_moves_a_member_between_regions(api: Api) -> None:
    # GIVEN a Friesland member WHEN root (System_CRUD, every region) moves it THEN the move is stored
    m = api("POST", "/members", user="staff", json=new_member("Friesland")).json()
    moved = api("PUT", f"/members/{m['member_id']}", user="root", json={"regio": "Oost", "version": 1})
    assert moved.status_code == 200 and moved.json()["regio"] == "Oost"


def test_member_pii_never_reaches_the_logs(api: Api, local_stack: dict[str, Any]) -> None:
    # GIVEN a member with distinctive personal data, created, searched for and refused once
    tag = uuid.uuid4().hex[:10]
    body = new_member(voornaam=f"Geheim{tag}", email=f"pii-{tag}@example.nl", telefoon="0612345678")
    created = api("POST", "/members", user="staff", json=body)
    assert created.status_code == 201
    api("GET", "/members", user="staff", params={"q": f"Geheim{tag}"})
    api("GET", "/members", user="staff", params={"email": body["email"]})
    api("POST", "/members", user="staff", json={**body, "postcode": f"x{tag}"})
    # WHEN the stack's logs are read THEN the member's id is there (the right log) and none of the PII is
    logs = "\n".join(
        p.read_text(errors="replace") for p in Path(local_stack["state_dir"]).rglob("*.log") if p.is_file()
    )
    assert created.json()["member_id"] in logs
    for pii in (f"Geheim{tag}", body["email"], f"x{tag}", "NL91ABNA0417164300"):
        assert pii not in logs
