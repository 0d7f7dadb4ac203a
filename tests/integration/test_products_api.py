"""Products over real HTTP on the local stack: a public catalogue, guarded writes with versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

Api = Callable[..., requests.Response]


def new_product(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Testproduct {uuid.uuid4().hex[:8]}",
        "description": "Voor de test",
        "price_cents": 1250,
        "stock": 10,
        "category": "Test",
        "images": ["https://example.nl/img/test.jpg"],
    }
    body.update(extra)
    return body


def test_catalogue_is_public_and_paginated(api: Api) -> None:
    # GIVEN no token WHEN the catalogue is paged 4 at a time THEN every product comes once, all active
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "/products", params=params)
        assert page.status_code == 200
        seen.extend(page.json()["products"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    ids = [p["product_id"] for p in seen]
    assert len(ids) >= 10 and len(ids) == len(set(ids))
    assert all(p["active"] for p in seen)
    one = api("GET", f"/products/{ids[0]}")
    assert one.status_code == 200 and one.json()["product_id"] == ids[0]


def test_staff_manages_a_product_with_versions(api: Api) -> None:
    # GIVEN staff WHEN a product is created, updated with its version and updated again with the old one
    created = api("POST", "/products", user="staff", json=new_product())
    assert created.status_code == 201, created.text
    product = created.json()
    path = f"/products/{product['product_id']}"
    ok = api("PUT", path, user="staff", json={"stock": 9}, headers={"If-Match": "1"})
    assert ok.status_code == 200 and ok.json()["stock"] == 9 and ok.json()["version"] == 2
    stale = api("PUT", path, user="staff", json={"stock": 8, "version": 1})
    # THEN the stale write is 409 naming version 2, and the stored product kept the first change
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 2
    assert api("GET", path).json()["stock"] == 9
    # WHEN it is deactivated THEN the public catalogue no longer lists it, unless asked
    assert api("PUT", path, user="staff", json={"active": False, "version": 2}).status_code == 200
    public = api("GET", "/products", params={"limit": 200}).json()["products"]
    assert product["product_id"] not in {p["product_id"] for p in public}
    everything = api("GET", "/products", params={"limit": 200, "include_inactive": "true"}).json()["products"]
    assert product["product_id"] in {p["product_id"] for p in everything}
    # WHEN deleted THEN gone
    assert api("DELETE", path, user="staff", headers={"If-Match": "3"}).status_code == 204
    assert api("GET", path).status_code == 404


@pytest.mark.parametrize(
    ("change", "status"),
    [({"price_cents": -5}, 422), ({"price_cents": "gratis"}, 422), ({"colour": "oranje"}, 422)],
)
def test_invalid_products_are_refused(api: Api, change: dict[str, Any], status: int) -> None:
    assert api("POST", "/products", user="staff", json=new_product(**change)).status_code == status


def test_only_products_crud_writes(api: Api) -> None:
    for user in ("admin", "regio-utrecht", "ops"):
        assert api("POST", "/products", user=user, json=new_product()).status_code == 403
    assert api("POST", "/products", json=new_product()).status_code == 401
    assert api("GET", f"/products/{uuid.uuid4()}").status_code == 404
    bad_cursor = api("GET", "/products", params={"cursor": "garbage"})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"]["code"] == "bad_cursor"
