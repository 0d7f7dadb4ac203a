"""The access log over the local stack: every kind of logged action, by every role that may take it,
is in the AuditLogTable with the right actor, action and target, `GET /audit` finds it through each
filter and its cursor, and no attribute of any entry holds a member's or user's personal data.

Issue 16, item 5: "the access log records each kind of action for each role and holds no personal
data (scan it for the seeded names, emails and IBANs)".
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from hdcn_common.auth import ALL_REGIONS

from tests.integration.test_members_api import new_member

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Api = Callable[..., requests.Response]
Entry = dict[str, Any]

READERS = ("admin", "regio-utrecht", "staff", "staff-utrecht", "root")
WRITERS = ("staff", "staff-utrecht", "root")
EXPORTERS = ("admin", "staff", "staff-utrecht", "root")
USER_MANAGERS = ("root", "beheer")
# Callers whose regions are Utrecht only (the others see every region).
UTRECHT_ONLY = ("regio-utrecht", "staff-utrecht")
# Values shorter than this are too common to mean anyone (initials, house numbers, "Jan").
MIN_VALUE_LENGTH = 5
UUID_ATOM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Fields whose values are personal data (the catalogue's pii fields, less the ids the log names on
# purpose and the fields too short or too common to match alone).
SUBSTRING_FIELDS = ("email", "telefoon", "straat", "postcode", "kenteken", "bankrekeningnummer", "notities")
WORD_FIELDS = ("voornaam", "achternaam", "korte_naam", "minderjarigNaam", "woonplaats")


# ------------------------------------------------------------------ personal values and the scan


def _full_name(member: dict[str, Any]) -> str:
    return " ".join(
        p for p in (member.get("voornaam"), member.get("tussenvoegsel"), member.get("achternaam")) if p
    )


def _dates(value: str) -> set[str]:
    """A birth date as sent (`d-m-yyyy` from a form) and in ISO and the club's Dutch writing."""
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return {value}
    return {value, f"{d.day}-{d.month}-{d.year}", f"{d.day:02d}-{d.month:02d}-{d.year}"}


def personal_values(members: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(values matched anywhere, values matched as whole words), lowercased, from member records."""
    anywhere: set[str] = set()
    words: set[str] = set()
    for m in members:
        anywhere.add(_full_name(m))
        for f in SUBSTRING_FIELDS:
            if m.get(f):
                value = str(m[f])
                anywhere.update({value, value.replace(" ", ""), value.replace("-", "")})
        if m.get("geboortedatum"):
            anywhere.update(_dates(str(m["geboortedatum"])))
        words.update(str(m[f]) for f in WORD_FIELDS if m.get(f))
    # Region names and their parts ("Groningen/Drenthe") are not personal: the log names regions.
    regions = {r.lower() for r in ALL_REGIONS} | {w for r in ALL_REGIONS for w in re.split(r"\W+", r.lower())}

    def keep(values: set[str]) -> set[str]:
        return {v.lower() for v in values if len(v) >= MIN_VALUE_LENGTH and v.lower() not in regions}

    return keep(anywhere), keep(words) - keep(anywhere)


def _atoms(value: Any) -> Iterator[str]:
    """Every scalar inside an item as a string; strings holding JSON are opened too."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _atoms(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _atoms(v)
    else:
        text = str(value)
        yield text
        if text[:1] in "{[":
            with contextlib.suppress(ValueError):
                yield from _atoms(json.loads(text))


def find_personal(items: list[Entry], anywhere: set[str], words: set[str]) -> list[str]:
    """The personal values (as written or JSON-escaped) found in any attribute of any item."""
    # A bare member id holds nothing personal; leaving the ids out keeps the text small.
    text = "\n".join(a for item in items for a in _atoms(item) if not UUID_ATOM.fullmatch(a)).lower()
    found = {v for v in anywhere if v in text or json.dumps(v)[1:-1] in text}
    variants = {json.dumps(w)[1:-1]: w for w in words} | {w: w for w in words}
    if variants:
        pattern = re.compile(
            r"(?<!\w)(" + "|".join(map(re.escape, sorted(variants, key=len, reverse=True))) + r")(?!\w)"
        )
        found |= {variants[m] for m in pattern.findall(text)}
    return sorted(found)


def test_the_scan_finds_planted_values_and_ignores_ids_and_regions() -> None:
    # The scan itself must be able to fail: planted values are found, plainly, escaped or inside JSON.
    member = {
        "voornaam": "Jürgen",
        "achternaam": "Müllerstein",
        "email": "jurgen.m@example.nl",
        "bankrekeningnummer": "NL91ABNA0417164300",
        "woonplaats": "Utrecht",
        "geboortedatum": "1970-03-05",
    }
    anywhere, words = personal_values([member])
    assert "utrecht" not in anywhere | words  # a region, not a person
    assert "groningen" not in personal_values([{**member, "woonplaats": "Groningen"}])[1]  # part of one
    assert find_personal([{"target": "JURGEN.M@example.nl"}], anywhere, words) == ["jurgen.m@example.nl"]
    assert find_personal([{"x": json.dumps({"n": "Jürgen Müllerstein"})}], anywhere, words)
    assert find_personal([{"x": [{"y": "5-3-1970"}]}], anywhere, words) == ["5-3-1970"]
    assert find_personal([{"x": "by müllerstein"}], anywhere, words) == ["müllerstein"]
    clean = {"target": str(uuid.uuid4()), "regions": ["Utrecht"], "fields": ["voornaam", "email"]}
    assert find_personal([clean], anywhere, words) == []


# ------------------------------------------------------------------ taking the actions


def _ok(resp: requests.Response, *status: int) -> Any:
    assert resp.status_code in (status or (200,)), (
        f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}"
    )
    return resp.json() if resp.content else None


