"""Products of the webshop catalogue: the validated record and its DynamoDB repository.

Same rules as members: `version` on every record, writes conditional on the version
the caller read, DynamoDB's answers turned into domain exceptions here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from hdcn_common.pagination import decode_cursor, encode_cursor
from hdcn_common.records import InvalidRecord, RecordNotFound, VersionConflict, plain_item

SERVER_FIELDS = frozenset({"product_id", "created_at", "updated_at", "version"})
MAX_SCAN_ROUNDS = 40

ImageUrl = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^(https://|/)[^\s]+$")]


class ProductFields(BaseModel):
    """Every field a client may set (all optional: an update sends only what changes)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    price_cents: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    stock: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    images: Annotated[list[ImageUrl], Field(max_length=20)] | None = None
    active: bool | None = None


class ProductCreate(ProductFields):
    """Body of POST /products (and the shape every stored product keeps)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    price_cents: Annotated[int, Field(ge=0, le=100_000_000)]
    stock: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    category: Annotated[str, Field(min_length=1, max_length=100)]
    images: Annotated[list[ImageUrl], Field(max_length=20)] = []
    active: bool = True


class ProductUpdate(ProductFields):
    """Body of PUT /products/{id}: the fields to change and the version that was read."""

    version: Annotated[int, Field(ge=0, le=10**9)] | None = None


class Product(BaseModel):
    """A product as the API returns it: every stored attribute as stored.

    The club's own `Producten` table holds products its old functions wrote (`price` in euros,
    `groep`, `image_url`, ...): they are returned as they are, never refused or trimmed.
    """

    model_config = ConfigDict(extra="allow")

    product_id: str
    name: Any = None
    description: Any = None
    price_cents: Any = None
    stock: Any = None
    category: Any = None
    images: Any = None
    active: Any = None
    created_at: Any = None
    updated_at: Any = None
    version: int = 0


class ProductPage(BaseModel):
    """One page of GET /products."""

    products: list[Product]
    next_cursor: str | None = None


def version_of(item: dict[str, Any]) -> int:
    """The record's version; 0 for a product no function of this project has written."""
    raw = item.get("version")
    return int(raw) if isinstance(raw, int | Decimal) and not isinstance(raw, bool) else 0


def to_product(item: dict[str, Any]) -> Product:
    return Product.model_validate({**plain_item(item), "version": version_of(item)})


def merge_update(current: dict[str, Any], update: ProductUpdate) -> dict[str, Any]:
    """The stored product after `update`: only the sent fields change, everything else is kept as stored.

    A null for a field every product of ours has is refused (there is nothing to show instead).
    """
    changes = update.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    missing = [
        {"loc": ["body", k], "msg": "Field required", "type": "missing"}
        for k, v in changes.items()
        if v is None
    ]
    if missing:
        raise InvalidRecord(missing)
    merged = {k: v for k, v in current.items() if k not in SERVER_FIELDS}
    merged.update(changes)
    return merged


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ProductRepository:
    """Products in DynamoDB."""

    def __init__(self, products_table: Any) -> None:
        self.table = products_table

    def get(self, product_id: str) -> dict[str, Any] | None:
        """The stored item exactly as DynamoDB holds it (boto3 types), or None."""
        item = self.table.get_item(Key={"product_id": product_id}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def list(
        self, limit: int, cursor: str | None, include_inactive: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the catalogue (a Scan: it is small) and the next cursor."""
        key = decode_cursor(cursor, frozenset({"product_id"})) if cursor else None
        found: list[dict[str, Any]] = []
        for _ in range(MAX_SCAN_ROUNDS):
            # Ask only for what is still missing, so the cursor resumes right after this page.
            kwargs: dict[str, Any] = {"Limit": limit - len(found)}
            if not include_inactive:
                kwargs["FilterExpression"] = Attr("active").eq(True)
            if key:
                kwargs["ExclusiveStartKey"] = key
            res = self.table.scan(**kwargs)
            found.extend(dict(i) for i in res.get("Items", []))
            key = res.get("LastEvaluatedKey")
            if not key or len(found) >= limit:
                break
        return found, encode_cursor(key) if key else None

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        item = {**fields, "product_id": str(uuid.uuid4()), "created_at": now, "updated_at": now, "version": 1}
        self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(product_id)")
        return item

    def update(
        self, current: dict[str, Any], new_fields: dict[str, Any], expected_version: int
    ) -> dict[str, Any]:
        """Replace the product's fields if its version is still `expected_version`."""
        if version_of(current) != expected_version:
            raise VersionConflict(version_of(current))
        item = {
            **new_fields,
            "product_id": current["product_id"],
            "created_at": current.get("created_at") or _now(),
            "updated_at": _now(),
            "version": expected_version + 1,
        }
        try:
            self.table.put_item(Item=item, **_version_guard(current))
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise self._conflict(str(current["product_id"])) from None
            raise
        return item

    def delete(self, current: dict[str, Any], expected_version: int | None) -> None:
        product_id = str(current["product_id"])
        if expected_version is not None and version_of(current) != expected_version:
            raise VersionConflict(version_of(current))
        kwargs: dict[str, Any] = {"ConditionExpression": "attribute_exists(product_id)"}
        if expected_version is not None:
            kwargs = _version_guard(current)
        try:
            self.table.delete_item(Key={"product_id": product_id}, **kwargs)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise self._conflict(product_id) from None
            raise

    def _conflict(self, product_id: str) -> Exception:
        now = self.get(product_id)
        if now is None:
            return RecordNotFound()
        return VersionConflict(version_of(now))


def _version_guard(current: dict[str, Any]) -> dict[str, Any]:
    """Write only if the product still has the version read (a product never versioned: still none)."""
    if "version" not in current:
        return {
            "ConditionExpression": "attribute_exists(product_id) AND attribute_not_exists(#ver)",
            "ExpressionAttributeNames": {"#ver": "version"},
        }
    return {
        "ConditionExpression": "attribute_exists(product_id) AND #ver = :expected",
        "ExpressionAttributeNames": {"#ver": "version"},
        "ExpressionAttributeValues": {":expected": current["version"]},
    }
