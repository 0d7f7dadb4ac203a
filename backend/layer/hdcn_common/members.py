"""Members: the club's records read tolerantly, written strictly, guarded by conditional writes.

The club's `Members` table is the truth (`member_fields` holds its catalogue). Any stored
record reads, lists and updates: values are returned as stored, with a `problems` list naming
fields that do not fit the catalogue, and an update changes only the fields it sends (unknown
fields and odd legacy values stay exactly as they are). What a client sends is validated
strictly and stored in the club's form.

The repository keeps three promises with conditional writes, so they hold under any
concurrency: a `lidnummer` is handed out once (an atomic counter that starts above the highest
existing number), an email belongs to one member (a uniqueness record written in the same
transaction as the member), and an update never silently overwrites another (`version`, and
`updated_at` for records the club's other functions write, must still be what the caller read).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from functools import partial
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
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hdcn_common.auth import Caller, Role
from hdcn_common.enums import Lidmaatschap, Regio, Status
from hdcn_common.member_fields import (
    CLIENT_FIELDS,
    FIELD_BY_NAME,
    FIELDS,
    FieldSpec,
    Kind,
    ReadState,
    is_empty,
    now_timestamp,
    read_value,
    write_date,
    write_postcode,
    write_text,
    write_yesno,
)
from hdcn_common.pagination import InvalidCursor, decode_cursor, encode_cursor
from hdcn_common.records import (
    DuplicateValue,
    InvalidRecord,
    RecordNotFound,
    VersionConflict,
    cancellation_codes,
    plain_item,
)
from hdcn_common.validators import normalize_email

COUNTER_KEY = "counter#lidnummer"
REGIO_INDEX = "regio-member-index"
EMAIL_INDEX = "email-index"
# Attributes the Members table's indexes key on: DynamoDB refuses an empty string in them.
INDEX_KEYS = ("email", "regio")
# Setting these memberships is a privileged change, like changing status (see `check_privileged_changes`).
PRIVILEGED_LIDMAATSCHAP = frozenset({"Erelid", "Overig"})
SERVER_FIELDS = frozenset(f.name for f in FIELDS if f.server)
# Query rounds one list request may spend looking for matches, so a rare filter cannot run for long.
MAX_QUERY_ROUNDS = 40
# Items read per round when a filter drops most of them (DynamoDB's Limit counts items read, not
# matches): 40 rounds then cover 20,000 members, the page still ends exactly at `limit`.
FILTERED_READ = 500
CREATE_DEFAULTS = {
    "lidmaatschap": "Gewoon lid",
    "status": "Aangemeld",
    "clubblad": "Digitaal",
    "land": "Nederland",
}
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_IDEMPOTENCY_NS = uuid.UUID("0b7f3c52-6a0e-4a8e-9a53-2f3f7d8c9e10")


# ---------------------------------------------------------------- models from the catalogue


def _date_in(value: Any) -> Any:
    """ISO or Dutch `d-m-yyyy` text (or a date) to the stored ISO text; other types fail as strings."""
    if isinstance(value, str) and value.strip():
        return write_date(value)
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return write_date(value)
    return value


_FORMATS = {"email": "email", "bankrekeningnummer": "iban", "postcode": "postcode"}
_MIN_LENGTH = {"email": 3, "bankrekeningnummer": 15, "land": 2}


def _client_type(spec: FieldSpec) -> Any:
    """The pydantic type a client's value for `spec` must have; validators return the stored form."""
    if spec.kind is Kind.ENUM:
        return Literal.__getitem__(spec.vocabulary)
    if spec.kind is Kind.YESNO:
        return Annotated[Literal["Ja", "Nee"], BeforeValidator(write_yesno)]
    if spec.kind is Kind.DATE:
        return Annotated[str, BeforeValidator(_date_in), Field(json_schema_extra={"format": "date"})]
    if spec.kind is Kind.INTEGER:
        return Annotated[int, Field(ge=spec.minimum, le=spec.maximum)]
    extra: dict[str, Any] | None = {"format": _FORMATS[spec.name]} if spec.name in _FORMATS else None
    constraints = Field(
        min_length=_MIN_LENGTH.get(spec.name, 1),
        max_length=spec.max_length,
        pattern=spec.pattern,
        json_schema_extra=extra,
    )
    if spec.name == "postcode":  # checked against `land` by the model (Dutch form only in NL)
        return Annotated[str, constraints]
    return Annotated[str, constraints, AfterValidator(partial(write_text, spec))]