def _all_members(api: Api, user: str) -> list[dict[str, Any]]:
    """Every member the user sees, page by page (each page is a logged list)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = _ok(api("GET", "/members", user=user, params=params))
        found.extend(page["members"])
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def _list_pages(api: Api, user: str, params: dict[str, Any], first_only: bool = False) -> list[list[str]]:
    """The member ids of each non-empty page (an empty page is not logged: nobody was seen)."""
    pages: list[list[str]] = []
    query = dict(params)
    while True:
        page = _ok(api("GET", "/members", user=user, params=query))
        if page["members"]:
            pages.append([m["member_id"] for m in page["members"]])
            if first_only:
                return pages
        if not page["next_cursor"]:
            assert pages, f"{user} found no members"
            return pages
        query["cursor"] = page["next_cursor"]


def _wait_for_export(api: Api, user: str, body: dict[str, Any]) -> Any:
    """Trigger an export (waiting out a running one), then wait for it to end; the 202 answer."""
    deadline = time.monotonic() + 240  # waits, not timing assertions
    while True:
        resp = api("POST", "/analytics/generate-parquet", user=user, json=body)
        if resp.status_code == 202:
            break
        assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
        time.sleep(1)
    started = resp.json()
    while True:
        job = _ok(api("GET", f"/analytics/jobs/{started['job_id']}", user=user))
        if job["state"] in ("succeeded", "failed"):
            assert job["state"] == "succeeded", job
            return started
        assert time.monotonic() < deadline, job
        time.sleep(0.5)


def _wait_for_erasure(api: Api, user: str, member_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while True:
        erasure: dict[str, Any] = _ok(api("GET", f"/members/{member_id}/erase", user=user))
        if erasure["status"] in ("done", "failed"):
            return erasure
        assert time.monotonic() < deadline, erasure
        time.sleep(0.5)


class Expected:
    """What the test did, entry by entry: actor, action, target and details the entry must hold."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, dict[str, Any]]] = []

    def add(self, actor: str, action: str, target: str, **details: Any) -> None:
        self.rows.append((actor, action, target, details))

    def missing(self, entries: list[Entry]) -> list[str]:
        """Each expected row without a matching entry (each entry matches one row at most)."""
        unused = list(entries)
        lost = []
        for actor, action, target, details in self.rows:
            match = next(
                (
                    e
                    for e in unused
                    if e.get("actor") == actor
                    and e.get("action") == action
                    and e.get("target") == target
                    and all(_same(e.get(k), v) for k, v in details.items())
                ),
                None,
            )
            if match is None:
                lost.append(f"{actor} {action} {target} {details}")
            else:
                unused.remove(match)
        return lost


