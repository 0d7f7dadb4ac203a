"""The console's session cookie (console/session.py): sealing, tickets, the route, refresh failures."""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from starlette.applications import Starlette

from console import session
from console.auth import CognitoLogin, CognitoSettings, LoginError
from console.i18n import t
from console.session import COOKIE_NAME, ROUTE, SessionCodec, SessionRecord, TicketBook

pytestmark = pytest.mark.unit

SECRET = "een-lang-geheim-voor-de-sessiecookie-0123456789"
ORIGIN = "http://testserver"
# A Cognito refresh token on AWS is a JWE of about 1,780 characters; leave room for growth.
AWS_SIZED_REFRESH_TOKEN = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ." + "x" * 2000
NOW = 1_800_000_000.0


def _record() -> SessionRecord:
    return SessionRecord("regio-utrecht", "refresh-1", NOW)


def test_a_sealed_session_opens_with_the_same_key_only() -> None:
    codec = SessionCodec(SECRET)
    value = codec.seal(_record())
    # THEN the value is opaque (the token is not in it) and opens to the same record
    assert "refresh-1" not in value and "regio-utrecht" not in value
    assert codec.open(value, now=NOW + 60) == _record()
    # AND another console's key (or none of ours) cannot open it
    assert SessionCodec(SECRET + "-anders").open(value, now=NOW) is None
    # AND each seal differs (a fresh nonce), so two cookies of one user are not comparable
    assert codec.seal(_record()) != value


def test_altered_or_foreign_cookies_are_refused() -> None:
    codec = SessionCodec(SECRET)
    value = codec.seal(_record())
    version, body = value.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[20] ^= 0x01  # one bit of the ciphertext
    flipped = f"{version}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (flipped, "v2." + body, body, "", "v1.", "v1.!!!", "v1." + "A" * 10, value[:-4]):
        assert codec.open(bad, now=NOW) is None, bad


def test_a_session_older_than_the_refresh_token_is_refused() -> None:
    codec = SessionCodec(SECRET, max_age=3600)
    value = codec.seal(_record())
    assert codec.open(value, now=NOW + 3599) is not None
    assert codec.open(value, now=NOW + 3601) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="HDCN_SESSION_SECRET"):
        SessionCodec("kort")


def test_without_a_secret_the_process_gets_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session.SECRET_ENV, raising=False)
    first, second = SessionCodec.from_env(), SessionCodec.from_env()
    assert second.open(first.seal(_record())) is None  # not shared: a restart ends such sessions
    monkeypatch.setenv(session.SECRET_ENV, SECRET)
    assert (
        SessionCodec.from_env().open(SessionCodec(SECRET).seal(SessionRecord("a", "b", 0)), now=1) is not None
    )


def test_tickets_are_single_use_and_short_lived() -> None:
    book = TicketBook(lifetime=60)
    ticket = book.issue("cookie-value", 86_400, now=NOW)
    assert not book.was_redeemed(ticket)
    redeemed = book.redeem(ticket, now=NOW + 1)
    assert redeemed is not None and redeemed.cookie == "cookie-value"
    assert book.was_redeemed(ticket)
    # used once: never again
    assert book.redeem(ticket, now=NOW + 2) is None
    # expired: refused even unused
    late = book.issue("other", 86_400, now=NOW)
    assert book.redeem(late, now=NOW + 61) is None
    assert book.redeem("made-up", now=NOW) is None
    # tickets differ every time and carry nothing of the value
    assert book.issue("cookie-value", 1, now=NOW) != book.issue("cookie-value", 1, now=NOW)


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class TestClient:
    """Requests straight into the ASGI app (Starlette's TestClient needs httpx, not installed here)."""

    __test__ = False

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        raw_path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver")]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Answer(start["status"], answer_headers, content)

    def post(
        self, path: str, json: Any = None, content: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        body = content if json is None else jsonlib.dumps(json).encode()
        return self.request("POST", path, body, headers or {})

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, b"", headers or {})


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The console's own routes in a Starlette app, with a fresh ticket book."""
    monkeypatch.setattr(session, "TICKETS", TicketBook())
    monkeypatch.delenv(session.SECURE_ENV, raising=False)
    yield TestClient(Starlette(routes=session.session_routes()))


def _post(client: TestClient, ticket: str, **headers: str) -> tuple[int, str]:
    sent = {"Origin": ORIGIN, "Content-Type": "application/json", **headers}
    answer = client.post(ROUTE, json={"ticket": ticket}, headers=sent)
    return answer.status_code, answer.headers.get("set-cookie", "")


