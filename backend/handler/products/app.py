"""ProductsFunction: the webshop catalogue.

GET /products and GET /products/{product_id} are public (no authorizer) and show active
products unless `include_inactive=true`; POST, PUT and DELETE need Products_CRUD.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import Forbidden, NotFound, create_resolver, require_caller
from hdcn_common.auth import Role
from hdcn_common.products import (
    Product,
    ProductCreate,
    ProductPage,
    ProductRepository,
    ProductUpdate,
    merge_update,
    to_product,
)
from hdcn_common.records import register_record_errors
from hdcn_common.settings import settings, table
from hdcn_common.versioning import expected_version

logger = Logger()
metrics = Metrics()
app = create_resolver()
register_record_errors(app, "product")

ProductId = Annotated[str, Path(min_length=1, max_length=64)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]


def _repo() -> ProductRepository:
    return ProductRepository(table(settings().products_table))


def _editor() -> None:
    if not require_caller(app).has(Role.PRODUCTS_CRUD):
        raise Forbidden("changing products needs Products_CRUD")


def _existing(product_id: str) -> dict[str, Any]:
    item = _repo().get(product_id)
    if item is None:
        raise NotFound("no such product")
    return item


@app.get("/products")
def list_products(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    include_inactive: Annotated[bool, Query()] = False,
) -> ProductPage:
    """The catalogue, paginated (public)."""
    items, next_cursor = _repo().list(limit, cursor, include_inactive)
    return ProductPage(products=[to_product(i) for i in items], next_cursor=next_cursor)


@app.get("/products/<product_id>")
def get_product(product_id: ProductId) -> Product:
    """One product (public)."""
    return to_product(_existing(product_id))


@app.post("/products", status_code=201)
def create_product(product: ProductCreate) -> Product:
    """Add a product to the catalogue."""
    _editor()
    item = _repo().create(product.model_dump(mode="json"))
    logger.info("product created", extra={"product_id": item["product_id"]})
    return to_product(item)


@app.put("/products/<product_id>")
def update_product(product_id: ProductId, update: ProductUpdate, if_match: IfMatch = None) -> Product:
    """Change the given fields; `version` (body or If-Match) must be the one that was read."""
    _editor()
    expected = expected_version(update.version, if_match)
    current = _existing(product_id)
    item = _repo().update(current, merge_update(current, update), expected)
    logger.info("product updated", extra={"product_id": product_id, "version": item["version"]})
    return to_product(item)


@app.delete("/products/<product_id>", responses={204: {"description": "Deleted"}})
def delete_product(product_id: ProductId, if_match: IfMatch = None) -> Response[None]:
    """Remove a product; with If-Match only if it is still that version."""
    _editor()
    expected = expected_version(None, if_match, required=False)
    _repo().delete(_existing(product_id), expected)
    logger.info("product deleted", extra={"product_id": product_id})
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