def _same(stored: Any, expected: Any) -> bool:
    if callable(expected):
        return bool(expected(stored))
    if isinstance(expected, (list, set)) and isinstance(stored, (list, set)):
        return sorted(map(str, stored)) == sorted(map(str, expected))
    if isinstance(expected, int) and not isinstance(expected, bool):
        return stored is not None and int(stored) == expected
    return bool(stored == expected)


def _take_member_actions(
    api: Api, expected: Expected, created: list[dict[str, Any]], erased: list[tuple[str, str]]
) -> None:
    """List, search, email lookup and read as every reader; create, update, data-export, delete, erase.

    `erased` gets (member id, erasure id) of each erasure, whose end the erase job logs.
    """
    utrecht_seen = _all_members(api, "regio-utrecht")
    sample = next(m for m in utrecht_seen if len(m.get("achternaam", "")) >= MIN_VALUE_LENGTH)
    for user in READERS:
        regions = ["Utrecht"] if user in UTRECHT_ONLY else sorted(ALL_REGIONS)
        pages = _list_pages(api, user, {"limit": 7}, first_only=True)
        # a search by name: the term is personal and must not be logged, the ids found are
        pages += _list_pages(api, user, {"q": sample["achternaam"], "limit": 50})
        assert any(sample["member_id"] in ids for ids in pages)
        for ids in pages:
            expected.add(user, "member.list", f"{len(ids)} members", member_ids=ids, regions=regions)
        lookup = _ok(api("GET", "/members", user=user, params={"email": sample["email"]}))
        assert [m["member_id"] for m in lookup["members"]] == [sample["member_id"]]
        expected.add(user, "member.list", "email lookup", member_ids=[sample["member_id"]])
        _ok(api("GET", f"/members/{sample['member_id']}", user=user))
        expected.add(user, "member.read", sample["member_id"])
    for user in WRITERS:
        body = new_member(
            "Utrecht",
            voornaam=f"Audra{uuid.uuid4().hex[:4]}",
            achternaam=f"Logtest{uuid.uuid4().hex[:6]}",
            telefoon=f"06{uuid.uuid4().int % 10**8:08d}",
            straat=f"Privacylaan {uuid.uuid4().int % 900 + 10}",
            kenteken=f"ZX-{uuid.uuid4().int % 900 + 100}-Q",
            notities=f"Geheime notitie {uuid.uuid4().hex[:8]}",
        )
        member = _ok(api("POST", "/members", user=user, json=body), 201)
        created.extend([body, member])
        mid = member["member_id"]
        expected.add(user, "member.create", mid, regions=["Utrecht"], fields=lambda f: "email" in (f or []))
        _ok(api("PUT", f"/members/{mid}", user=user, json={"woonplaats": "Amersfoort", "version": 1}))
        expected.add(user, "member.update", mid, fields=["woonplaats"])
        _ok(api("GET", f"/members/{mid}/data-export", user=user))
        expected.add(user, "member.data_export", mid)
        _ok(api("DELETE", f"/members/{mid}", user=user, headers={"If-Match": "2"}), 204)
        expected.add(user, "member.delete", mid)
        # a second member of this writer is erased (record now, exports by the erase job)
        doomed_body = new_member(
            "Utrecht", voornaam="Wisbert", achternaam=f"Vergeetmij{uuid.uuid4().hex[:6]}"
        )
        doomed = _ok(api("POST", "/members", user=user, json=doomed_body), 201)
        created.extend([doomed_body, doomed])
        expected.add(user, "member.create", doomed["member_id"], regions=["Utrecht"])
        erasure = _ok(api("POST", f"/members/{doomed['member_id']}/erase", user=user), 202)
        expected.add(
            user, "member.erase", doomed["member_id"], erasure_id=erasure["erasure_id"], regions=["Utrecht"]
        )
        finished = _wait_for_erasure(api, user, doomed["member_id"])
        assert finished["status"] == "done", finished
        erased.append((doomed["member_id"], erasure["erasure_id"]))


def _take_export_actions(api: Api, expected: Expected) -> None:
    """An export triggered by every exporter; a download link issued to every reader."""
    for user in EXPORTERS:
        started = _wait_for_export(api, user, {"regio": "Utrecht"})
        assert started["job_id"]
        expected.add(user, "export.request", "Utrecht", options=lambda o: (o or {}).get("regio") == "Utrecht")
        # the export made, by the generator, in the name of who asked for it
        expected.add(user, "export.generated", started["job_id"], regions=["Utrecht"])
    for user in READERS:
        link = _ok(api("GET", "/analytics/download-parquet/latest", user=user))
        regions = sorted({f["regio"] for f in link["files"]})
        if user in UTRECHT_ONLY:
            assert regions == ["Utrecht"]
        expected.add(user, "export.download", link["export_id"], regions=regions, rows=int(link["rows"]))


