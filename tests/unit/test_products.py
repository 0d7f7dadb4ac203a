"""Product rules, the repository on moto (table from template.yaml) and the handler with minimal events."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hdcn_common.products import ProductCreate, ProductRepository, ProductUpdate, merge_update, to_product
from hdcn_common.records import InvalidRecord, RecordNotFound, VersionConflict
from pydantic import ValidationError

from backend.local.runtime import LambdaContext, load_handler
from backend.local.seed import generate_products
from backend.local.template import functions, load_template
from tests.unit.aws_fixtures import MemberTables

pytestmark = pytest.mark.unit


def _repo() -> ProductRepository:
    import os

    import boto3

    return ProductRepository(
        boto3.resource("dynamodb", region_name="eu-west-1").Table(os.environ["PRODUCTS_TABLE"])
    )


def test_product_validation() -> None:
    ok = ProductCreate.model_validate({"name": "Patch", "price_cents": 750, "category": "Patches"})
    assert ok.active is True and ok.stock == 0 and ok.images == []
    for bad in (
        {"name": "Patch", "price_cents": -1, "category": "Patches"},
        {"name": "", "price_cents": 1, "category": "Patches"},
        {"name": "Patch", "price_cents": 1, "category": "Patches", "colour": "red"},
        {"name": "Patch", "price_cents": 1, "category": "Patches", "images": ["javascript:alert(1)"]},
    ):
        with pytest.raises(ValidationError):
            ProductCreate.model_validate(bad)


def test_seeded_products_fit_and_update_needs_the_current_version(member_tables: MemberTables) -> None:
    repo = _repo()
    for p in generate_products():
        to_product(p)
    current = repo.create(
        ProductCreate(name="Mok", price_cents=995, category="Accessoires").model_dump(mode="json")
    )
    updated = repo.update(current, merge_update(current, ProductUpdate(stock=3)), 1)
    assert updated["stock"] == 3 and updated["version"] == 2
    with pytest.raises(VersionConflict) as err:
        repo.update(current, merge_update(current, ProductUpdate(stock=4)), 1)
    assert err.value.current_version == 2
    with pytest.raises(InvalidRecord):
        merge_update(current, ProductUpdate.model_validate({"name": None}))
    # WHEN deleted with a stale version THEN conflict; with the current one THEN gone
    with pytest.raises(VersionConflict):
        repo.delete(current, 1)
    repo.delete(updated, 2)
    assert repo.get(str(current["product_id"])) is None
    # AND a writer still holding version 2 finds it gone, not a conflict
    with pytest.raises(RecordNotFound):
        repo.update(updated, merge_update(updated, ProductUpdate(stock=5)), 2)


def test_listing_hides_inactive_products_unless_asked(member_tables: MemberTables) -> None:
    repo = _repo()
    hidden = repo.create(
        ProductCreate(name="Oud", price_cents=1, category="Archief", active=False).model_dump(mode="json")
    )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = repo.list(3, cursor, include_inactive=False)
        seen.extend(i["product_id"] for i in items)
        if cursor is None:
            break
    assert hidden["product_id"] not in seen
    assert sorted(seen) == sorted(p["product_id"] for p in generate_products())
    everything, _ = repo.list(200, None, include_inactive=True)
    assert hidden["product_id"] in {i["product_id"] for i in everything}


def _call(method: str, path: str, groups: str | None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    claims = {"cognito:username": "tester", "cognito:groups": groups} if groups is not None else None
    pid = path.rsplit("/", 1)[1] if path.count("/") > 1 else None
    event = {
        "httpMethod": method,
        "path": path,
        "resource": "/products/{product_id}" if pid else "/products",
        "pathParameters": {"product_id": pid} if pid else None,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": None,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"authorizer": {"claims": claims} if claims else {}, "requestId": "r1"},
    }
    handler = load_handler(functions(load_template())["ProductsFunction"])
    ctx = LambdaContext(
        "products", 512, "arn:aws:lambda:eu-west-1:123456789012:function:products", "r1", 9e12
    )
    res = handler(event, ctx)
    return res["statusCode"], json.loads(res["body"]) if res.get("body") else None


def test_catalogue_is_public_and_writes_need_products_crud(member_tables: MemberTables) -> None:
    # GIVEN no token WHEN the catalogue is read THEN 200 with the seeded products
    status, page = _call("GET", "/products", None)
    assert status == 200 and len(page["products"]) == len(generate_products())
    pid = page["products"][0]["product_id"]
    assert _call("GET", f"/products/{pid}", None)[0] == 200
    # WHEN a member admin without Products_CRUD adds one THEN 403; with it THEN 201
    body = {"name": "Mok", "price_cents": 995, "category": "Accessoires"}
    assert _call("POST", "/products", "Members_CRUD,Regio_All", body)[0] == 403
    assert _call("POST", "/products", "Products_CRUD", body)[0] == 201
    assert _call("PUT", f"/products/{pid}", "Products_CRUD", {"stock": 1})[0] == 422  # no version sent


def test_a_product_of_the_clubs_old_functions_reads_and_updates_keeping_its_values(
    member_tables: MemberTables,
) -> None:
    # GIVEN a product as the club's old functions stored it (price in euros, its own fields, no version)
    repo = _repo()
    old = {
        "product_id": "oud-1",
        "name": "Clubpatch",
        "price": Decimal("12.50"),
        "groep": "Kleding",
        "image_url": "https://example.invalid/p.png",
        "active": True,
        "createdAt": "2024-05-01T10:00:00.123456",
    }
    repo.table.put_item(Item=old)
    # WHEN read THEN every value is there as stored, version 0
    shown = to_product(repo.get("oud-1") or {}).model_dump()
    assert shown["price"] == 12.5 and shown["groep"] == "Kleding" and shown["version"] == 0
    # WHEN only the stock changes THEN the rest is stored exactly as it was (12.50 stays 12.50)
    current = repo.get("oud-1") or {}
    repo.update(current, merge_update(current, ProductUpdate(stock=7, version=0)), 0)
    stored = repo.get("oud-1") or {}
    assert stored["price"] == Decimal("12.50") and stored["stock"] == 7 and stored["version"] == 1
    assert {k: stored[k] for k in ("groep", "image_url", "createdAt")} == {
        k: old[k] for k in ("groep", "image_url", "createdAt")
    }
    # AND a second writer who read the unversioned product is refused
    with pytest.raises(VersionConflict):
        repo.update(current, merge_update(current, ProductUpdate(stock=8)), 0)
