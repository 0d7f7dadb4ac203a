"""The console's plain logic: roles to pages, Cognito login, API client errors, export preview maths."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import jwt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from moto import mock_aws

from backend.local.seed import generate_members
from console import exports_view as ev
from console import jobs_view, ops_view
from console.api_client import ApiClient, ApiError
from console.auth import CognitoLogin, CognitoSettings, LoginError, Tokens, groups_from_token
from console.record_form import payload
from console.roles import pages_for

pytestmark = pytest.mark.unit

DEMO_GROUPS = {
    "admin": {"Members_Export", "Regio_All"},
    "regio-utrecht": {"Members_Read", "Regio_Utrecht"},
    "staff": {"Members_CRUD", "Products_CRUD", "Regio_All"},
    "ops": {"System_Logs_Read"},
    "root": {"System_CRUD"},
}
EXPECTED_PAGES = {
    "admin": ["overview", "exports", "generate"],
    "regio-utrecht": ["overview", "exports"],
    "staff": ["overview", "exports", "generate", "members", "products"],
    "ops": ["overview", "stack", "health"],
    "root": ["overview", "exports", "generate", "members", "products", "stack", "health"],
}


# ---------------------------------------------------------------------------- roles
@pytest.mark.parametrize("user", sorted(DEMO_GROUPS))
def test_each_demo_user_gets_exactly_their_pages(user: str) -> None:
    # GIVEN a demo user's groups WHEN the console picks pages THEN only the allowed ones, in menu order
    assert [p.key for p in pages_for(frozenset(DEMO_GROUPS[user]))] == EXPECTED_PAGES[user]


def test_a_permission_without_a_region_shows_no_member_pages() -> None:
    # GIVEN Members_CRUD without any Regio_* group THEN no member page (the API would give no rows)
    assert [p.key for p in pages_for(frozenset({"Members_CRUD"}))] == ["overview"]


# ---------------------------------------------------------------------------- auth
def test_groups_are_read_from_the_id_token_claim() -> None:
    token = jwt.encode({"cognito:groups": ["Members_Read", "Regio_Utrecht"]}, "k" * 32, algorithm="HS256")
    assert groups_from_token(token) == {"Members_Read", "Regio_Utrecht"}
    assert groups_from_token("not a token") == frozenset()


def test_tokens_ask_for_refresh_five_minutes_before_expiry() -> None:
    tokens = Tokens("id", "access", "refresh", expires_at=10_000.0, username="u")
    assert not tokens.needs_refresh(now=10_000.0 - 301)
    assert tokens.needs_refresh(now=10_000.0 - 299)


@pytest.fixture
def cognito_pool() -> Iterator[dict[str, Any]]:
    """A moto (in-process) user pool with a console client and one user in two groups."""
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-west-1")
        pool = idp.create_user_pool(PoolName="console-test")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="anna", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool, Username="anna", Password="Long-enough-pw1", Permanent=True
        )
        for group in ("Members_Read", "Regio_Utrecht"):
            idp.create_group(UserPoolId=pool, GroupName=group)
            idp.admin_add_user_to_group(UserPoolId=pool, Username="anna", GroupName=group)
        yield {"idp": idp, "pool": pool, "client_id": client_id}


def _login(pool: dict[str, Any]) -> CognitoLogin:
    return CognitoLogin(CognitoSettings("eu-west-1", pool["pool"], pool["client_id"]))


def test_login_gives_tokens_with_groups_and_refresh_renews_them(cognito_pool: dict[str, Any]) -> None:
    # GIVEN a user in the pool WHEN they sign in THEN the ID token carries their groups
    tokens = _login(cognito_pool).login("anna", "Long-enough-pw1")
    assert tokens.username == "anna"
    assert tokens.groups == {"Members_Read", "Regio_Utrecht"}
    assert tokens.refresh_token and tokens.expires_at > 0
    # WHEN the tokens are refreshed THEN a new ID token comes back and the refresh token is kept
    renewed = _login(cognito_pool).refresh(tokens)
    assert renewed.id_token and renewed.refresh_token == tokens.refresh_token
    assert renewed.groups == tokens.groups


def test_wrong_password_and_unknown_user_read_the_same(cognito_pool: dict[str, Any]) -> None:
    login = _login(cognito_pool)
    for user, password in (("anna", "wrong-password-1"), ("nobody", "Long-enough-pw1")):
        with pytest.raises(LoginError) as caught:
            login.login(user, password)
        assert caught.value.kind == "wrong_password"
        assert caught.value.message == "Wrong username or password."


def test_a_disabled_user_is_told_the_account_is_locked(cognito_pool: dict[str, Any]) -> None:
    cognito_pool["idp"].admin_disable_user(UserPoolId=cognito_pool["pool"], Username="anna")
    with pytest.raises(LoginError) as caught:
        _login(cognito_pool).login("anna", "Long-enough-pw1")
    assert caught.value.kind == "locked"


def test_an_unreachable_login_service_is_said_plainly() -> None:
    # GIVEN a Cognito endpoint where nothing listens WHEN signing in THEN "cannot be reached", no traceback
    settings = CognitoSettings("eu-west-1", "eu-west-1_x", "client", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(LoginError) as caught:
        CognitoLogin(settings).login("anna", "Long-enough-pw1")
    assert caught.value.kind == "unreachable"


# ---------------------------------------------------------------------------- API client
class _ErrorApi(BaseHTTPRequestHandler):
    """Answers like the gateway and the handlers do when things go wrong."""

    def do_GET(self) -> None:
        answers: dict[str, tuple[int, Any]] = {
            "/ops/stack": (403, {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing"}}),
            "/members/m1": (
                404,
                {"error": {"code": "not_found", "message": "no such member", "details": None}},
            ),
            "/members": (200, {"members": [{"member_id": "m1"}], "next_cursor": "abc"}),
            "/health": (200, {"status": "ok"}),
        }
        status, body = answers.get(self.path.split("?")[0], (500, "oops"))
        data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        sent = json.loads(self.rfile.read(length))
        data = json.dumps(
            {"error": {"code": "conflict", "message": "stale version", "details": {"sent": sent["version"]}}}
        ).encode()
        self.send_response(409)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def error_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_client_maps_every_answer_to_data_or_a_plain_error(error_api: str) -> None:
    api = ApiClient(error_api, "token", requests.Session())
    assert api.health() == {"status": "ok"}
    assert api.list_members() == ([{"member_id": "m1"}], "abc")
    with pytest.raises(ApiError) as missing:
        api.ops_stack()
    assert missing.value.endpoint_missing
    with pytest.raises(ApiError) as not_found:
        api.get_member("m1")
    assert (not_found.value.status, not_found.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as conflict:
        api.update_member("m1", {"voornaam": "Anna"}, version=3)
    assert conflict.value.status == 409 and conflict.value.details == {"sent": 3}
    with pytest.raises(ApiError) as broken:
        api.request("GET", "/unknown")
    assert broken.value.status == 500 and "oops" not in broken.value.user_message()


def test_client_reports_an_unreachable_api() -> None:
    with pytest.raises(ApiError) as caught:
        ApiClient("http://127.0.0.1:9", None, requests.Session(), timeout=2).health()
    assert caught.value.unreachable and "cannot be reached" in caught.value.user_message()


# ---------------------------------------------------------------------------- export preview
@pytest.fixture(scope="module")
def export_frame() -> pd.DataFrame:
    """1,000 seeded members written as per-region Parquet parts (regio only in the path) and read back."""
    members = list(generate_members(1000))
    parts: list[tuple[str | None, bytes]] = []
    frame = pd.DataFrame(members)
    for regio, group in frame.groupby("regio"):
        table = pa.Table.from_pandas(group.drop(columns=["regio"]), preserve_index=False)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        parts.append((str(regio), buf.getvalue()))
    return ev.to_frame(ev.read_parts(parts))


def test_parts_read_back_with_their_region_from_the_partition(export_frame: pd.DataFrame) -> None:
    assert len(export_frame) == 1000
    assert set(export_frame["regio"].astype(str)) <= set(pages_regions())
    assert ev.display_columns(export_frame)[0] == "lidnummer"
    assert ev.SEARCH_COLUMN not in ev.display_columns(export_frame)


def pages_regions() -> tuple[str, ...]:
    from console.roles import REGIONS

    return REGIONS


def test_filters_combine_region_status_and_search(export_frame: pd.DataFrame) -> None:
    # GIVEN the preview WHEN filtered on Utrecht and Actief THEN only such rows remain
    view = ev.apply_filters(export_frame, ev.Filters(regios=("Utrecht",), statuses=("Actief",)))
    assert len(view) > 0
    assert set(view["regio"].astype(str)) == {"Utrecht"} and set(view["status"].astype(str)) == {"Actief"}
    # WHEN searching a surname in any case THEN every hit carries it
    view = ev.apply_filters(export_frame, ev.Filters(search="  JANSEN "))
    assert len(view) > 0 and all(view["achternaam"] == "Jansen")
    # WHEN searching a lidnummer THEN that member is among the hits
    view = ev.apply_filters(export_frame, ev.Filters(search="777"))
    assert 777 in set(view["lidnummer"])
    # AND the cached frame is untouched
    assert len(export_frame) == 1000


def test_chart_data_adds_up_to_the_rows(export_frame: pd.DataFrame) -> None:
    assert ev.counts_by(export_frame, "regio")["leden"].sum() == 1000
    ages = ev.age_distribution(export_frame)
    assert ages["leden"].sum() == 1000
    bands = [tuple(map(int, label.split("-"))) for label in ages["leeftijd"]]
    assert all(hi - lo == 4 and lo % 5 == 0 for lo, hi in bands) and bands == sorted(bands)
    joins = ev.joins_per_year(export_frame)
    assert joins["leden"].sum() == 1000 and list(joins["jaar"]) == sorted(joins["jaar"])


def test_compare_finds_joined_left_and_changed_members(export_frame: pd.DataFrame) -> None:
    # GIVEN an old export, and a new one where member 1 left, one joined, 2 changed status and 3 region
    old = export_frame
    new = old[old["lidnummer"] != 1].copy()
    new["status"] = new["status"].astype(str)
    new["regio"] = new["regio"].astype(str)
    new.loc[new["lidnummer"] == 2, "status"] = "Opgezegd" if old.loc[1, "status"] != "Opgezegd" else "Actief"
    new.loc[new["lidnummer"] == 3, "regio"] = "Limburg" if old.loc[2, "regio"] != "Limburg" else "Oost"
    extra = old[old["lidnummer"] == 4].assign(member_id="new-member", lidnummer=1001)
    new = pd.concat([new, extra], ignore_index=True)
    # WHEN compared THEN exactly those show up
    diff = ev.compare_exports(old, new)
    assert list(diff.left["lidnummer"]) == [1]
    assert list(diff.joined["lidnummer"]) == [1001]
    assert list(diff.status_changed["lidnummer"]) == [2]
    assert list(diff.region_changed["lidnummer"]) == [3]
    assert diff.summary == {"nieuw": 1, "vertrokken": 1, "status gewijzigd": 1, "regio gewijzigd": 1}


def test_jubilarissen_are_active_members_reaching_10_25_or_40_years(export_frame: pd.DataFrame) -> None:
    jub = ev.jubilarissen(export_frame, 2026)
    assert len(jub) > 0
    years = 2026 - pd.to_datetime(jub["ingangsdatum"]).dt.year
    assert set(years) <= {10, 25, 40} and list(jub["jubileum"]) == list(years)
    assert set(jub["status"].astype(str)) == {"Actief"}
    # every qualifying active member is listed
    all_years = 2026 - pd.to_datetime(export_frame["ingangsdatum"]).dt.year
    expected = export_frame[all_years.isin([10, 25, 40]) & (export_frame["status"] == "Actief")]
    assert len(jub) == len(expected)


def test_downloads_hold_the_filtered_rows(export_frame: pd.DataFrame) -> None:
    view = ev.apply_filters(export_frame, ev.Filters(regios=("Friesland",)))
    csv = pd.read_csv(io.BytesIO(ev.csv_bytes(view)), encoding="utf-8-sig")
    assert len(csv) == len(view) and ev.SEARCH_COLUMN not in csv.columns
    xlsx = pd.read_excel(io.BytesIO(ev.excel_bytes(view)))
    assert len(xlsx) == len(view) and set(xlsx["regio"]) == {"Friesland"}
    parquet = pd.read_parquet(io.BytesIO(ev.parquet_bytes(view)))
    assert list(parquet["lidnummer"]) == list(view["lidnummer"])


def test_export_age_reads_for_people() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert ev.age_text("2026-11-25T11:50:00+00:00", now) == "10 min"
    assert ev.age_text("2026-11-25T07:00:00Z", now) == "5 h"
    assert ev.age_text("2026-11-20T12:00:00+00:00", now) == "5 days"
    assert ev.age_text(None, now) == "unknown"
    assert ev.ages(pd.DataFrame({"geboortedatum": ["2000-12-01"]}), date(2026, 11, 25)).tolist() == [25]


# ---------------------------------------------------------------------------- jobs, ops, forms
def test_job_status_lines() -> None:
    running = jobs_view.job_status({"job_id": "j", "state": "running", "rows": None, "rows_so_far": 1200})
    assert running.state == "running" and "1,200 rows so far" in running.detail and not running.finished
    done = jobs_view.job_status(
        {"job_id": "j", "state": "succeeded", "rows": 300, "bytes": 2048, "duration_seconds": 1.5}
    )
    assert done.finished and done.state == "complete" and done.detail == "300 rows, 2.0 KB in 1.5 s"
    failed = jobs_view.job_status({"job_id": "j", "state": "failed", "error": "scan throttled"})
    assert failed.state == "error" and failed.error == "scan throttled"
    assert jobs_view.running_job_id({"running_job": {"job_id": "r1"}}) == "r1"
    rows = jobs_view.history_rows(
        {
            "jobs": [
                {
                    "job_id": "j",
                    "requested_by": "staff",
                    "started_at": "2026-11-25T10:00:00+00:00",
                    "finished_at": "2026-11-25T10:00:30+00:00",
                    "rows": 5,
                    "bytes": 10,
                }
            ]
        }
    )
    assert rows[0]["duration_s"] == 30.0 and rows[0]["requested_by"] == "staff"


def test_health_checks_sorted_failures_first_and_statuses_normalised() -> None:
    checks = ops_view.health_checks(
        {
            "checks": [
                {"id": "a", "status": "pass", "detail": "ok"},
                {"id": "b", "status": "not applicable", "detail": "local"},
                {"id": "c", "status": "fail", "detail": "missing", "fix": "deploy"},
            ]
        }
    )
    assert [c.id for c in checks] == ["c", "a", "b"]
    assert ops_view.count_statuses(checks) == {"fail": 1, "pass": 1, "not_applicable": 1}
    assert ops_view.status_tone("UPDATE_ROLLBACK_COMPLETE") == "bad"
    assert ops_view.status_tone("CREATE_COMPLETE") == "good"


def test_update_payload_sends_only_changed_client_fields() -> None:
    original = {"member_id": "m", "version": 3, "voornaam": "Anna", "notities": "", "bouwjaar": 2001}
    entered = {"member_id": "m", "version": 3, "voornaam": "Anna ", "notities": "", "bouwjaar": 2002}
    assert payload(entered, original) == {"bouwjaar": 2002}
    assert payload({"voornaam": "Jan", "tussenvoegsel": ""}) == {"voornaam": "Jan"}