def _take_user_actions(api: Api, expected: Expected, emails: set[str], passwords: set[str]) -> None:
    """Every user-management change, by both kinds of user manager."""
    for manager in USER_MANAGERS:
        name = f"audit-{uuid.uuid4().hex[:10]}"
        email = f"{name}.privé@example.nl"
        emails.add(email)
        invited = _ok(
            api(
                "POST",
                "/users",
                user=manager,
                json={"username": name, "email": email, "groups": ["System_User_Management"]},
            ),
            201,
        )
        passwords.add(str(invited.get("temporary_password") or ""))
        expected.add(manager, "user.invite", name, groups=["System_User_Management"])
        _ok(api("PUT", f"/users/{name}/groups", user=manager, json={"groups": []}))
        expected.add(manager, "user.groups", name, added=[], removed=["System_User_Management"])
        for action in ("disable", "enable"):
            _ok(api("POST", f"/users/{name}/{action}", user=manager))
            expected.add(manager, f"user.{action}", name)
        reset = _ok(api("POST", f"/users/{name}/reset-password", user=manager))
        passwords.add(str(reset.get("temporary_password") or ""))
        expected.add(manager, "user.reset_password", name)
        _ok(api("DELETE", f"/users/{name}", user=manager), 204)
        expected.add(manager, "user.remove", name, groups=[])


# ------------------------------------------------------------------ reading the log


def _audit_pages(api: Api, caller: str, /, **params: Any) -> list[Entry]:
    """Every entry `GET /audit` gives for the filters, following the cursor to the end."""
    found: list[Entry] = []
    query: dict[str, Any] = {"limit": 25, **params}
    for _ in range(1000):
        page = _ok(api("GET", "/audit", user=caller, params=query))
        found.extend(page["entries"])
        if not page["next_cursor"]:
            return found
        query["cursor"] = page["next_cursor"]
    raise AssertionError("the cursor never ended")


def _table_items(aws: Callable[[str], Any], local_stack: dict[str, Any]) -> list[Entry]:
    """Every item of the stack's AuditLogTable, straight from DynamoDB, as plain Python values."""
    from boto3.dynamodb.types import TypeDeserializer

    name = local_stack["outputs"]["AuditLogTableName"]
    dynamodb = aws("dynamodb")
    assert name in dynamodb.list_tables()["TableNames"]
    plain = TypeDeserializer()
    items: list[Entry] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
        items.extend({k: _plain(plain.deserialize(v)) for k, v in item.items()} for item in page["Items"])
    return items


def _plain(value: Any) -> Any:
    if hasattr(value, "to_integral_value"):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _key(e: Entry) -> tuple[str, str]:
    return str(e["day"]), str(e["entry"])


