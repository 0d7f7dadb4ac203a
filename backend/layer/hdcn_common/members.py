"""Members: the validated record, who may do what to it, and its DynamoDB repository.

The repository keeps three promises with conditional writes, so they hold under any
concurrency: a `lidnummer` is handed out once (an atomic counter), an email belongs to
one member (a uniqueness record written in the same transaction as the member), and
an update never silently overwrites another (`version` must still be what the caller read).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hdcn_common.auth import Caller, Role
from hdcn_common.enums import Clubblad, Lidmaatschap, Regio, Status
from hdcn_common.pagination import InvalidCursor, decode_cursor, encode_cursor
from hdcn_common.records import (
    DuplicateValue,
    InvalidRecord,
    RecordNotFound,
    VersionConflict,
    cancellation_codes,
    validation_details,
)
from hdcn_common.validators import normalize_email, normalize_iban, normalize_postcode, parse_date

COUNTER_KEY = "counter#lidnummer"
# Setting these memberships is a privileged change, like changing status (see `check_privileged_changes`).
PRIVILEGED_LIDMAATSCHAP = frozenset({Lidmaatschap.ERELID.value, Lidmaatschap.OVERIG.value})
SERVER_FIELDS = frozenset({"member_id", "lidnummer", "created_at", "updated_at", "version"})
# Query rounds one list request may spend looking for matches, so a rare filter cannot run for long.
MAX_QUERY_ROUNDS = 40


def _date_in(value: Any) -> Any:
    """ISO or Dutch `d-m-yyyy` text to a date; other types go on to pydantic's own check."""
    if isinstance(value, str):
        return parse_date(value)
    return value


