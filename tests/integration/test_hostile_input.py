"""Hostile input on every route of the template: always a 4xx JSON error, never a 5xx, nothing changed.

The routes come from template.yaml, so every route added later is covered without editing this file.
Requests are sent as `root` (System_CRUD), the caller who gets furthest into every handler.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from backend.local.template import Route, load_template, routes

pytestmark = pytest.mark.integration

ROUTES = routes(load_template())
BODY_ROUTES = [r for r in ROUTES if r.method in ("POST", "PUT", "PATCH")]
PARAM_ROUTES = [r for r in ROUTES if "{" in r.path]
LIST_ROUTES = [r for r in ROUTES if r.method == "GET" and "{" not in r.path]

# Path parameter values an attacker would try (already URL-encoded as they go on the wire).
HOSTILE_PARAMS = [
    "..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E%5C%2E%2E%5Cwindows",
    "abc%00def",
    "x%0d%0aSet-Cookie:%20a=b",
    "%ff%fe",
    "%F0%9F%92%A5",
    "a" * 1500,
    "%27%20OR%201=1--",
    "latest%2F..%2F..%2Fother",
]
HOSTILE_QUERIES = [
    {"limit": "1000000000000"},
    {"limit": "-1"},
    {"limit": "abc"},
    {"cursor": "forged-cursor"},
    {"cursor": "eyJtZW1iZXJfaWQiOiB7IlMiOiAieCJ9fQ"},
    {"cursor": "%%%"},
    {"regio": "Atlantis"},
    {"q": "'; DROP TABLE members; --"},
    {"q": "\u0000\u0001"},
]


def _sample_path(route: Route, value: str = "00000000-0000-4000-8000-000000000000") -> str:
    path = route.path
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + value + path[end + 1 :]
    return path


def _assert_clean_4xx(resp: requests.Response, context: str) -> None:
    assert resp.status_code < 500, f"{context}: {resp.status_code} {resp.text[:300]}"
    assert resp.status_code >= 400 or resp.status_code in (200, 202), context
    if resp.status_code >= 400:
        body = resp.json()
        assert set(body["error"]) >= {"code", "message"}, context
        assert "Traceback" not in resp.text and "botocore" not in resp.text, context


@pytest.fixture(scope="module")
def unchanged(aws: Callable[[str], Any], local_stack: dict[str, Any]) -> Iterator[None]:
    """Item counts of every table before and after the module: hostile input writes nothing."""
    ddb = aws("dynamodb")
    names = [v for k, v in local_stack["outputs"].items() if k.endswith("TableName")]

    def counts() -> dict[str, int]:
        return {n: ddb.scan(TableName=n, Select="COUNT")["Count"] for n in names}

    before = counts()
    yield
    assert counts() == before


@pytest.mark.parametrize("route", PARAM_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_hostile_path_parameters(
    route: Route, api: Callable[..., requests.Response], unchanged: None
) -> None:
    for value in HOSTILE_PARAMS:
        resp = api(
            route.method, _sample_path(route, value), user="root", json={} if route.method != "GET" else None
        )
        _assert_clean_4xx(resp, f"{route.method} {route.path} with {value[:40]!r}")


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_hostile_query_parameters(
    route: Route, api: Callable[..., requests.Response], unchanged: None
) -> None:
    for params in HOSTILE_QUERIES:
        resp = api(route.method, route.path, user="root", params=params)
        _assert_clean_4xx(resp, f"{route.method} {route.path} with {params}")


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_hostile_bodies(route: Route, api: Callable[..., requests.Response], unchanged: None) -> None:
    path = _sample_path(route)
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("malformed JSON", b'{"voornaam": ', json_type),
        ("not an object", b"[1, 2, 3]", json_type),
        ("a bare string", b'"hello"', json_type),
        ("invalid UTF-8", b'{"voornaam": "\xff\xfe"}', json_type),
        ("wrong content type", b"voornaam=Jan", {"Content-Type": "text/plain"}),
        ("form encoded", b"voornaam=Jan", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("deeply nested", b"[" * 50_000 + b"]" * 50_000, json_type),
        ("deeply nested object", b'{"a":' * 20_000 + b"1" + b"}" * 20_000, json_type),
        ("oversized", b'{"notities": "' + b"x" * 300_000 + b'"}', json_type),
        ("huge number", b'{"version": 1' + b"0" * 5000 + b"}", json_type),
        ("NaN", b'{"version": NaN}', json_type),
        ("null bytes", b'{"voornaam": "a\\u0000b"}', json_type),
    ]
    for label, body, headers in cases:
        resp = api(route.method, path, user="root", data=body, headers=headers)
        _assert_clean_4xx(resp, f"{route.method} {route.path}: {label}")
        if label == "oversized":
            assert resp.status_code == 413, f"{route.method} {route.path}: {resp.status_code}"


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public], ids=lambda r: f"{r.method} {r.path}")
def test_client_sent_role_headers_are_ignored(route: Route, api: Callable[..., requests.Response]) -> None:
    # GIVEN no token but headers claiming every role WHEN any protected route is called THEN 401
    forged = {"X-Enhanced-Groups": "System_CRUD,Regio_All", "X-Groups": "System_CRUD", "X-User": "root"}
    resp = api(route.method, _sample_path(route), headers=forged)
    assert resp.status_code == 401


def _raw_request(api_url: str, head: str) -> tuple[int, dict[str, Any]]:
    """Send a hand-written request head (no body) and read the status and JSON body of the answer."""
    parts = urlsplit(api_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        reply = sock.makefile("rb")
        status = int(reply.readline().split()[1])
        length = 0
        while (line := reply.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(reply.read(length))


@pytest.mark.parametrize(
    ("content_length", "status"),
    [("abc", 400), ("-1", 400), ("1e3", 400), ("99999999999", 413), ("9" * 5000, 413)],
)
def test_unreadable_content_length_is_answered_like_api_gateway(
    local_stack: dict[str, Any], content_length: str, status: int
) -> None:
    # GIVEN a request whose Content-Length is not a number or far above API Gateway's 10 MB limit
    head = f"POST /members HTTP/1.1\r\nHost: localhost\r\nContent-Length: {content_length}\r\n\r\n"
    # WHEN the gateway reads it THEN it answers 400/413 with the error shape instead of dropping it
    got, body = _raw_request(local_stack["api_url"], head)
    assert got == status
    assert set(body["error"]) >= {"code", "message"}
    # AND the gateway still serves the next request
    assert requests.get(local_stack["api_url"] + "/health", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/members", {"r": 0, "member_id": "x", "regio": "Brabant/Zeeland", "lidnummer": "abc"}),
        ("/members", {"r": 0, "member_id": 5, "regio": "Brabant/Zeeland", "lidnummer": 1}),
        ("/members", {"r": "0"}),
        ("/products", {"product_id": 5}),
        ("/products", {"product_id": ["x"]}),
    ],
)
def test_forged_cursor_with_the_right_keys_and_wrong_types_is_a_400(
    api: Callable[..., requests.Response], path: str, cursor: dict[str, Any]
) -> None:
    # GIVEN a cursor with the keys this API hands out but values of the wrong type
    token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
    # WHEN a list is asked for with it THEN 400 bad_cursor, not a DynamoDB error
    resp = api("GET", path, user="root", params={"cursor": token})
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error"]["code"] == "bad_cursor"