def test_every_logged_action_by_every_role_is_in_the_log_without_personal_data(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    first_day = datetime.now(UTC).date()
    # GIVEN the personal data the stack holds, read as root before anything is erased
    seeded = _all_members(api, "root")
    assert len(seeded) >= 100
    users = _ok(api("GET", "/users", user="root"))["users"]
    user_emails = {str(u["email"]) for u in users if u.get("email")}
    passwords = {str(local_stack["demo_password"])}
    created: list[dict[str, Any]] = []
    expected = Expected()
    # WHEN every role takes every kind of logged action it may take
    erased: list[tuple[str, str]] = []
    _take_member_actions(api, expected, created, erased)
    _take_export_actions(api, expected)
    _take_user_actions(api, expected, user_emails, passwords)
    last_day = datetime.now(UTC).date()
    period = {"since": first_day.isoformat(), "until": last_day.isoformat()}

    def erase_finished_missing(entries: list[Entry]) -> list[str]:
        return [
            member_id
            for member_id, erasure_id in erased
            if not any(
                e["actor"] == "erase-job"
                and e["action"] == "member.erase.finished"
                and e["target"] == member_id
                and e.get("erasure_id") == erasure_id
                and e.get("status") == "done"
                for e in entries
            )
        ]

    # The erase job marks an erasure done, then logs that it finished: wait for those lines.
    deadline = time.monotonic() + 60
    items = _table_items(aws, local_stack)
    while erase_finished_missing(items) and time.monotonic() < deadline:
        time.sleep(0.5)
        items = _table_items(aws, local_stack)
    mine = [e for e in items if first_day.isoformat() <= str(e["day"]) <= last_day.isoformat()]

    # THEN the table holds an entry for each action, with the right actor, action, target and details
    assert not expected.missing(mine), "not in the AuditLogTable:\n" + "\n".join(expected.missing(mine))
    assert not erase_finished_missing(mine), "no member.erase.finished for these erasures"
    # and every entry says when, from which function, and until when it is kept
    for e in mine:
        assert e["actor"] and e["function"] and e["at"] and int(e["expires_at"]) > time.time()
    # and each role appears with each kind of action it took
    taken = {(a, act) for a, act, _, _ in expected.rows}
    assert {(e["actor"], e["action"]) for e in mine} >= taken
    assert {a for a, _ in taken} == set(READERS) | set(WRITERS) | set(EXPORTERS) | set(USER_MANAGERS)

    # AND GET /audit, filtered by user and followed to the end, gives exactly the table's entries
    for reader in ("ops", "root"):
        for user in sorted({a for a, _ in taken}):
            through_api = _audit_pages(api, reader, user=user, **period)
            assert {e["actor"] for e in through_api} <= {user}
            keys = [_key(e) for e in through_api]
            assert len(keys) == len(set(keys)), f"an entry came twice for {user}"
            assert set(keys) == {_key(e) for e in mine if e["actor"] == user}, user
            own = Expected()
            own.rows = [r for r in expected.rows if r[0] == user]
            assert not own.missing(through_api), own.missing(through_api)
            # newest first
            assert [e["entry"] for e in through_api] == sorted(
                (e["entry"] for e in through_api), reverse=True
            )
    # and filtered by action
    for action in sorted({act for _, act, _, _ in expected.rows} | {"member.erase.finished"}):
        through_api = _audit_pages(api, "ops", action=action, **period)
        assert through_api and {e["action"] for e in through_api} == {action}
        # An erase job another test file started may still log its end while this runs (actor
        # `erase-job`, not a role): those lines are compared for this test's erasures only.
        settled = {m for m, _ in erased} if action == "member.erase.finished" else None

        def compared(entries: list[Entry], only: set[str] | None = settled) -> set[tuple[str, str]]:
            return {_key(e) for e in entries if only is None or e["target"] in only}

        assert compared(through_api) == compared([e for e in mine if e["action"] == action])
    # and filtered by member: a created member's whole history, a listed member through member_ids
    history = _audit_pages(api, "root", member=created[1]["member_id"], **period)
    assert {e["action"] for e in history} == {
        "member.create",
        "member.update",
        "member.data_export",
        "member.delete",
    }
    listed = next(r for r in expected.rows if r[1] == "member.list" and r[3].get("member_ids"))
    some_id = listed[3]["member_ids"][0]
    by_member = _audit_pages(api, "ops", member=some_id, **period)
    assert by_member and all(e["target"] == some_id or some_id in e.get("member_ids", []) for e in by_member)
    assert {_key(e) for e in by_member} == {
        _key(e) for e in mine if e["target"] == some_id or some_id in e.get("member_ids", [])
    }
    # and filtered by period: a day before the test holds none of its entries
    before = (first_day - timedelta(days=1)).isoformat()
    earlier = {_key(e) for e in _audit_pages(api, "ops", since=before, until=before)}
    assert not earlier & {_key(e) for e in mine}
    # and a user who may not read the log is refused
    assert api("GET", "/audit", user="staff").status_code == 403

    # AND no attribute of any entry in the whole table holds a personal value
    anywhere, words = personal_values(seeded + created)
    anywhere |= {e.lower() for e in user_emails} | {
        p.lower() for p in passwords if len(p) >= MIN_VALUE_LENGTH
    }
    assert len(anywhere) > 5 * len(seeded)  # the scan has something to look for
    leaked = find_personal(items, anywhere, words)
    assert not leaked, f"personal data in the access log: {leaked[:10]}"
