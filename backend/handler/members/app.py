"""MembersFunction: GET/POST /members and GET/PUT/DELETE /members/{member_id}.

Readers (Members_Read/Export/CRUD with a region) see the members of their regions only;
a member outside them answers 404 exactly like one that does not exist. Only
Members_CRUD (or System_CRUD) writes. Updates carry the version that was read.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from hdcn_common.api import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    create_resolver,
    error_response,
    require_caller,
)
from hdcn_common.audit import AuditLog
from hdcn_common.auth import Caller
from hdcn_common.enums import Lidmaatschap, Regio, Status
from hdcn_common.erasure import ACTIVE as ERASURE_ACTIVE
from hdcn_common.erasure import ErasureNotActive, Erasures, erasure_mode, remove_member_record
from hdcn_common.erasure import public_view as erasure_view
from hdcn_common.exports import list_published, read_manifest, read_member_ids
from hdcn_common.members import (
    IdempotencyMismatch,
    Member,
    MemberCreate,
    MemberFilter,
    MemberPage,
    MemberRepository,
    MemberUpdate,
    PermissionDenied,
    check_privileged_changes,
    check_region,
    idempotent_member_id,
    merge_update,
    stored_fields,
    to_member,
    version_of,
)
from hdcn_common.records import RecordNotFound, VersionConflict, plain_item, register_record_errors
from hdcn_common.settings import client, settings, table
from hdcn_common.versioning import expected_version
from pydantic import BaseModel, Field

logger = Logger()
metrics = Metrics()
app = create_resolver()
register_record_errors(app, "member")

MemberId = Annotated[str, Path(min_length=1, max_length=64)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]


@app.exception_handler(PermissionDenied)
def _denied(err: PermissionDenied) -> Response[str]:
    return error_response(403, "forbidden", err.reason)


@app.exception_handler(IdempotencyMismatch)
def _key_reused(_: IdempotencyMismatch) -> Response[str]:
    return error_response(
        422, "idempotency_key_reused", "this Idempotency-Key was used for a different request; use a new key"
    )


def _audit(caller: Caller, action: str, target: str, **details: Any) -> None:
    """An access-log entry (ids, counts, field names; never a value), before data is shown or changed."""
    AuditLog(table(settings().audit_table)).record(caller.username, action, target, **details)


def _repo() -> MemberRepository:
    cfg = settings()
    return MemberRepository(table(cfg.members_table), table(cfg.member_keys_table))


def _reader() -> Caller:
    caller = require_caller(app)
    if not caller.can_read_members:
        raise Forbidden("reading members needs Members_Read, Members_Export or Members_CRUD and a region")
    return caller


def _writer() -> Caller:
    caller = require_caller(app)
    if not caller.can_write_members:
        raise Forbidden("changing members needs Members_CRUD and a region")
    return caller


def _visible(caller: Caller, member_id: str) -> dict[str, Any]:
    """The member if it exists and lies in the caller's regions; otherwise 404, the same either way."""
    item = _repo().get(member_id)
    if item is None or not _may_see(caller, item):
        raise NotFound("no such member")
    return item


def _may_see(caller: Caller, item: dict[str, Any]) -> bool:
    """In the caller's regions; a caller of every region also sees records without a valid regio."""
    regio = item.get("regio")
    return caller.all_regions or (isinstance(regio, str) and caller.may_see_region(regio))


