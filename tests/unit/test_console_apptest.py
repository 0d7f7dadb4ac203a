"""AppTest of every console page for every demo user, and the interactions (filter, trigger, edit conflict).

The console talks to a small real HTTP server started here that answers in the API's
shapes (members with versions and 409s, jobs that progress, exports served as Parquet);
nothing of the console is replaced.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import streamlit as st
from moto import mock_aws
from streamlit.testing.v1 import AppTest

from backend.local.seed import generate_members, generate_products
from console import formats, members_view
from console.auth import CognitoLogin, CognitoSettings, Tokens
from console.i18n import catalogue_messages, language, t
from console.roles import PAGES

pytestmark = pytest.mark.unit

APP = str(Path(__file__).resolve().parents[2] / "console" / "streamlit_app.py")
DEMO_GROUPS = {
    "admin": ["Members_Export", "Regio_All"],
    "regio-utrecht": ["Members_Read", "Regio_Utrecht"],
    "staff": ["Members_CRUD", "Products_CRUD", "Regio_All"],
    "ops": ["System_Logs_Read"],
    "root": ["System_CRUD"],
    "beheer": ["System_User_Management"],
}
EXPECTED = {
    "admin": {"overview", "exports", "generate"},
    "regio-utrecht": {"overview", "exports"},
    "staff": {"overview", "exports", "generate", "members", "products"},
    "ops": {"overview", "stack", "health", "audit"},
    "root": {p.key for p in PAGES},
    "beheer": {"overview", "users"},
}
NEW_EXPORT, OLD_EXPORT = "20261125T100000Z-0000aaaa", "20261101T100000Z-0000bbbb"


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


class FakeApi:
    """State behind the test server: members, products, jobs and two exports of 400 seeded members."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members = {m["member_id"]: m for m in generate_members(60)}
        self.products = {p["product_id"]: p for p in generate_products()}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {
            u: _user_view(u, g)
            for u, g in (("anna", ["Members_Read", "Regio_Utrecht"]), ("piet", ["Members_CRUD"]))
        }
        self.user_calls: list[tuple[str, str, Any]] = []
        new = pd.DataFrame(list(generate_members(400)))
        old = new[new["lidnummer"] > 5]  # five members joined since the older export
        self.files: dict[str, bytes] = {}
        for export_id, frame in ((NEW_EXPORT, new), (OLD_EXPORT, old)):
            for regio, group in frame.groupby("regio"):
                self.files[f"{export_id}/{regio}"] = _parquet(group.drop(columns=["regio"]))
        self.exports = [
            {"export_id": NEW_EXPORT, "created_at": "2026-11-25T10:00:00+00:00", "rows": len(new)},
            {"export_id": OLD_EXPORT, "created_at": "2026-11-01T10:00:00+00:00", "rows": len(old)},
        ]
        self.base = ""
        self.created: list[dict[str, Any]] = []
        self.audit_entries = _audit_entries(list(self.members))
        self.audit_calls: list[dict[str, list[str]]] = []
        self.data_export_calls: list[str] = []
        self.erase_calls: list[tuple[str, Any]] = []
        self.erasures: dict[str, dict[str, Any]] = {}
        self.erase_fails = False  # the erase job fails at its second export

    def member_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """A page as the API gives it: a filter applied per scanned chunk, so pages come out uneven."""
        items = sorted(self.members.values(), key=lambda m: int(m.get("lidnummer") or 0))
        start = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["50"])[0])
        chunk = items[start : start + limit]
        q = query.get("q", [""])[0].lower()
        if q.isdigit():  # a lidnummer search, as the API does it
            chunk = [m for m in chunk if str(m.get("lidnummer")) == q]
        elif q:
            chunk = [m for m in chunk if q in f"{m.get('voornaam')} {m.get('achternaam')}".lower()]
        if query.get("regio"):
            chunk = [m for m in chunk if m.get("regio") == query["regio"][0]]
        more = start + limit < len(items)
        return {"members": chunk, "next_cursor": str(start + limit) if more else None}

    @staticmethod
    def groups(headers: Any) -> set[str]:
        token = headers.get("Authorization") or ""
        try:
            return set(jwt.decode(token, options={"verify_signature": False}).get("cognito:groups", []))
        except jwt.PyJWTError:
            return set()

    def answer(self, method: str, url: str, headers: Any, body: Any) -> tuple[int, Any]:
        path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
        if path == "/health":
            return 200, {"status": "ok", "version": "test"}
        if path.startswith("/files/"):
            return 200, self.files[path.removeprefix("/files/").replace("%2F", "/")]
        groups = self.groups(headers)
        if not groups:
            return 401, {"error": {"code": "unauthorized", "message": "token required", "details": None}}
        with self.lock:
            return self._route(method, path, query, groups, body, headers.get("If-Match"))

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], groups: set[str], body: Any, if_match: Any
    ) -> Any:
        regions = (
            None if {"Regio_All", "System_CRUD"} & groups else {g[6:] for g in groups if g[:6] == "Regio_"}
        )
        if path == "/analytics/exports":
            return 200, {"exports": self.exports, "next_cursor": None}
        if m := re.fullmatch(r"/analytics/download-parquet/(.+)", path):
            files = [k for k in self.files if k.startswith(m.group(1) + "/")]
            files = [k for k in files if regions is None or k.split("/", 1)[1] in regions]
            return 200, {
                "export_id": m.group(1),
                "files": [
                    {
                        "regio": k.split("/", 1)[1],
                        "name": k,
                        "url": f"{self.base}/files/{k.replace('/', '%2F')}",
                    }
                    for k in files
                ],
            }
        if path == "/analytics/generate-parquet" and method == "POST":
            job_id = f"20261125T12000{len(self.jobs)}Z-0000cccc"
            self.jobs[job_id] = {
                "job_id": job_id,
                "state": "queued",
                "polls": 0,
                "requested_by": "staff",
                "options": body or {},
                "created_at": "2026-11-25T12:00:00+00:00",
            }
            return 202, self.jobs[job_id]
        if m := re.fullmatch(r"/analytics/jobs/(.+)", path):
            job = self.jobs[m.group(1)]
            job["polls"] += 1  # queued, running, then done: a job that progresses as it is watched
            job["state"] = ["queued", "running", "succeeded"][min(job["polls"], 2)]
            job["rows_so_far"] = 200 * job["polls"]
            if job["state"] == "succeeded":
                job.update(rows=400, bytes=65_000, duration_seconds=2.5)
            return 200, job
        if path == "/analytics/jobs":
            return 200, {"jobs": list(self.jobs.values()), "next_cursor": None}
        if path == "/members" and method == "GET":
            return 200, self.member_page(query)
        if path == "/members" and method == "POST":
            member = {
                **body,
                "member_id": f"new-{len(self.members)}",
                "lidnummer": 9000 + len(self.members),
                "version": 1,
                "created_at": "2026-11-25T12:00:00",
                "updated_at": "2026-11-25T12:00:00",
            }
            self.members[member["member_id"]] = member
            self.created.append(member)
            return 201, member
        if path == "/products":
            return 200, {"products": list(self.products.values()), "next_cursor": None}
        if path == "/audit":
            if not {"System_Logs_Read", "System_CRUD"} & groups:
                return 403, {"error": {"code": "forbidden", "message": "ops only", "details": None}}
            self.audit_calls.append(query)
            return 200, _audit_page(self.audit_entries, query)
        if m := re.fullmatch(r"/members/([^/]+)/data-export", path):
            self.data_export_calls.append(m.group(1))
            member = self.members[m.group(1)]
            history = [e for e in self.audit_entries if e["target"] == m.group(1)]
            exports = [
                {"export_id": NEW_EXPORT, "created_at": "2026-11-25T10:00:00+00:00", "holds_member": True}
            ]
            return 200, {"member_id": m.group(1), "record": member, "history": history, "exports": exports}
        if m := re.fullmatch(r"/members/([^/]+)/erase", path):
            return self.erase(method, m.group(1), if_match)
        if m := re.fullmatch(r"/(members|products)/(.+)", path):
            records = self.members if m.group(1) == "members" else self.products
            record = records[m.group(2)]
            if method == "GET":
                return 200, record
            if method == "DELETE":
                if if_match is not None and int(if_match) != record["version"]:
                    return 409, {"error": {"code": "version_conflict", "message": "stale", "details": None}}
                del records[m.group(2)]
                return 204, b""
            if method == "PUT":
                if int(body["version"]) != record["version"]:
                    details = {"current_version": record["version"]}
                    return 409, {
                        "error": {"code": "version_conflict", "message": "stale", "details": details}
                    }
                record.update(
                    {k: v for k, v in body.items() if k != "version"}, version=record["version"] + 1
                )
                return 200, record
        if path == "/users" or path.startswith("/users/"):
            return _users_route(self, method, path, groups, body)
        if path == "/ops/stack":
            return 200, {
                "stack_name": "webshop-backend",
                "status": "CREATE_COMPLETE",
                "resources": [
                    {
                        "logical_id": "MembersTable",
                        "type": "AWS::DynamoDB::Table",
                        "physical_id": "members",
                        "status": "CREATE_COMPLETE",
                    }
                ],
                "outputs": {"ApiUrl": "http://127.0.0.1"},
                "events": [],
            }
        if path == "/ops/health":
            return 200, {
                "checks": [
                    {"id": "stack_status", "status": "pass", "detail": "CREATE_COMPLETE"},
                    {"id": "image_manifest", "status": "not_applicable", "detail": "no ECR locally"},
                    {
                        "id": "functions",
                        "status": "fail",
                        "detail": "OpsFunction missing",
                        "fix": "deploy again",
                    },
                ]
            }
        return 403, {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing", "details": None}}

    def erase(self, method: str, member_id: str, if_match: Any) -> tuple[int, Any]:
        """The erase contract: POST starts a job (202); each GET sees it further, done after three exports."""
        if method == "POST":
            self.erase_calls.append((member_id, if_match))
            if if_match is not None and int(if_match) != self.members[member_id]["version"]:
                return 409, {"error": {"code": "version_conflict", "message": "stale", "details": None}}
            self.erasures[member_id] = {
                "erasure_id": f"er-{member_id}",
                "member_id": member_id,
                "mode": "delete",
                "status": "queued",
                "requested_by": "staff",
                "requested_at": "2026-11-25T12:00:00+00:00",
                "finished_at": None,
                "exports_total": 3,
                "exports_done": 0,
                "exports_rewritten": 0,
                "exports_withdrawn": 0,
                "versions_deleted": 0,
                "error": None,
            }
            return 202, self.erasures[member_id]
        erasure = self.erasures.get(member_id)
        if erasure is None:
            return 404, {"error": {"code": "not_found", "message": "no erasure", "details": None}}
        if erasure["status"] in ("queued", "running"):
            erasure["exports_done"] += 1
            erasure["status"] = "running"
            if self.erase_fails and erasure["exports_done"] == 2:
                erasure.update(status="failed", error="export 20261125T100000Z could not be rewritten")
                return 200, erasure
            if erasure["exports_done"] == erasure["exports_total"]:
                erasure.update(status="done", exports_rewritten=2, exports_withdrawn=1, versions_deleted=6)
                self.members.pop(member_id, None)
        return 200, erasure


AUDIT_ACTIONS = ("member.read", "export.download", "member.update", "user.invite")
AUDIT_ACTORS = ("admin", "staff", "root")


def _audit_entries(member_ids: list[str]) -> list[dict[str, Any]]:
    """Access-log entries as the API stores them, one an hour for five days back, newest first, and
    one from three weeks ago (outside the default period)."""
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    moments = [now - timedelta(hours=i) for i in range(120)] + [now - timedelta(days=21)]
    entries = []
    for i, at in enumerate(moments):
        action = AUDIT_ACTIONS[i % len(AUDIT_ACTIONS)]
        target = {"export.download": NEW_EXPORT, "user.invite": "anna"}.get(action, member_ids[i % 7])
        entry = {
            "day": at.strftime("%Y-%m-%d"),
            "entry": f"{at.isoformat(timespec='milliseconds')}#{i:012x}",
            "at": at.isoformat(timespec="seconds"),
            "actor": AUDIT_ACTORS[i % len(AUDIT_ACTORS)],
            "action": action,
            "target": target,
            "function": "MembersFunction",
            "expires_at": 1_900_000_000,
        }
        if action == "export.download":
            entry.update(regions=["Utrecht", "Limburg"], rows=400, function="DownloadParquetFunction")
        if action == "member.update":
            entry["fields"] = ["=cmd|' /C calc'!A0", "telefoon"]  # a formula-like text must stay inert
        entries.append(entry)
    return entries


def _audit_page(entries: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """GET /audit: the period (default last seven days), user, action, member; offset cursors."""
    one = {k: v[0] for k, v in query.items()}
    today = datetime.now(UTC).date()
    until = one.get("until", today.isoformat())
    since = one.get("since", (date.fromisoformat(until) - timedelta(days=6)).isoformat())
    found = [
        e
        for e in entries
        if since <= e["day"] <= until
        and one.get("user", e["actor"]) == e["actor"]
        and one.get("action", e["action"]) == e["action"]
        and one.get("member", e["target"]) == e["target"]
    ]
    start, limit = int(one.get("cursor", "0")), int(one.get("limit", "100"))
    more = start + limit < len(found)
    return {"entries": found[start : start + limit], "next_cursor": str(start + limit) if more else None}


def _user_view(username: str, groups: list[str], enabled: bool = True) -> dict[str, Any]:
    """A UserView as the users API answers it."""
    member = {"Members_Read", "Members_Export", "Members_CRUD"} & set(groups)
    return {
        "username": username,
        "email": f"{username}@example.org",
        "name": username.title(),
        "status": "confirmed" if enabled else "disabled",
        "enabled": enabled,
        "groups": groups,
        "permissions": [g for g in groups if not g.startswith("Regio_")],
        "regions": [g for g in groups if g.startswith("Regio_")],
        "last_change": "2026-11-25T10:00:00+00:00",
        "warnings": (
            ["a member permission without a Regio_ group sees no member data"]
            if member and not any(g.startswith("Regio_") for g in groups)
            else []
        ),
    }


def _users_route(api: FakeApi, method: str, path: str, groups: set[str], body: Any) -> tuple[int, Any]:
    """The users API's answers, with its guard that a caller grants only groups they hold."""
    if not {"System_User_Management", "System_CRUD"} & groups:
        return 403, {"error": {"code": "forbidden", "message": "user management only", "details": None}}
    api.user_calls.append((method, path, body))
    if path == "/users" and method == "GET":
        return 200, {"users": list(api.users.values())}
    wanted = set((body or {}).get("groups") or [])
    if "System_CRUD" not in groups and "System_CRUD" in wanted:
        reason = "you may not grant or take away System_CRUD: you do not hold it yourself"
        return 403, {"error": {"code": "forbidden", "message": reason, "details": None}}
    if path == "/users" and method == "POST":
        user = api.users[body["username"]] = _user_view(body["username"], list(body["groups"]))
        user["status"] = "must_change_password"
        return 201, {"user": user, "temporary_password": "Tmp-Shown-Once-1"}
    name, _, action = path.removeprefix("/users/").partition("/")
    user = api.users[name]
    if method == "DELETE":
        del api.users[name]
        return 204, None
    if action == "groups":
        api.users[name] = user = _user_view(name, list(body["groups"]), user["enabled"])
    elif action in ("disable", "enable"):
        api.users[name] = user = _user_view(name, user["groups"], action == "enable")
    return 200, {
        "user": user,
        "temporary_password": "Tmp-Reset-Once-1" if action == "reset-password" else None,
    }


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = api.answer(self.command, self.path, self.headers, body)
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HDCN_API_URL", api.base)
    # Caches are process-wide: start every test from empty ones.
    st.cache_data.clear()
    st.cache_resource.clear()
    yield api
    server.shutdown()
    server.server_close()


def signed_in(user: str) -> AppTest:
    """The app with `user` signed in (a token whose groups choose the pages; the server reads them too)."""
    token = jwt.encode(
        {"cognito:username": user, "cognito:groups": DEMO_GROUPS[user], "exp": int(time.time()) + 3600},
        "unit-test-key-not-a-secret-0123456789",
        algorithm="HS256",
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["tokens"] = Tokens(token, "", "", time.time() + 3600, user)
    return at.run()


def page_keys(at: AppTest) -> set[str]:
    """The pages the router registered for this session (by file name)."""
    registered = at._registered_pages  # the pages st.navigation was given on the last run
    return {Path(str(info["script_path"])).stem for info in registered.values() if info.get("script_path")}


def messages(at: AppTest) -> str:
    return " | ".join(str(e.value) for kind in (at.error, at.warning, at.info, at.success) for e in kind)


def unlabelled_columns(at: AppTest) -> list[str]:
    """Columns of the page's tables that would be headed by their raw key (no label configured)."""
    missing = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        missing += [str(c) for c in frame.value.columns if not config.get(str(c), {}).get("label")]
    return missing


def button(at: AppTest, msgid: str) -> Any:
    """The button whose label is the Dutch text of `msgid`."""
    return next(b for b in at.button if b.label == t(msgid))


@pytest.mark.parametrize("user", sorted(DEMO_GROUPS))
def test_every_page_renders_for_every_demo_user(fake_api: FakeApi, user: str) -> None:
    # GIVEN a signed-in demo user WHEN the router runs THEN exactly their pages are registered
    at = signed_in(user)
    assert not at.exception
    assert page_keys(at) == EXPECTED[user]
    # WHEN each allowed page is opened THEN it renders without an exception or an error box
    # (the fake health report has a failing check: ops see it on Overview and Health)
    for key in sorted(EXPECTED[user]):
        at.switch_page(f"app_pages/{key}.py").run()
        assert not at.exception, (user, key, at.exception)
        assert not at.error or key in ("health", "overview"), (user, key, messages(at))
        assert not unlabelled_columns(at), (user, key, unlabelled_columns(at))
    # AND a page outside their roles cannot be opened at all
    for spec in PAGES:
        if spec.key not in EXPECTED[user]:
            with pytest.raises(ValueError):
                at.switch_page(f"app_pages/{spec.filename}")


def test_signed_out_user_sees_only_the_login_form(fake_api: FakeApi) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert page_keys(at) == {"login"}
    assert at.text_input(key="login_username").label == "Gebruikersnaam"
    assert at.caption[0].value == t("login.api_ok")  # the API's state is shown beside the form


def test_the_language_is_dutch_by_default_and_english_on_request(fake_api: FakeApi) -> None:
    # GIVEN admin signed in WHEN nothing is chosen THEN the menu and the page speak Dutch
    at = signed_in("admin")
    assert at.title[0].value == "Overzicht"
    assert at.selectbox(key="lang").value == "nl"
    # WHEN they choose English in the sidebar THEN the same page speaks English
    at.selectbox(key="lang").select("en").run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert any(b.label == "Sign out" for b in at.button)
    # AND the choice survives a sign-out (it belongs to the person at this browser)
    next(b for b in at.button if b.label == "Sign out").click().run()
    assert at.session_state["lang"] == "en"
    assert next(b for b in at.button if b.label == "Sign in")


def test_filters_narrow_the_preview_and_charts(fake_api: FakeApi) -> None:
    # GIVEN admin on Exports with the newest export chosen
    at = signed_in("admin")
    at.switch_page("app_pages/exports.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 400
    # WHEN filtering on Utrecht THEN the row count and the table hold only Utrecht members
    at.multiselect(key="flt_regio").select("Utrecht").run()
    table = at.dataframe[0].value
    assert 0 < len(table) < 400 and set(table["regio"].astype(str)) == {"Utrecht"}
    assert at.metric[0].value == formats.number(len(table))
    # WHEN searching a lidnummer as well THEN that one member remains (if in Utrecht) or none
    utrecht_id = int(table["lidnummer"].iloc[0])
    at.text_input(key="flt_search").input(str(utrecht_id)).run()
    table = at.dataframe[0].value
    assert utrecht_id in set(table["lidnummer"]) and set(table["regio"].astype(str)) == {"Utrecht"}
    # WHEN the comparison tab is opened THEN it compares within the filter: none of the five
    # members who joined since the older export is in the view unless the search kept them
    at.text_input(key="flt_search").input("").run()
    at.session_state["export_tab"] = t("exports.tab.compare")
    at.run()
    joined_in_utrecht = sum(
        1 for m in generate_members(400) if m["lidnummer"] <= 5 and m["regio"] == "Utrecht"
    )
    assert any(e.label.startswith(f"Nieuw ({joined_in_utrecht})") for e in at.expander), [
        e.label for e in at.expander
    ]
    # AND its tables are headed by labels, the earlier value included (never `status_vorige`)
    assert at.dataframe and not unlabelled_columns(at)
    assert not any("member_id" in frame.value.columns for frame in at.dataframe)
    # AND the jubilarissen tab lists active members reaching 10, 25 or 40 years, within the filter
    at.session_state["export_tab"] = t("exports.tab.jubilee")
    at.run()
    assert not at.exception
    if at.dataframe:  # whether Utrecht has jubilarissen this year depends on the seed
        jubilee = at.dataframe[0].value
        assert set(jubilee["jubileum"]) <= {10, 25, 40} and set(jubilee["regio"].astype(str)) <= {"Utrecht"}
    else:
        assert at.info, "an empty jubilee list says so"


def test_regional_user_preview_holds_only_their_region(fake_api: FakeApi) -> None:
    at = signed_in("regio-utrecht")
    at.switch_page("app_pages/exports.py").run()
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["regio"].astype(str)) == {"Utrecht"}


def test_overview_counts_the_latest_full_export_and_says_which(fake_api: FakeApi) -> None:
    # GIVEN a newer export that is regional, active-only and anonymised
    partial = "20261126T100000Z-0000dddd"
    fake_api.exports.insert(
        0,
        {
            "export_id": partial,
            "created_at": "2026-11-26T10:00:00+00:00",
            "rows": 12,
            "options": {"regio": "Utrecht", "active_only": True, "anonymize": True},
        },
    )
    fake_api.files[f"{partial}/Utrecht"] = fake_api.files[f"{NEW_EXPORT}/Utrecht"]
    # WHEN admin opens the Overview THEN the counts come from the newest FULL export, named by its date
    at = signed_in("admin")
    assert not at.exception
    assert at.metric[0].value == formats.number(400)
    assert "25-11-2026 11:00" in " ".join(str(c.value) for c in at.caption)


def test_trigger_an_export_and_watch_it_finish(fake_api: FakeApi) -> None:
    # GIVEN staff on Generate WHEN they start an anonymized export
    at = signed_in("staff")
    at.switch_page("app_pages/generate.py").run()
    at.checkbox(key="opt_anonymize").check()
    button(at, "generate.start").click().run()
    assert not at.exception
    (job_id,) = fake_api.jobs
    assert fake_api.jobs[job_id]["options"] == {"active_only": False, "anonymize": True}
    # THEN the status box follows the job while it runs, with no tick, and start is disabled
    assert at.session_state["watch_job"] == job_id
    assert [s.state for s in at.status] == ["running"]
    assert button(at, "generate.start").disabled
    # WHEN the polling fragment keeps running THEN the job ends succeeded and the history says so
    for _ in range(5):
        if "watch_job" not in at.session_state:
            break
        at.run()
    assert "watch_job" not in at.session_state
    assert any(t("job.label.succeeded") in str(s.value) for s in at.success), messages(at)
    assert not button(at, "generate.start").disabled
    history = " ".join(str(m.value) for m in at.markdown)
    assert "staff maakte een export (geanonimiseerd) van 400 leden in 2,5 s" in history, history


def test_edit_conflict_is_shown_and_reload_gets_the_current_record(fake_api: FakeApi) -> None:
    # GIVEN staff editing a member
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    member_id = sorted(fake_api.members.values(), key=lambda m: m["lidnummer"])[0]["member_id"]
    at.selectbox(key="mem_chosen").select(member_id).run()
    assert not at.exception
    # WHEN someone else saves the member first
    with fake_api.lock:
        fake_api.members[member_id].update(woonplaats="Elders", version=2)
    at.text_area(key=f"mem_{member_id}_1_notities").input("belt terug")
    button(at, "form.save").click().run()
    # THEN the save is refused plainly, nothing is overwritten, and a reload is offered
    assert any("**niet** opgeslagen" in str(w.value) and "versie 2" in str(w.value) for w in at.warning)
    assert fake_api.members[member_id]["notities"] == ""
    # WHEN reloading THEN the form shows the current version, and saving it works
    button(at, "form.reload").click().run()
    assert at.text_input(key=f"mem_{member_id}_2_woonplaats").value == "Elders"
    at.text_area(key=f"mem_{member_id}_2_notities").input("belt terug")
    button(at, "form.save").click().run()
    assert not at.warning
    assert fake_api.members[member_id]["notities"] == "belt terug"
    assert fake_api.members[member_id]["version"] == 3


def test_health_page_lists_failures_first_with_their_fix(fake_api: FakeApi) -> None:
    at = signed_in("ops")
    at.switch_page("app_pages/health.py").run()
    labels = [e.label for e in at.expander]
    assert labels[0].startswith("Fout") and labels[-1].startswith("Niet van toepassing")
    assert any("deploy again" in str(m.value) for m in at.markdown)
    # AND the endpoint checks the API could not run are the console's own (it reaches the API)
    assert any(label.startswith("In orde · De API antwoordt") for label in labels) or all(
        "De API antwoordt" not in label for label in labels
    )
    assert not any("--api-url" in str(m.value) for m in at.markdown)


def test_tokens_are_refreshed_before_they_expire(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a user signed in at a (moto, in-process) pool whose ID token expires within the margin
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-west-1")
        pool = idp.create_user_pool(PoolName="console-refresh")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="staff", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool, Username="staff", Password="Long-enough-pw1", Permanent=True
        )
        monkeypatch.setenv("HDCN_USER_POOL_ID", pool)
        monkeypatch.setenv("HDCN_CLIENT_ID", client_id)
        monkeypatch.setenv("HDCN_REGION", "eu-west-1")
        monkeypatch.delenv("HDCN_COGNITO_ENDPOINT", raising=False)
        tokens = CognitoLogin(CognitoSettings.from_env()).login("staff", "Long-enough-pw1")
        soon = dataclasses.replace(tokens, expires_at=time.time() + 60)
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["tokens"] = soon
        # WHEN the app runs THEN it refreshed the tokens first: a later expiry, the same user
        at.run()
    assert not at.exception
    renewed = at.session_state["tokens"]
    assert renewed.expires_at > soon.expires_at + 600
    assert renewed.username == "staff" and renewed.refresh_token == tokens.refresh_token


def test_an_unreachable_api_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an API URL where nothing listens
    monkeypatch.setenv("HDCN_API_URL", "http://127.0.0.1:9")
    st.cache_data.clear()
    st.cache_resource.clear()
    # WHEN the login page shows THEN it warns that the API cannot be reached
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert any(str(w.value) == t("login.api_down") for w in at.warning)
    # AND a signed-in admin's Exports page says the same instead of failing
    at = signed_in("admin")
    at.switch_page("app_pages/exports.py").run()
    assert not at.exception
    assert any(t("api.error.unreachable") in str(e.value) for e in at.error)


def test_delete_needs_a_confirmation_and_sends_the_version(fake_api: FakeApi) -> None:
    # GIVEN staff with a member opened
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    member_id = sorted(fake_api.members.values(), key=lambda m: m["lidnummer"])[1]["member_id"]
    at.selectbox(key="mem_chosen").select(member_id).run()
    delete = button(at, "member.delete")
    # THEN the delete button stays disabled until the confirmation is ticked
    assert delete.disabled
    at.checkbox(key=f"mem_del_sure_{member_id}").check().run()
    button(at, "member.delete").click().run()
    # WHEN confirmed THEN the member is gone and the page shows the list without it
    assert not at.exception
    assert member_id not in fake_api.members
    assert at.selectbox(key="mem_chosen").value is None


def test_products_share_the_conflict_reload_and_delete_flow(fake_api: FakeApi) -> None:
    # GIVEN staff editing a product
    at = signed_in("staff")
    at.switch_page("app_pages/products.py").run()
    product = sorted(fake_api.products.values(), key=lambda p: p["name"])[0]
    product_id = product["product_id"]
    at.selectbox(key="prod_chosen").select(product_id).run()
    assert not at.exception
    # WHEN someone else saves the product first
    with fake_api.lock:
        fake_api.products[product_id].update(category="Elders", version=2)
    at.number_input(key=f"prod_{product_id}_1_stock").set_value(7)
    button(at, "form.save").click().run()
    # THEN the product's own warning shows, nothing is overwritten, and its reload is offered
    assert [str(w.value) for w in at.warning] == [
        t("product.conflict", version=1)
        + " "
        + t("form.conflict_now", version=2)
        + " "
        + t("form.conflict_reload")
    ]
    assert fake_api.products[product_id]["stock"] == product["stock"]
    # WHEN reloading and saving again THEN the change goes with the current version
    button(at, "form.reload").click().run()
    assert at.text_input(key=f"prod_{product_id}_2_category").value == "Elders"
    at.number_input(key=f"prod_{product_id}_2_stock").set_value(7)
    price = at.text_input(key=f"prod_{product_id}_2_price_cents")
    assert price.value == formats.amount(product["price_cents"])  # the amount in Dutch form, 6,50
    price.input("12,75")
    button(at, "form.save").click().run()
    assert not at.warning
    assert (
        fake_api.products[product_id]["stock"] == 7 and fake_api.products[product_id]["price_cents"] == 1275
    )
    assert fake_api.products[product_id]["version"] == 3
    # WHEN deleting THEN only after the confirmation, with the version read, and the choice is cleared
    assert button(at, "product.delete").disabled
    at.checkbox(key=f"prod_del_sure_{product_id}").check().run()
    button(at, "product.delete").click().run()
    assert not at.exception
    assert product_id not in fake_api.products
    assert at.selectbox(key="prod_chosen").value is None


MARKDOWN_NAME = "![x](http://example.invalid/x.png)"


def test_a_member_named_like_markdown_or_a_formula_is_shown_inert(fake_api: FakeApi) -> None:
    # GIVEN a member whose names are an image in Markdown and a formula
    member = sorted(fake_api.members.values(), key=lambda m: m["lidnummer"])[0]
    member.update(voornaam=MARKDOWN_NAME, achternaam="=1+1")
    # WHEN staff opens them and the delete confirmation
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    at.selectbox(key="mem_chosen").select(member["member_id"]).run()
    assert not at.exception
    confirm = at.checkbox(key=f"mem_del_sure_{member['member_id']}")
    # THEN every text Streamlit renders as Markdown carries the name escaped, never as an image
    rendered = [confirm.label] + [str(e.value) for e in (*at.markdown, *at.caption, *at.success, *at.info)]
    assert any("\\!\\[x\\]" in text for text in rendered)
    assert not any("![x](" in text for text in rendered), rendered
    # AND the list table holds the name as plain data (tables do not render Markdown)
    table = at.dataframe[0].value
    assert MARKDOWN_NAME in set(table["voornaam"])


def test_the_member_form_reports_every_problem_in_dutch_next_to_its_field(fake_api: FakeApi) -> None:
    # GIVEN staff filling the new-member form with several mistakes
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    form = "mem_new_0"
    at.text_input(key=f"{form}_voornaam").input("Anna")
    at.text_input(key=f"{form}_email").input("geen-adres")
    at.text_input(key=f"{form}_postcode").input("12345")
    at.text_input(key=f"{form}_geboortedatum").input("31-02-1990")
    at.selectbox(key=f"{form}_regio").select("Utrecht")
    button(at, "member.create").click().run()
    # THEN nothing is sent, and each problem shows in Dutch (with no field name, regex or "Value error")
    assert not at.exception
    assert fake_api.created == []
    shown = [str(e.value) for e in at.error]
    for expected in (
        "Vul dit veld in.",
        "Geen geldig e-mailadres.",
        "Geen geldige Nederlandse postcode (zoals 1234 AB).",
        "Geen geldige datum; gebruik d-m-jjjj, bijvoorbeeld 12-3-1985.",
    ):
        assert expected in shown, shown
    assert not any("achternaam" in s or "Value error" in s for s in shown)
    # AND the entered values are kept for correcting
    assert at.text_input(key=f"{form}_voornaam").value == "Anna"


def test_after_a_create_the_form_is_empty_and_the_new_member_is_open(fake_api: FakeApi) -> None:
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    form = "mem_new_0"
    at.text_input(key=f"{form}_voornaam").input("Anna")
    at.text_input(key=f"{form}_achternaam").input("de Wit")
    at.text_input(key=f"{form}_email").input("anna@example.org")
    at.text_input(key=f"{form}_postcode").input("3511ab")
    at.text_input(key=f"{form}_ingangsdatum").input("1-2-2026")
    at.selectbox(key=f"{form}_regio").select("Utrecht")
    at.selectbox(key=f"{form}_nieuwsbrief").select("Ja")
    button(at, "member.create").click().run()
    assert not at.exception
    # THEN the API got the stored forms under the club's names
    (created,) = fake_api.created
    assert created["postcode"] == "3511 AB" and created["ingangsdatum"] == "2026-02-01"
    assert created["nieuwsbrief"] == "Ja" and "lid_sinds" not in created
    # AND the page says so, opens the new member, and offers an empty form for the next one
    assert any("Anna de Wit" in str(s.value) for s in at.success)
    assert at.selectbox(key="mem_chosen").value == created["member_id"]
    assert at.text_input(key="mem_new_1_voornaam").value == ""


def test_members_are_found_across_all_pages_with_a_total_on_even_pages(fake_api: FakeApi) -> None:
    # GIVEN an API that pages unevenly (it filters each scanned chunk)
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    assert len(at.dataframe[0].value) == 25
    assert any("Pagina 1 van 3 · 60 leden gevonden" in str(c.value) for c in at.caption)
    # WHEN searching a surname THEN every match in every API page counts, shown 25 a page
    surname = str(sorted(fake_api.members.values(), key=lambda m: m["lidnummer"])[-1]["achternaam"])
    expected = [m for m in fake_api.members.values() if surname.lower() in m["achternaam"].lower()]
    at.text_input(key="mem_q").input(surname).run()
    total = formats.number(len(expected))
    assert any(f"· {total} leden gevonden" in str(c.value) for c in at.caption)
    assert len(at.dataframe[0].value) == min(25, len(expected))
    # WHEN searching what nobody is called THEN a plain "no match"
    at.text_input(key="mem_q").input("Zzyzx").run()
    assert [str(i.value) for i in at.info] == [t("members.no_match")]


def test_a_legacy_member_opens_with_its_odd_values_shown_and_flagged(fake_api: FakeApi) -> None:
    # GIVEN a member as the club's old spreadsheet left it, with the API's problems list
    member = sorted(fake_api.members.values(), key=lambda m: m["lidnummer"])[2]
    member.update(
        geboortedatum="31-02-1990",
        bouwjaar="NA",
        status="Weg",
        problems=[
            {"field": "geboortedatum", "state": "invalid"},
            {"field": "status", "state": "invalid"},
            {"field": "nieuwsbrief", "state": "normalisable"},  # a boolean: reads fine, not flagged
        ],
    )
    at = signed_in("staff")
    at.switch_page("app_pages/members.py").run()
    table = at.dataframe[0].value
    row = table[table["lidnummer"] == member["lidnummer"]].iloc[0]
    assert row[members_view.PROBLEMS_COLUMN] == "Geboortedatum, Status"
    # WHEN opened THEN the values show as stored, flagged, and an unrelated edit saves fine
    at.selectbox(key="mem_chosen").select(member["member_id"]).run()
    assert not at.exception
    key = f"mem_{member['member_id']}_1"
    assert at.text_input(key=f"{key}_geboortedatum").value == "31-02-1990"
    assert "31-02-1990" in str(at.text_input(key=f"{key}_geboortedatum").help).replace("\\", "")
    assert at.selectbox(key=f"{key}_status").value == "Weg"
    at.text_input(key=f"{key}_woonplaats").input("Zeist")
    button(at, "form.save").click().run()
    assert not at.error, messages(at)
    assert fake_api.members[member["member_id"]]["woonplaats"] == "Zeist"
    assert fake_api.members[member["member_id"]]["geboortedatum"] == "31-02-1990"  # kept as stored


MESSAGE_ID = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def shown_texts(at: AppTest) -> list[str]:
    """The texts a page shows: headings, Markdown, captions, alerts, metrics, widget and button labels."""
    texts = [
        str(e.value) for kind in (at.title, at.header, at.subheader, at.markdown, at.caption) for e in kind
    ]
    texts += [str(e.value) for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    texts += [str(m.label) for m in at.metric] + [str(e.label) for e in at.expander]
    texts += [str(w.label) for kind in (at.button, at.text_input, at.selectbox, at.multiselect) for w in kind]
    return texts


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_page_in_either_language_shows_texts_not_message_ids(fake_api: FakeApi, lang: str) -> None:
    # GIVEN root (every page) in `lang` WHEN each page is opened THEN no text is a bare message id
    at = signed_in("root")
    at.selectbox(key="lang").select(lang).run()
    # AppTest formats picker options outside the script run too: in the same language
    with language(lang):
        check_pages_in(at, lang)


def check_pages_in(at: AppTest, lang: str) -> None:
    for key in sorted(EXPECTED["root"]):
        at.switch_page(f"app_pages/{key}.py").run()
        assert not at.exception, (lang, key, at.exception)
        raw = [s for s in shown_texts(at) if MESSAGE_ID.match(s.strip())]
        assert not raw, (lang, key, raw)
        assert at.title[0].value == catalogue_messages(lang)[PAGE_TITLES[key]], (lang, key)


PAGE_TITLES = {
    "overview": "overview.title",
    "exports": "exports.title",
    "generate": "generate.title",
    "members": "members.title",
    "products": "products.title",
    "stack": "stack.title",
    "health": "health.title",
    "audit": "audit.title",
    "users": "users.title",
}


def test_an_anonymised_export_says_so_and_why_it_cannot_be_compared(fake_api: FakeApi) -> None:
    # GIVEN a newest export without names or membership numbers
    anonymous = "20261126T100000Z-0000eeee"
    frame = pd.DataFrame(list(generate_members(400)))
    frame = frame.drop(columns=["member_id", "lidnummer", "voornaam", "achternaam", "email"])
    for regio, group in frame.groupby("regio"):
        fake_api.files[f"{anonymous}/{regio}"] = _parquet(group.drop(columns=["regio"]))
    fake_api.exports.insert(
        0,
        {
            "export_id": anonymous,
            "created_at": "2026-11-26T10:00:00+00:00",
            "rows": 400,
            "options": {"anonymize": True},
        },
    )
    # WHEN admin opens it and the comparison
    at = signed_in("admin")
    at.switch_page("app_pages/exports.py").run()
    assert not at.exception
    assert t("exports.anonymised") in [str(i.value) for i in at.info]
    at.session_state["export_tab"] = t("exports.tab.compare")
    at.run()
    # THEN the comparison explains itself in plain words (no "member key" jargon)
    assert t("compare.anonymised") in [str(i.value) for i in at.info]
    assert not any("member_id" in m for m in messages(at).split(" | "))


def test_a_filter_that_matches_nobody_draws_no_chart_and_offers_no_download(fake_api: FakeApi) -> None:
    at = signed_in("admin")
    at.switch_page("app_pages/exports.py").run()
    at.text_input(key="flt_search").input("Zzyzx").run()
    assert t("exports.no_match") in [str(i.value) for i in at.info]
    for tab in ("exports.tab.charts", "exports.tab.download"):
        at.session_state["export_tab"] = t(tab)
        at.run()
        assert not at.exception
        assert not at.get("vega_lite_chart") and not at.get("download_button"), tab