def _model_fields(for_create: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in CLIENT_FIELDS:
        typ = _client_type(spec)
        if for_create and spec.required:
            fields[spec.name] = (typ, ...)
        elif for_create and spec.name in CREATE_DEFAULTS:
            fields[spec.name] = (typ, CREATE_DEFAULTS[spec.name])
        else:
            fields[spec.name] = (typ | None, None)
    return fields


_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
# Built from the catalogue so a field added there is accepted, typed and documented everywhere.
_CreateBase: Any = create_model("MemberCreateFields", __config__=_STRICT, **_model_fields(True))
_UpdateBase: Any = create_model("MemberUpdateFields", __config__=_STRICT, **_model_fields(False))


def _postcode_error(model_name: str, err: ValueError, value: str) -> ValidationError:
    """A postcode error located at `postcode`, so the 422 names the field like any other."""
    detail = InitErrorDetails(
        type=PydanticCustomError("value_error", str(err)), loc=("postcode",), input=value
    )
    return ValidationError.from_exception_data(model_name, [detail])


class MemberCreate(_CreateBase):
    """Body of POST /members: the club's fields, required ones enforced, values checked strictly."""

    @model_validator(mode="after")
    def _dutch_postcode(self) -> MemberCreate:
        """Dutch addresses need a valid Dutch postcode; abroad any short postcode goes."""
        postcode: str | None = getattr(self, "postcode", None)
        if postcode:
            try:
                self.postcode = write_postcode(postcode, self.land)
            except ValueError as err:
                raise _postcode_error(type(self).__name__, err, postcode) from None
        return self


class MemberUpdate(_UpdateBase):
    """Body of PUT /members/{id}: only the fields to change, and the version that was read."""

    # 0 is the version of a record no function of this project has written yet.
    version: Annotated[int, Field(ge=0, le=10**9)] | None = None


class FieldProblem(BaseModel):
    """A stored value that does not fit the catalogue; the value itself is returned as stored."""

    field: str
    state: Literal["normalisable", "invalid"]


_MemberBase: Any = create_model(  # type: ignore[call-overload]
    "MemberFields",
    __config__=ConfigDict(extra="allow"),
    **{
        spec.name: (Any, Field(default=None, json_schema_extra={"x-kind": spec.kind.value}))
        for spec in FIELDS
        if spec.name not in ("member_id", "version")
    },
)


class Member(_MemberBase):
    """A member as the API returns it: every stored attribute as stored, fields outside the catalogue too."""

    member_id: str
    version: int = 0
    problems: list[FieldProblem] = []


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


class IdempotencyMismatch(Exception):
    """An Idempotency-Key was used before for a different request."""


# ---------------------------------------------------------------- rules


def check_privileged_changes(caller: Caller, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Changing status, or making someone Erelid/Overig, needs Members_CRUD.

    Today every writer holds Members_CRUD; the rule is kept here on its own so it stays
    true if a narrower write role is ever added.
    """
    if caller.has(Role.MEMBERS_CRUD):
        return
    status_changed = before is not None and before.get("status") != after.get("status")
    if status_changed or (before is None and after.get("status") not in (None, "Aangemeld")):
        raise PermissionDenied("changing a member's status needs Members_CRUD")
    new_lid = after.get("lidmaatschap")
    if new_lid in PRIVILEGED_LIDMAATSCHAP and (before is None or before.get("lidmaatschap") != new_lid):
        raise PermissionDenied("setting lidmaatschap to Erelid or Overig needs Members_CRUD")


def check_region(caller: Caller, regio: Any) -> None:
    """A member outside the caller's regions may not be written there."""
    if not caller.may_see_region(regio if isinstance(regio, str) else None):
        raise PermissionDenied("you may not manage members of that region")


def stored_fields(model: BaseModel) -> dict[str, Any]:
    """A validated model as DynamoDB attributes in the club's form (no Nones, no version)."""
    data = model.model_dump(mode="json", exclude_none=True, exclude={"version"})
    return {k: v for k, v in data.items() if v is not None}


def merge_update(current: dict[str, Any], update: MemberUpdate) -> dict[str, Any]:
    """The stored record as it would be after `update`: only the sent fields change.

    Everything else (fields outside the catalogue, legacy values in their old form) is kept
    verbatim. A field sent as null is removed, unless the club requires it. InvalidRecord if
    the change breaks a rule.
    """
    changes = update.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    merged = {k: v for k, v in current.items() if k not in SERVER_FIELDS}
    errors: list[dict[str, Any]] = []
    for key, value in changes.items():
        if value is None:
            if FIELD_BY_NAME[key].required:
                errors.append({"loc": ["body", key], "msg": "Field required", "type": "missing"})
            merged.pop(key, None)
        else:
            merged[key] = value
    postcode = merged.get("postcode")
    if ("postcode" in changes or "land" in changes) and isinstance(postcode, str) and not is_empty(postcode):
        try:
            merged["postcode"] = write_postcode(postcode, merged.get("land"))
        except ValueError as err:
            if "postcode" in changes:
                errors.append(
                    {"loc": ["body", "postcode"], "msg": f"Value error, {err}", "type": "value_error"}
                )
    if errors:
        raise InvalidRecord(errors)
    return merged


def storable(item: dict[str, Any]) -> dict[str, Any]:
    """The item as DynamoDB will take it: an empty string (the sheet's "unknown") in an index key is left out.

    DynamoDB refuses the whole write otherwise; the value meant nothing, so nothing is lost.
    """
    return {k: v for k, v in item.items() if not (k in INDEX_KEYS and v == "")}


def problems_of(item: dict[str, Any]) -> list[FieldProblem]:
    """The catalogue fields whose stored values are not in the stored form (or not readable at all)."""
    found = []
    for spec in FIELDS:  # catalogue order, whatever order DynamoDB returns attributes in
        name = spec.name
        if name not in item:
            continue
        state = read_value(spec, item[name]).state
        if state is ReadState.NORMALISABLE:
            found.append(FieldProblem(field=name, state="normalisable"))
        elif state is ReadState.INVALID:
            found.append(FieldProblem(field=name, state="invalid"))
    return found


def version_of(item: dict[str, Any]) -> int:
    """The record's version; 0 for a record no function of this project has written."""
    raw = item.get("version")
    result = read_value(FIELD_BY_NAME["version"], raw)
    return int(result.value) if result.state in (ReadState.OK, ReadState.NORMALISABLE) else 0


def to_member(item: dict[str, Any]) -> Member:
    data = plain_item(item)
    data["version"] = version_of(item)
    data["problems"] = problems_of(item)
    return Member.model_validate(data)


def is_lidnummer_query(q: str) -> bool:
    """A lidnummer search: ASCII digits only, few enough to be one (DynamoDB numbers have limits)."""
    return q.isascii() and q.isdigit() and len(q) <= 9


def _matches_q(item: dict[str, Any], q: str) -> bool:
    """A name (part) or lidnummer search, case-insensitive; lidnummers match whatever their stored type."""
    if is_lidnummer_query(q):
        number = read_value(FIELD_BY_NAME["lidnummer"], item.get("lidnummer")).value
        return number == int(q)
    name = " ".join(str(item.get(f) or "") for f in ("voornaam", "tussenvoegsel", "achternaam", "korte_naam"))
    return q.casefold() in " ".join(name.split()).casefold()


def email_key(email: Any) -> str | None:
    """The uniqueness record's key for a stored email, None when the member has no usable address."""
    if not isinstance(email, str) or is_empty(email):
        return None
    try:
        return f"email#{normalize_email(email)}"
    except ValueError:
        return None


def idempotent_member_id(caller: Caller, key: str) -> str:
    """The member_id a create with this Idempotency-Key gets (the same on every replay)."""
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValueError("Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'")
    return str(uuid.uuid5(_IDEMPOTENCY_NS, f"{caller.username}:{key}"))


def request_fingerprint(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- repository

Items = list[dict[str, Any]]
Regions = list[str]


class MemberRepository:
    """Members and their uniqueness records in DynamoDB; DynamoDB's answers become domain exceptions."""

    def __init__(self, members_table: Any, keys_table: Any) -> None:
        self.members = members_table
        self.keys = keys_table
        # The resource's client takes plain Python values in transactions, like the Table does.
        self.ddb = members_table.meta.client

    # -------------------------------------------------------------- reads
    def get(self, member_id: str) -> dict[str, Any] | None:
        """The stored item exactly as DynamoDB holds it (boto3 types), or None."""
        item = self.members.get_item(Key={"member_id": member_id}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def find_by_email(self, email: str) -> str | None:
        """The member_id holding `email`, through the email index (never a scan)."""
        try:
            address = normalize_email(email)
        except ValueError:
            return None  # no member can hold an address that is not one
        try:
            res = self.members.query(
                IndexName=EMAIL_INDEX, KeyConditionExpression=Key("email").eq(address), Limit=1
            )
        except ClientError as err:
            if not _index_unavailable(err):
                raise
            # No index yet on a table taken over: a filtered scan gives the same answer.
            return self._scan_for_email(address)
        items = res.get("Items", [])
        return str(items[0]["member_id"]) if items else None

    def _scan_for_email(self, address: str) -> str | None:
        key = None
        while True:
            kwargs: dict[str, Any] = {"FilterExpression": Attr("email").eq(address)}
            if key:
                kwargs["ExclusiveStartKey"] = key
            res = self.members.scan(**kwargs)
            if res.get("Items"):
                return str(res["Items"][0]["member_id"])
            key = res.get("LastEvaluatedKey")
            if not key:
                return None

    def list(
        self,
        regions: Regions,
        filters: MemberFilter,
        limit: int,
        cursor: str | None,
        *,
        everything: bool = False,
    ) -> tuple[Items, str | None]:
        """One page of members and the next cursor.

        A caller who sees every region (`everything`) pages through a Scan, so records whose
        `regio` is missing or outside the vocabulary are listed too; others page through a Query
        of the regio index per region. Every read asks for at most the items still missing, so a
        page never overflows and the cursor resumes exactly after it.
        """
        condition = None
        if filters.status:
            condition = Attr("status").eq(filters.status.value)
        if filters.lidmaatschap:
            lid = Attr("lidmaatschap").eq(filters.lidmaatschap.value)
            condition = lid if condition is None else condition & lid
        if filters.q and is_lidnummer_query(filters.q):
            # Stored as a number by this project and the club's newer code, as text by its imports.
            nr = Attr("lidnummer").eq(int(filters.q)) | Attr("lidnummer").eq(filters.q)
            condition = nr if condition is None else condition & nr
        if everything:
            return self._scan_page(condition, filters, limit, cursor)
        in_regions = Attr("regio").is_in(regions)
        scan_condition = in_regions if condition is None else condition & in_regions
        if cursor and "s" in decode_cursor(cursor, {"s": int, "r": int, "member_id": str, "regio": str}):
            return self._scan_page(scan_condition, filters, limit, cursor)
        try:
            return self._query_pages(regions, condition, filters, limit, cursor)
        except ClientError as err:
            # A table taken over before `hdcn members check --apply` built the index: same answer, slower.
            if not _index_unavailable(err) or cursor:
                raise
            return self._scan_page(scan_condition, filters, limit, None)

    def _hydrate(self, items: Items) -> Items:
        """The full records of a name search's matches, in the same order (read with only the names)."""
        if not items:
            return items
        full: dict[str, dict[str, Any]] = {}
        keys = [{"member_id": i["member_id"]} for i in items]
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.members.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            while request:
                res = self.ddb.batch_get_item(RequestItems=request)
                for item in res.get("Responses", {}).get(self.members.name, []):
                    full[str(item["member_id"])] = dict(item)
                request = res.get("UnprocessedKeys") or {}
        # A member deleted between the two reads is simply not on the page.
        return [full[str(i["member_id"])] for i in items if str(i["member_id"]) in full]

    def _keep(self, res: dict[str, Any], filters: MemberFilter) -> Items:
        items = [dict(i) for i in res.get("Items", [])]
        return [i for i in items if _matches_q(i, filters.q)] if filters.q else items

    def _scan_page(
        self, condition: Any, filters: MemberFilter, limit: int, cursor: str | None
    ) -> tuple[Items, str | None]:
        key: dict[str, Any] | None = None
        if cursor:
            pos = decode_cursor(cursor, {"s": int, "member_id": str})
            if set(pos) != {"s", "member_id"} or pos["s"] != 1:
                raise InvalidCursor("bad cursor")
            key = {"member_id": pos["member_id"]}
        found: Items = []
        filtered = condition is not None or bool(filters.q)
        for _ in range(MAX_QUERY_ROUNDS):
            # Strongly consistent: a member created a moment ago is on the next page (an index cannot be).
            kwargs: dict[str, Any] = {
                "Limit": _read_size(limit - len(found), filtered),
                "ConsistentRead": True,
            }
            if condition is not None:
                kwargs["FilterExpression"] = condition
            if key:
                kwargs["ExclusiveStartKey"] = key
            kwargs.update(_name_projection(filters))
            res = self.members.scan(**kwargs)
            matches = self._keep(res, filters)
            key = res.get("LastEvaluatedKey")
            room = limit - len(found)
            if len(matches) >= room:
                found.extend(matches[:room])
                if len(matches) > room:  # read past the page: resume right after its last member
                    key = {"member_id": found[-1]["member_id"]}
                break
            found.extend(matches)
            if not key:
                break
        if _name_projection(filters):
            found = self._hydrate(found)
        return found, encode_cursor({"s": 1, "member_id": key["member_id"]}) if key else None

    def _query_pages(
        self, regions: Regions, condition: Any, filters: MemberFilter, limit: int, cursor: str | None
    ) -> tuple[Items, str | None]:
        start_region, start_key = 0, None
        if cursor:
            pos = decode_cursor(cursor, {"r": int, "member_id": str, "regio": str})
            start_region = pos.pop("r", 0)
            if not isinstance(start_region, int) or start_region >= len(regions):
                raise InvalidCursor("bad cursor")
            if pos:
                if set(pos) != {"member_id", "regio"} or pos["regio"] != regions[start_region]:
                    raise InvalidCursor("bad cursor")
                start_key = pos
        found: Items = []
        rounds = 0
        filtered = condition is not None or bool(filters.q)
        for r_index in range(start_region, len(regions)):
            key = start_key if r_index == start_region else None
            while True:
                rounds += 1
                kwargs: dict[str, Any] = {
                    "IndexName": REGIO_INDEX,
                    "KeyConditionExpression": Key("regio").eq(regions[r_index]),
                    "Limit": _read_size(limit - len(found), filtered),
                }
                if condition is not None:
                    kwargs["FilterExpression"] = condition
                if key:
                    kwargs["ExclusiveStartKey"] = key
                kwargs.update(_name_projection(filters))
                res = self.members.query(**kwargs)
                matches = self._keep(res, filters)
                key = res.get("LastEvaluatedKey")
                room = limit - len(found)
                if len(matches) > room:  # read past the page: resume right after its last member
                    matches = matches[:room]
                    key = {"member_id": matches[-1]["member_id"], "regio": regions[r_index]}
                found.extend(matches)
                if len(found) >= limit or rounds >= MAX_QUERY_ROUNDS:
                    page = self._hydrate(found) if _name_projection(filters) else found
                    if key:
                        return page, encode_cursor({"r": r_index, **key})
                    more = r_index + 1 < len(regions)
                    return page, encode_cursor({"r": r_index + 1}) if more else None
                if not key:
                    break
        return (self._hydrate(found) if _name_projection(filters) else found), None

    # -------------------------------------------------------------- lidnummer counter
    def highest_lidnummer(self) -> int:
        """The highest lidnummer any stored member has, whatever its stored type (0 for none)."""
        highest, key = 0, None
        spec = FIELD_BY_NAME["lidnummer"]
        while True:
            kwargs: dict[str, Any] = {"ProjectionExpression": "lidnummer"}
            if key:
                kwargs["ExclusiveStartKey"] = key
            res = self.members.scan(**kwargs)
            for item in res.get("Items", []):
                number = read_value(spec, item.get("lidnummer")).value
                if isinstance(number, int):
                    highest = max(highest, number)
            key = res.get("LastEvaluatedKey")
            if not key:
                return highest

    def ensure_counter_above(self, highest: int) -> bool:
        """Raise the counter to at least `highest` (never lower it); True if it changed."""
        try:
            self.keys.update_item(
                Key={"pk": COUNTER_KEY},
                UpdateExpression="SET #v = :h",
                ConditionExpression="attribute_not_exists(#v) OR #v < :h",
                ExpressionAttributeNames={"#v": "value"},
                ExpressionAttributeValues={":h": highest},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def next_lidnummer(self) -> int:
        """The next lidnummer from the atomic counter (ADD is applied once per call, never lost).

        A table taken over from the club has no counter yet: it is first set to the highest
        existing lidnummer, so a new member never reuses a number.
        """
        for _ in range(2):
            try:
                res = self.keys.update_item(
                    Key={"pk": COUNTER_KEY},
                    UpdateExpression="ADD #v :one",
                    ConditionExpression="attribute_exists(#v)",
                    ExpressionAttributeNames={"#v": "value"},
                    ExpressionAttributeValues={":one": 1},
                    ReturnValues="UPDATED_NEW",
                )
                return int(res["Attributes"]["value"])
            except ClientError as err:
                if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                self.ensure_counter_above(self.highest_lidnummer())
        raise RuntimeError("the lidnummer counter could not be initialised")

    # -------------------------------------------------------------- writes
    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new member with a fresh id and lidnummer; DuplicateValue if the email is taken."""
        return self.create_once(fields, None)[0]

    def create_once(self, fields: dict[str, Any], member_id: str | None) -> tuple[dict[str, Any], bool]:
        """Store a new member; (item, created). DuplicateValue if the email is taken.

        With a `member_id` from an Idempotency-Key, a replay of a create that already
        happened returns the stored member (created False) instead of failing on its own email.
        """
        fingerprint = request_fingerprint(fields)
        if member_id is not None:
            existing = self._replayed(member_id, fingerprint)
            if existing is not None:
                return existing, False
        now = now_timestamp()
        item = {
            **fields,
            "member_id": member_id or str(uuid.uuid4()),
            "lidnummer": self.next_lidnummer(),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        claim: dict[str, Any] = {"pk": f"email#{item['email']}", "member_id": item["member_id"]}
        if member_id is not None:
            claim["request"] = fingerprint
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.keys.name,
                            "Item": claim,
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
                ],
                # One token per logical create: a botocore retry of a commit whose answer was lost succeeds.
                ClientRequestToken=item["member_id"],
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = cancellation_codes(err.response)
            if member_id is not None and "ConditionalCheckFailed" in reasons:
                existing = self._replayed(member_id, fingerprint)  # a concurrent replay won
                if existing is not None:
                    return existing, False
            if reasons and reasons[0] == "ConditionalCheckFailed":
                # The lidnummer drawn for this attempt stays unused: gaps are fine, duplicates are not.
                raise DuplicateValue("email") from None
            raise _busy(err) from None
        return item, True

    def _replayed(self, member_id: str, fingerprint: str) -> dict[str, Any] | None:
        """The member a previous create with this key made, if it exists; mismatch if the body differed."""
        existing = self.get(member_id)
        if existing is None:
            return None
        claim_key = email_key(existing.get("email"))
        claim = (
            self.keys.get_item(Key={"pk": claim_key}, ConsistentRead=True).get("Item") if claim_key else None
        )
        if not claim or claim.get("request") != fingerprint:
            raise IdempotencyMismatch()
        return existing

    def update(
        self, current: dict[str, Any], new_fields: dict[str, Any], expected_version: int
    ) -> dict[str, Any]:
        """Store the member's new fields if it is still the version the caller read."""
        member_id = current["member_id"]
        if version_of(current) != expected_version:
            raise VersionConflict(version_of(current))
        item = {
            **new_fields,
            "member_id": member_id,
            "updated_at": now_timestamp(),
            "version": expected_version + 1,
        }
        for kept in ("lidnummer", "created_at"):  # server fields stay as stored (absent stays absent)
            if kept in current:
                item[kept] = current[kept]
        item = storable(item)
        guard = self._unchanged_guard(current, expected_version)
        old_key, new_key = email_key(current.get("email")), email_key(item.get("email"))
        try:
            if old_key == new_key:
                self.members.put_item(Item=item, **guard)
            else:
                transact: Items = [{"Put": {"TableName": self.members.name, "Item": item, **guard}}]
                if new_key:
                    transact.append(
                        {
                            "Put": {
                                "TableName": self.keys.name,
                                "Item": {"pk": new_key, "member_id": member_id},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                    )
                if old_key:
                    transact.append(self._release_claim(old_key, member_id))
                self.ddb.transact_write_items(
                    TransactItems=transact,
                    ClientRequestToken=str(uuid.uuid5(_IDEMPOTENCY_NS, f"{member_id}:{expected_version}")),
                )
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                raise self._conflict(member_id) from None
            if code == "TransactionCanceledException":
                reasons = cancellation_codes(err.response)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise self._conflict(member_id) from None
                if new_key and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise DuplicateValue("email") from None
                if "ConditionalCheckFailed" in reasons:
                    raise self._conflict(member_id) from None
                raise _busy(err) from None
            raise
        return item

    def _unchanged_guard(self, current: dict[str, Any], expected_version: int) -> dict[str, Any]:
        """The write condition: same version and, as the club's functions set no version, same updated_at."""
        names = {"#ver": "version", "#upd": "updated_at"}
        values: dict[str, Any] = {}
        parts = ["attribute_exists(member_id)"]
        if "version" in current:
            parts.append("#ver = :ver")
            values[":ver"] = current["version"]
        else:
            parts.append("attribute_not_exists(#ver)")
        if "updated_at" in current:
            parts.append("#upd = :upd")
            values[":upd"] = current["updated_at"]
        else:
            parts.append("attribute_not_exists(#upd)")
        guard: dict[str, Any] = {
            "ConditionExpression": " AND ".join(parts),
            "ExpressionAttributeNames": names,
        }
        if values:
            guard["ExpressionAttributeValues"] = values
        return guard

    def delete(self, current: dict[str, Any], expected_version: int | None) -> None:
        """Remove the member and its uniqueness record; with a version, only if it is still that one."""
        member_id = current["member_id"]
        if expected_version is not None and version_of(current) != expected_version:
            raise VersionConflict(version_of(current))
        guard: dict[str, Any] = {"ConditionExpression": "attribute_exists(member_id)"}
        if expected_version is not None:
            guard = self._unchanged_guard(current, expected_version)
        transact: Items = [
            {"Delete": {"TableName": self.members.name, "Key": {"member_id": member_id}, **guard}}
        ]
        old_key = email_key(current.get("email"))
        if old_key:
            transact.append(self._release_claim(old_key, member_id))
        try:
            self.ddb.transact_write_items(TransactItems=transact)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "TransactionCanceledException":
                reasons = cancellation_codes(err.response)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise self._conflict(member_id) from None
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    # Someone else holds the email claim (a legacy duplicate): delete the member alone.
                    self._delete_member_only(member_id, guard)
                    return
                raise _busy(err) from None
            if code == "ConditionalCheckFailedException":
                raise self._conflict(member_id) from None
            raise

    def _release_claim(self, key: str, member_id: str) -> dict[str, Any]:
        """The transaction item freeing an email claim: only our own (a legacy duplicate's is the other's)."""
        return {
            "Delete": {
                "TableName": self.keys.name,
                "Key": {"pk": key},
                "ConditionExpression": "attribute_not_exists(pk) OR member_id = :me",
                "ExpressionAttributeValues": {":me": member_id},
            }
        }

    def _delete_member_only(self, member_id: str, guard: dict[str, Any]) -> None:
        try:
            self.members.delete_item(Key={"member_id": member_id}, **guard)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise self._conflict(member_id) from None
            raise

    def _conflict(self, member_id: str) -> Exception:
        """Why a guarded write failed: the member is gone, or it has a newer version."""
        now = self.get(member_id)
        if now is None:
            return RecordNotFound()
        return VersionConflict(version_of(now))


# A name search reads only what it matches on (and the keys), then fetches the page's full records:
# most members do not match, and their full records cost most of a search's time.
_SEARCH_FIELDS = ("member_id", "regio", "voornaam", "tussenvoegsel", "achternaam", "korte_naam")


def _name_projection(filters: MemberFilter) -> dict[str, Any]:
    """The projection of a name search (empty for any other listing)."""
    if not filters.q or is_lidnummer_query(filters.q):
        return {}
    names = {f"#p{n}": field for n, field in enumerate(_SEARCH_FIELDS)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _read_size(room: int, filtered: bool) -> int:
    """How many items to read for `room` more matches: exactly that, or a large page when filtering."""
    return max(room, FILTERED_READ) if filtered else room


def _index_unavailable(err: ClientError) -> bool:
    """DynamoDB's answer to a Query of an index the table does not have (yet), or is still building.

    DynamoDB says ValidationException ("The table does not have the specified index"); moto says
    ResourceNotFoundException ("Invalid index").
    """
    error = err.response.get("Error", {})
    codes = ("ValidationException", "ResourceNotFoundException")
    return error.get("Code") in codes and "index" in str(error.get("Message", "")).lower()


def _busy(err: ClientError) -> ClientError:
    """A transaction cancelled by a conflict or throttling (not by our conditions): the API's 503."""
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "transaction conflict"}}, "Transact"
    )