def _in_range(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("date out of range")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_in), AfterValidator(_in_range)]
# `format` tells the OpenAPI document's readers (and test generators) what the validators accept.
Email = Annotated[
    str,
    Field(min_length=3, max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(normalize_email),
]
Iban = Annotated[
    str,
    Field(min_length=15, max_length=42, json_schema_extra={"format": "iban"}),
    AfterValidator(normalize_iban),
]
Name = Annotated[str, Field(min_length=1, max_length=100)]
ShortText = Annotated[str, Field(max_length=100)]


class MemberFields(BaseModel):
    """Every field a client may set; shared by create (required ones enforced there) and update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    voornaam: Name | None = None
    tussenvoegsel: Annotated[str, Field(max_length=30)] | None = None
    achternaam: Name | None = None
    initialen: Annotated[str, Field(max_length=20)] | None = None
    geboortedatum: IsoDate | None = None
    geslacht: Literal["M", "V", "X"] | None = None
    email: Email | None = None
    telefoon: Annotated[str, Field(max_length=20, pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    straat: ShortText | None = None
    postcode: Annotated[str, Field(max_length=12, json_schema_extra={"format": "postcode"})] | None = None
    woonplaats: ShortText | None = None
    land: Annotated[str, Field(min_length=2, max_length=60)] | None = None
    regio: Regio | None = None
    lidmaatschap: Lidmaatschap | None = None
    status: Status | None = None
    clubblad: Clubblad | None = None
    lid_sinds: IsoDate | None = None
    motormerk: Annotated[str, Field(max_length=60)] | None = None
    motortype: Annotated[str, Field(max_length=60)] | None = None
    bouwjaar: Annotated[int, Field(ge=1900, le=2100)] | None = None
    kenteken: Annotated[str, Field(max_length=12, pattern=r"^[A-Za-z0-9-]{1,12}$")] | None = None
    bankrekeningnummer: Iban | None = None
    betaalwijze: Literal["Incasso", "Overmaking"] | None = None
    nieuwsbrief: bool | None = None
    privacy: bool | None = None
    notities: Annotated[str, Field(max_length=2000)] | None = None


class MemberCreate(MemberFields):
    """Body of POST /members (and the shape every stored member must keep)."""

    voornaam: Name
    achternaam: Name
    email: Email
    regio: Regio
    lidmaatschap: Lidmaatschap = Lidmaatschap.GEWOON
    status: Status = Status.AANGEMELD
    clubblad: Clubblad = Clubblad.DIGITAAL
    land: Annotated[str, Field(min_length=2, max_length=60)] = "Nederland"

    @model_validator(mode="after")
    def _dutch_postcode(self) -> MemberCreate:
        """Dutch addresses need a valid Dutch postcode; abroad any short postcode goes."""
        if self.postcode and self.land.casefold() in ("nederland", "nl", "netherlands"):
            try:
                self.postcode = normalize_postcode(self.postcode)
            except ValueError as err:
                # Raised with the field's location, so the 422 names `postcode` like any field error.
                detail = InitErrorDetails(
                    type=PydanticCustomError("value_error", str(err)), loc=("postcode",), input=self.postcode
                )
                raise ValidationError.from_exception_data(type(self).__name__, [detail]) from None
        return self


class MemberUpdate(MemberFields):
    """Body of PUT /members/{id}: only the fields to change, and the version that was read."""

    version: Annotated[int, Field(ge=1, le=10**9)] | None = None


class Member(BaseModel):
    """A member as the API returns it."""

    member_id: str
    lidnummer: int
    voornaam: str
    tussenvoegsel: str | None = None
    achternaam: str
    initialen: str | None = None
    geboortedatum: str | None = None
    geslacht: str | None = None
    email: str
    telefoon: str | None = None
    straat: str | None = None
    postcode: str | None = None
    woonplaats: str | None = None
    land: str | None = None
    regio: Regio
    lidmaatschap: Lidmaatschap
    status: Status
    clubblad: Clubblad | None = None
    lid_sinds: str | None = None
    motormerk: str | None = None
    motortype: str | None = None
    bouwjaar: int | None = None
    kenteken: str | None = None
    bankrekeningnummer: str | None = None
    betaalwijze: str | None = None
    nieuwsbrief: bool | None = None
    privacy: bool | None = None
    notities: str | None = None
    created_at: str
    updated_at: str
    version: int


class MemberPage(BaseModel):
    """One page of GET /members."""

    members: list[Member]
    next_cursor: str | None = None


class MemberFilter(BaseModel):
    """What GET /members narrows the list to (all optional)."""

    regio: Regio | None = None
    status: Status | None = None
    lidmaatschap: Lidmaatschap | None = None
    q: str | None = None
    email: str | None = None


class PermissionDenied(Exception):
    """The caller may not make this change; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- rules


def check_privileged_changes(caller: Caller, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Changing status, or making someone Erelid/Overig, needs Members_CRUD.

    Today every writer holds Members_CRUD; the rule is kept here on its own so it stays
    true if a narrower write role is ever added.
    """
    if caller.has(Role.MEMBERS_CRUD):
        return
    status_changed = before is not None and before.get("status") != after.get("status")
    if status_changed or (before is None and after.get("status") not in (None, Status.AANGEMELD.value)):
        raise PermissionDenied("changing a member's status needs Members_CRUD")
    new_lid = after.get("lidmaatschap")
    if new_lid in PRIVILEGED_LIDMAATSCHAP and (before is None or before.get("lidmaatschap") != new_lid):
        raise PermissionDenied("setting lidmaatschap to Erelid or Overig needs Members_CRUD")


def check_region(caller: Caller, regio: str | None) -> None:
    """A member outside the caller's regions may not be written there."""
    if not caller.may_see_region(regio):
        raise PermissionDenied("you may not manage members of that region")


def stored_fields(model: MemberFields) -> dict[str, Any]:
    """A validated model as DynamoDB attributes: dates as ISO text, enums as their values, no Nones."""
    data = model.model_dump(mode="json", exclude_none=True, exclude={"version"})
    return {k: v for k, v in data.items() if v is not None}


def merge_update(current: dict[str, Any], update: MemberUpdate) -> dict[str, Any]:
    """The member as it would be after `update`; InvalidRecord if the result breaks the model.

    Fields sent as null are removed (a required one then fails the model).
    """
    changes = update.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    merged = {k: v for k, v in current.items() if k not in SERVER_FIELDS}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        validated = MemberCreate.model_validate(merged)
    except ValidationError as err:
        raise InvalidRecord(validation_details(err)) from None
    return stored_fields(validated)


def to_plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item with its Decimals as ints (members hold no fractions)."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def to_member(item: dict[str, Any]) -> Member:
    return Member.model_validate(to_plain(item))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_lidnummer_query(q: str) -> bool:
    """A lidnummer search: ASCII digits only, few enough to be one (DynamoDB numbers have limits)."""
    return q.isascii() and q.isdigit() and len(q) <= 9


def _matches_q(item: dict[str, Any], q: str) -> bool:
    """A name (part) or lidnummer search, case-insensitive."""
    if is_lidnummer_query(q):
        return str(item.get("lidnummer")) == q
    name = " ".join(str(item.get(f) or "") for f in ("voornaam", "tussenvoegsel", "achternaam"))
    return q.casefold() in " ".join(name.split()).casefold()


# ---------------------------------------------------------------- repository


class MemberRepository:
    """Members and their uniqueness records in DynamoDB; DynamoDB's answers become domain exceptions."""

    def __init__(self, members_table: Any, keys_table: Any) -> None:
        self.members = members_table
        self.keys = keys_table
        # The resource's client takes plain Python values in transactions, like the Table does.
        self.ddb = members_table.meta.client

    # -------------------------------------------------------------- reads
    def get(self, member_id: str) -> dict[str, Any] | None:
        item = self.members.get_item(Key={"member_id": member_id}, ConsistentRead=True).get("Item")
        return to_plain(item) if item else None

    def find_by_email(self, email: str) -> str | None:
        """The member_id holding `email`, through the email index (never a scan)."""
        try:
            address = normalize_email(email)
        except ValueError:
            return None  # no member can hold an address that is not one
        res = self.members.query(
            IndexName="email-index", KeyConditionExpression=Key("email").eq(address), Limit=1
        )
        items = res.get("Items", [])
        return str(items[0]["member_id"]) if items else None

    def list(
        self, regions: list[str], filters: MemberFilter, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of members of `regions` (in region order, then by lidnummer) and the next cursor.

        Each region is a Query of the regio-index; status and lidmaatschap filter in DynamoDB,
        `q` here. Every Query asks for at most the items still missing, so the page never
        overflows and the cursor (region position + LastEvaluatedKey) resumes exactly after it.
        """
        start_region, start_key = 0, None
        if cursor:
            pos = decode_cursor(cursor, frozenset({"r", "member_id", "regio", "lidnummer"}))
            start_region = pos.pop("r", 0)
            if not isinstance(start_region, int) or start_region >= len(regions):
                raise InvalidCursor("bad cursor")
            if pos:
                if set(pos) != {"member_id", "regio", "lidnummer"} or pos["regio"] != regions[start_region]:
                    raise InvalidCursor("bad cursor")
                start_key = pos
        found: list[dict[str, Any]] = []
        rounds = 0
        for r_index in range(start_region, len(regions)):
            key = start_key if r_index == start_region else None
            while True:
                rounds += 1
                kwargs: dict[str, Any] = {
                    "IndexName": "regio-index",
                    "KeyConditionExpression": Key("regio").eq(regions[r_index]),
                    "Limit": limit - len(found),
                }
                if filters.q and is_lidnummer_query(filters.q):
                    kwargs["KeyConditionExpression"] &= Key("lidnummer").eq(int(filters.q))
                condition = None
                if filters.status:
                    condition = Attr("status").eq(filters.status.value)
                if filters.lidmaatschap:
                    lid = Attr("lidmaatschap").eq(filters.lidmaatschap.value)
                    condition = lid if condition is None else condition & lid
                if condition is not None:
                    kwargs["FilterExpression"] = condition
                if key:
                    kwargs["ExclusiveStartKey"] = key
                res = self.members.query(**kwargs)
                items = [to_plain(i) for i in res.get("Items", [])]
                if filters.q:
                    items = [i for i in items if _matches_q(i, filters.q)]
                found.extend(items)
                key = res.get("LastEvaluatedKey")
                full = len(found) >= limit or rounds >= MAX_QUERY_ROUNDS
                if full:
                    if key:
                        return found, encode_cursor({"r": r_index, **key})
                    more = r_index + 1 < len(regions)
                    return found, encode_cursor({"r": r_index + 1}) if more else None
                if not key:
                    break
        return found, None

    # -------------------------------------------------------------- writes
    def next_lidnummer(self) -> int:
        """The next lidnummer from the atomic counter (ADD is applied once per call, never lost)."""
        res = self.keys.update_item(
            Key={"pk": COUNTER_KEY},
            UpdateExpression="ADD #v :one",
            ConditionExpression="attribute_not_exists(pk) OR attribute_exists(#v)",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(res["Attributes"]["value"])

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new member with a fresh id and lidnummer; DuplicateValue if the email is taken."""
        now = _now()
        item = {
            **fields,
            "member_id": str(uuid.uuid4()),
            "lidnummer": self.next_lidnummer(),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.keys.name,
                            "Item": {"pk": f"email#{item['email']}", "member_id": item["member_id"]},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.members.name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(member_id)",
                        }
                    },
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "TransactionCanceledException":
                # The lidnummer drawn for this attempt stays unused: gaps are fine, duplicates are not.
                raise DuplicateValue("email") from None
            raise
        return item

    def update(
        self, current: dict[str, Any], new_fields: dict[str, Any], expected_version: int
    ) -> dict[str, Any]:
        """Replace the member's fields if its version is still `expected_version`."""
        member_id = current["member_id"]
        if int(current["version"]) != expected_version:
            raise VersionConflict(int(current["version"]))
        item = {
            **new_fields,
            "member_id": member_id,
            "lidnummer": current["lidnummer"],
            "created_at": current.get("created_at") or _now(),
            "updated_at": _now(),
            "version": expected_version + 1,
        }
        guard = {
            "ConditionExpression": "attribute_exists(member_id) AND #ver = :expected",
            "ExpressionAttributeNames": {"#ver": "version"},
            "ExpressionAttributeValues": {":expected": expected_version},
        }
        old_email, new_email = current.get("email"), item["email"]
        try:
            if old_email == new_email:
                self.members.put_item(Item=item, **guard)
            else:
                # Member, old uniqueness record and new one change together or not at all.
                self.ddb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self.members.name, "Item": item, **guard}},
                        {"Delete": {"TableName": self.keys.name, "Key": {"pk": f"email#{old_email}"}}},
                        {
                            "Put": {
                                "TableName": self.keys.name,
                                "Item": {"pk": f"email#{new_email}", "member_id": member_id},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                raise self._conflict(member_id) from None
            if code == "TransactionCanceledException":
                reasons = cancellation_codes(err.response)
                if (
                    len(reasons) > 2
                    and reasons[2] == "ConditionalCheckFailed"
                    and reasons[0] != "ConditionalCheckFailed"
                ):
                    raise DuplicateValue("email") from None
                raise self._conflict(member_id) from None
            raise
        return item

    def delete(self, current: dict[str, Any], expected_version: int | None) -> None:
        """Remove the member and its uniqueness record; with a version, only if it is still that one."""
        member_id = current["member_id"]
        if expected_version is not None and int(current["version"]) != expected_version:
            raise VersionConflict(int(current["version"]))
        condition: dict[str, Any] = {"ConditionExpression": "attribute_exists(member_id)"}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "attribute_exists(member_id) AND #ver = :expected",
                "ExpressionAttributeNames": {"#ver": "version"},
                "ExpressionAttributeValues": {":expected": expected_version},
            }
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.members.name,
                            "Key": {"member_id": member_id},
                            **condition,
                        }
                    },
                    {"Delete": {"TableName": self.keys.name, "Key": {"pk": f"email#{current['email']}"}}},
                ]
            )
        except ClientError as err:
            if err.response["Error"]["Code"] in (
                "TransactionCanceledException",
                "ConditionalCheckFailedException",
            ):
                raise self._conflict(member_id) from None
            raise

    def _conflict(self, member_id: str) -> Exception:
        """Why a guarded write failed: the member is gone, or it has a newer version."""
        now = self.get(member_id)
        if now is None:
            return RecordNotFound()
        return VersionConflict(int(now["version"]))