@app.get("/members")
def list_members(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    regio: Annotated[Regio | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    lidmaatschap: Annotated[Lidmaatschap | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    email: Annotated[str | None, Query(min_length=3, max_length=254)] = None,
) -> MemberPage:
    """Members of the caller's regions, paginated; filters regio, status, lidmaatschap, q, email."""
    caller = _reader()
    repo = _repo()
    if email is not None:
        # An exact email lookup goes through the email index, then the region check.
        member_id = repo.find_by_email(email.strip())
        item = repo.get(member_id) if member_id else None
        items = [item] if item and _may_see(caller, item) else []
        _audit(caller, "member.list", "email lookup", member_ids=[str(i["member_id"]) for i in items])
        return MemberPage(members=[to_member(i) for i in items], next_cursor=None)
    regions = sorted(caller.regions)
    if regio is not None:
        regions = [r for r in regions if r == regio.value]
    if not regions:
        return MemberPage(members=[], next_cursor=None)
    filters = MemberFilter(regio=regio, status=status, lidmaatschap=lidmaatschap, q=q.strip() if q else None)
    # A caller of every region also sees records whose regio is missing or outside the vocabulary.
    everything = caller.all_regions and regio is None
    items, next_cursor = repo.list(regions, filters, limit, cursor, everything=everything)
    if items:
        ids = [str(i["member_id"]) for i in items]
        _audit(caller, "member.list", f"{len(ids)} members", member_ids=ids, regions=sorted(regions))
    return MemberPage(members=[to_member(i) for i in items], next_cursor=next_cursor)


@app.post("/members", status_code=201)
def create_member(member: MemberCreate, idempotency_key: IdempotencyKey = None) -> Member:
    """Create a member; lidnummer, member_id and version 1 are assigned here.

    With an `Idempotency-Key` header, repeating the request (a retry after a lost answer)
    returns the member the first request created instead of a 409 on its own email.
    """
    caller = _writer()
    fields = stored_fields(member)
    check_region(caller, fields["regio"])
    check_privileged_changes(caller, None, fields)
    member_id = None
    if idempotency_key is not None:
        try:
            member_id = idempotent_member_id(caller, idempotency_key)
        except ValueError as err:
            raise Unprocessable(
                str(err), [{"loc": ["header", "Idempotency-Key"], "msg": str(err), "type": "value_error"}]
            ) from None
    # The id is known before the write, so the access log names it before the member exists.
    member_id = member_id or str(uuid.uuid4())
    _audit(caller, "member.create", member_id, fields=sorted(fields), regions=[fields["regio"]])
    item, created = _repo().create_once(fields, member_id)
    if created:
        metrics.add_metric(name="MembersCreated", unit=MetricUnit.Count, value=1)
        logger.info("member created", extra={"member_id": item["member_id"]})
    return to_member(item)


@app.get("/members/<member_id>")
def get_member(member_id: MemberId) -> Member:
    """One member of the caller's regions."""
    caller = _reader()
    item = _visible(caller, member_id)
    _audit(caller, "member.read", member_id)
    return to_member(item)


@app.put("/members/<member_id>")
def update_member(member_id: MemberId, update: MemberUpdate, if_match: IfMatch = None) -> Member:
    """Change the given fields; `version` (body or If-Match) must be the one that was read."""
    caller = _writer()
    expected = expected_version(update.version, if_match)
    current = _visible(caller, member_id)
    new_fields = merge_update(current, update)
    if new_fields.get("regio") != current.get("regio"):
        check_region(caller, new_fields["regio"])
    check_privileged_changes(caller, current, new_fields)
    changed = sorted(update.model_dump(exclude_unset=True, exclude={"version"}))
    _audit(caller, "member.update", member_id, fields=changed)
    item = _repo().update(current, new_fields, expected)
    logger.info("member updated", extra={"member_id": member_id, "version": item["version"]})
    return to_member(item)


@app.delete("/members/<member_id>", responses={204: {"description": "Deleted"}})
def delete_member(member_id: MemberId, if_match: IfMatch = None) -> Response[None]:
    """Delete a member (and free its email); with If-Match only if it is still that version."""
    caller = _writer()
    expected = expected_version(None, if_match, required=False)
    current = _visible(caller, member_id)
    _audit(caller, "member.delete", member_id)
    _repo().delete(current, expected)
    logger.info("member deleted", extra={"member_id": member_id})
    return Response(status_code=204)


@app.get("/members/<member_id>/data-export")
def member_data_export(member_id: MemberId) -> dict[str, Any]:
    """Everything held about one member (an AVG access request): the record as stored, its history
    in the access log, and the exports that hold them. Members_CRUD for the member's region.
    """
    caller = _writer()
    item = _visible(caller, member_id)
    _audit(caller, "member.data_export", member_id)
    cfg = settings()
    # The entries about this member (reads, changes, its data requests); list pages that showed the
    # member among others are found with GET /audit?member=.
    history = [plain_item(e) for e in AuditLog(table(cfg.audit_table)).history(member_id)]
    s3 = client("s3")
    exports = []
    for export_id in list_published(s3, cfg.export_bucket):
        ids = read_member_ids(s3, cfg.export_bucket, export_id)
        if ids is None or member_id in ids:
            manifest = read_manifest(s3, cfg.export_bucket, export_id)
            exports.append(
                {
                    "export_id": export_id,
                    "created_at": manifest.created_at if manifest else None,
                    "options": manifest.options if manifest else None,
                    # Exports from before the member lists were kept cannot say; they are listed as "maybe".
                    "holds_member": True if ids is not None else None,
                }
            )
    return {
        "member_id": member_id,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requested_by": caller.username,
        "record": plain_item(item),
        "history": [{k: v for k, v in e.items() if k not in ("expires_at",)} for e in history],
        "exports": exports,
    }


class Erasure(BaseModel):
    """A member's erasure and its progress (the record now, the exports by a job)."""

    erasure_id: str
    member_id: str
    mode: Literal["delete", "wipe"]
    status: Literal["queued", "running", "done", "failed"]
    requested_by: str
    requested_at: str
    finished_at: str | None = None
    exports_total: int = 0
    exports_done: int = 0
    exports_rewritten: int = 0
    exports_withdrawn: int = 0
    versions_deleted: int = 0
    error: str | None = Field(default=None, description="A short reason when failed; never member data")


def _as_erasure(item: dict[str, Any]) -> Erasure:
    return Erasure.model_validate(erasure_view(item))


def _erasures() -> Erasures:
    return Erasures(table(settings().export_jobs_table))


def _start_erase_job(erasures: Erasures, erasure: dict[str, Any]) -> dict[str, Any]:
    """Invoke the erase job in the generator (async; ids only in the event)."""
    member_id, erasure_id = str(erasure["member_id"]), str(erasure["erasure_id"])
    try:
        client("lambda").invoke(
            FunctionName=settings().generator_function,
            InvocationType="Event",
            Payload=json.dumps({"erasure": {"member_id": member_id, "erasure_id": erasure_id}}).encode(),
        )
    except (ClientError, BotoCoreError) as err:
        logger.error(
            "erase job invoke failed", extra={"erasure_id": erasure_id, "error_type": type(err).__name__}
        )
        with contextlib.suppress(ErasureNotActive):
            erasures.finish(member_id, erasure_id, "failed", "the erase job could not be started; ask again")
        raise ServiceUnavailable(
            "the erase job could not be started; ask for the erasure again shortly"
        ) from None
    return erasure


@app.post(
    "/members/<member_id>/erase",
    status_code=202,
    responses={202: {"description": "Erasure queued or already under way"}},
)
def erase_member(member_id: MemberId, if_match: IfMatch = None) -> Erasure:
    """Erase a member for good (AVG): the record now, every export by a job. Members_CRUD, member's region.

    Repeating the request while an erasure runs answers that erasure; after a failed one whose record
    is already gone, the export pass runs again.
    """
    caller = _writer()
    expected = expected_version(None, if_match, required=False)
    erasures = _erasures()
    latest = erasures.latest(member_id)
    if latest is not None and _may_see(caller, latest) and latest.get("status") in ERASURE_ACTIVE:
        return _as_erasure(latest)
    repo = _repo()
    current = repo.get(member_id)
    if current is None:
        if latest is not None and _may_see(caller, latest) and latest.get("status") == "failed":
            # The record went, the export pass did not finish: run that pass again.
            _audit(caller, "member.erase", member_id, erasure_id=str(latest["erasure_id"]), retry=True)
            try:
                again = erasures.requeue(member_id, str(latest["erasure_id"]))
            except ErasureNotActive:
                again = erasures.latest(member_id) or latest
                return _as_erasure(again)
            return _as_erasure(_start_erase_job(erasures, again))
        raise NotFound("no such member")
    if not _may_see(caller, current):
        raise NotFound("no such member")
    if expected is not None and version_of(current) != expected:
        raise VersionConflict(version_of(current))
    mode = erasure_mode()
    erasure, created = erasures.create(member_id, current.get("regio"), mode, caller.username)
    if not created:
        return _as_erasure(erasure)
    erasure_id = str(erasure["erasure_id"])
    _audit(
        caller, "member.erase", member_id, erasure_id=erasure_id, mode=mode, regions=[current.get("regio")]
    )
    try:
        remove_member_record(repo, current, expected, mode)
    except (VersionConflict, RecordNotFound):
        # Changed or deleted since it was read: nothing was erased; the caller reads it again.
        with contextlib.suppress(ErasureNotActive):
            erasures.finish(member_id, erasure_id, "failed", "the member changed before it was erased")
        raise
    except Exception:
        with contextlib.suppress(ErasureNotActive):
            erasures.finish(
                member_id, erasure_id, "failed", "the member record could not be removed; ask again"
            )
        raise
    erasures.mark_removed(member_id, erasure_id)
    logger.info("member erased; erase job starting", extra={"member_id": member_id, "erasure_id": erasure_id})
    return _as_erasure(_start_erase_job(erasures, erasure))


@app.get("/members/<member_id>/erase")
def get_member_erasure(member_id: MemberId) -> Erasure:
    """The member's latest erasure and its progress (also once the record is gone)."""
    caller = _writer()
    latest = _erasures().latest(member_id)
    if latest is None or not _may_see(caller, latest):
        raise NotFound("no erasure of this member")
    return _as_erasure(latest)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