def test_the_route_sets_an_httponly_strict_cookie_once_per_ticket(client: TestClient) -> None:
    value = SessionCodec(SECRET).seal(SessionRecord("regio-utrecht", AWS_SIZED_REFRESH_TOKEN, NOW))
    ticket = session.TICKETS.issue(value, 86_400)
    # WHEN the page posts the ticket THEN the cookie is set: HttpOnly, SameSite=Strict, Path=/
    status, header = _post(client, ticket, **{"Sec-Fetch-Site": "same-origin"})
    assert status == 204
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie[COOKIE_NAME]
    assert morsel.value == value
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict" and morsel["path"] == "/"
    assert morsel["max-age"] == "86400" and not morsel["secure"]  # plain HTTP locally
    # AND it fits a browser's 4 KB even with an AWS-sized refresh token
    assert len(header) < session.COOKIE_LIMIT
    # WHEN the same ticket is posted again THEN it is refused, with a JSON reason and no cookie
    answer = client.post(ROUTE, json={"ticket": ticket}, headers={"Origin": ORIGIN})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "ticket_invalid"
    assert "set-cookie" not in answer.headers


def test_the_cookie_is_secure_over_https(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = session.TICKETS.issue("v1.x", 60)
    _, header = _post(client, ticket, **{"X-Forwarded-Proto": "https"})
    assert "secure" in header.lower()
    monkeypatch.setenv(session.SECURE_ENV, "1")
    _, header = _post(client, session.TICKETS.issue("v1.x", 60))
    assert "secure" in header.lower()


def test_a_clearing_ticket_expires_the_cookie(client: TestClient) -> None:
    status, header = _post(client, session.TICKETS.issue(None, 60))
    assert status == 204
    cookie = SimpleCookie()
    cookie.load(header)
    assert cookie[COOKIE_NAME].value == "" and cookie[COOKIE_NAME]["max-age"] == "0"
    assert cookie[COOKIE_NAME]["httponly"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},  # another site's page
        {},  # no Origin: not a fetch from our page
        {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"},
        {"Origin": ORIGIN, "Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_requests_are_refused_and_keep_the_ticket(
    client: TestClient, headers: dict[str, str]
) -> None:
    ticket = session.TICKETS.issue("v1.x", 60)
    answer = client.post(ROUTE, json={"ticket": ticket}, headers=headers)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "cross_origin"
    assert "set-cookie" not in answer.headers
    # the refused request did not use up the ticket: the console's own page still can
    assert _post(client, ticket)[0] == 204


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"ticket": 5}', b'{"ticket": ""}', b"{}"])
def test_bad_bodies_answer_400_in_json(client: TestClient, body: bytes) -> None:
    answer = client.post(ROUTE, content=body, headers={"Origin": ORIGIN, "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"


def test_only_post_is_served(client: TestClient) -> None:
    assert client.get(f"{ROUTE}?ticket=x", headers={"Origin": ORIGIN}).status_code == 405


def test_the_page_snippet_posts_the_ticket_and_nothing_else() -> None:
    html = session.poster_html("abc_-123")
    assert '"/_hdcn/session"' in html and '"abc_-123"' in html and 'credentials:"same-origin"' in html
    assert 'method:"POST"' in html
    # a ticket cannot break out of the script (it is JSON-quoted)
    assert "</script><script>" not in session.poster_html('"</script><script>')[:-9]


@pytest.mark.parametrize(
    ("message", "kind", "shown"),
    [
        ("User is disabled.", "disabled", "session.ended.disabled"),
        ("Refresh Token has been revoked", "revoked", "session.ended.revoked"),
        ("Invalid Refresh Token", "revoked", "session.ended.revoked"),
        ("Refresh Token has expired", "expired", "session.ended.expired"),
    ],
)
def test_a_failed_refresh_says_why(message: str, kind: str, shown: str) -> None:
    # GIVEN Cognito refusing a refresh token WHEN the console resumes a session with it
    client = boto3.client("cognito-idp", region_name="eu-west-1")
    login = CognitoLogin(CognitoSettings("eu-west-1", "eu-west-1_x", "client"), client=client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "initiate_auth", service_error_code="NotAuthorizedException", service_message=message
        )
        with pytest.raises(LoginError) as caught:
            login.resume("regio-utrecht", "refresh-1")
    # THEN the reason is one the console has a Dutch message for
    assert caught.value.kind == kind
    from console import ui

    assert ui.session_end_message(caught.value) == t(shown)
    assert t(shown) != shown  # translated, not the bare id


def test_the_disabled_message_says_so_in_dutch() -> None:
    assert "uitgeschakeld" in t("session.ended.disabled")
    assert "opnieuw aan" in t("session.ended.revoked")


def test_the_local_stack_keeps_one_private_key_per_state_folder(tmp_path: Path) -> None:
    from backend.local.up import session_secret

    # GIVEN a new state folder WHEN the console's key is asked for twice THEN it is made once, kept 0600
    first = session_secret(tmp_path)
    assert len(first) >= session.MIN_SECRET_LENGTH and session_secret(tmp_path) == first
    assert (tmp_path / "session-secret").stat().st_mode & 0o777 == 0o600
    # AND a key too short to use is replaced
    (tmp_path / "session-secret").write_text("kort\n")
    assert len(session_secret(tmp_path)) >= session.MIN_SECRET_LENGTH
