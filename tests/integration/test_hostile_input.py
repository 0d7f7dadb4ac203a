"""Hostile input on every route of the template: always a 4xx JSON error, never a 5xx, nothing changed.

The routes come from template.yaml, so every route added later is covered without editing this file.
Requests are sent as `root` (System_CRUD), the caller who gets furthest into every handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

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
