"""Fixes for gaps of moto's DynamoDB and Cognito that the real services do not have, applied in-process.

Cognito: see `install_cognito_refresh_checks` at the end (a disabled user's refresh is refused).

moto's threaded server runs every request on its own thread against one in-memory
backend without any locking. Real DynamoDB applies each request atomically: a
conditional write or a transaction checks and writes in one step, and an `ADD`
counter never loses an increment. Under concurrent requests moto instead can let
two conditional writes both pass their check, lose counter increments, or fail with
`RuntimeError: dictionary changed size during iteration` (a 500). Each request is
therefore run holding the lock of every table it names (a transaction: all of its
tables, taken in name order, so two requests never wait on each other in a circle):
the per-request atomicity the real service guarantees, while requests on other tables
(export job heartbeats, the catalogue) go on. Requests that name no table (ListTables)
and those that change the set of tables take the catalogue lock first.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import threading
from collections.abc import Iterator
from typing import Any

_TABLE_LOCKS: dict[str, threading.RLock] = {}
_REGISTRY = threading.Lock()
_CATALOGUE_LOCK = threading.RLock()
CATALOGUE_ACTIONS = frozenset(
    {"CreateTable", "DeleteTable", "UpdateTable", "ListTables", "RestoreTableFromBackup"}
)
_installed = False


def _table_name(reference: str) -> str:
    """A table's name from its name or ARN (`arn:aws:dynamodb:...:table/<name>[/index/...]`)."""
    if reference.startswith("arn:") and ":table/" in reference:
        return reference.split(":table/", 1)[1].split("/", 1)[0]
    return reference


def tables_of(body: Any) -> list[str]:
    """The tables a DynamoDB request names, sorted (the order their locks are taken in)."""
    names: set[str] = set()
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("TableName"), str):
        names.add(body["TableName"])
    if isinstance(body.get("RequestItems"), dict):
        names.update(k for k in body["RequestItems"] if isinstance(k, str))
    for item in body.get("TransactItems") or []:
        for operation in item.values() if isinstance(item, dict) else []:
            if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                names.add(operation["TableName"])
    return sorted({_table_name(n) for n in names})


def table_lock(name: str) -> threading.RLock:
    """The lock requests on table `name` run under: hold it to read that table consistently."""
    with _REGISTRY:
        return _TABLE_LOCKS.setdefault(_table_name(name), threading.RLock())


@contextlib.contextmanager
def request_locks(action: str, body: Any) -> Iterator[None]:
    """Hold what one request needs: the catalogue lock if it needs it, then its tables' locks."""
    names = tables_of(body)
    with contextlib.ExitStack() as held:
        if action in CATALOGUE_ACTIONS or not names:
            held.enter_context(_CATALOGUE_LOCK)
        for name in names:
            held.enter_context(table_lock(name))
        yield


def install() -> None:
    """Make moto's DynamoDB requests atomic per table (idempotent; call before the server starts)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action_atomically(self: Any) -> Any:
        action = self._get_action()
        body = getattr(self, "params", None)
        with request_locks(action, body):
            try:
                return original(self)
            finally:
                note_write(action, body)

    DynamoHandler.call_action = call_action_atomically  # type: ignore[method-assign]

    # TransactWriteItems is idempotent by ClientRequestToken in DynamoDB (botocore fills the token
    # once per call, so its retries carry the same one): a retry of a transaction that already
    # committed answers success again instead of failing its own conditions. moto ignores the
    # token, so a retry after a client-side read timeout (a queue behind the lock above, on a busy
    # machine) turned a committed create into a false "email already in use".
    original_transact = DynamoHandler.transact_write_items
    committed: dict[str, Any] = {}

    @functools.wraps(original_transact)
    def transact_write_items_idempotently(self: Any) -> Any:
        token = self.body.get("ClientRequestToken") if isinstance(self.body, dict) else None
        if token and token in committed:
            return committed[token]
        result = original_transact(self)
        if token:
            committed[token] = result
        return result

    DynamoHandler.transact_write_items = transact_write_items_idempotently  # type: ignore[method-assign]
    install_fast_item_serialization()
    install_fast_table_reads()
    install_light_transaction_rollback()
    install_cognito_refresh_checks()
    install_cached_module_list()
    _installed = True


# Reads answered with plain JSON instead of moto's shape-walking serializer. moto 5.2 serialises
# every response by walking botocore's output shape value by value (`moto.core.serialize`): for
# a 30-attribute member that is about 90% of a Scan's time (profiled: 2,000 members took 50 s
# under cProfile, 45 s of them in serialize.py). These operations' results are already plain
# AttributeValue dicts (`DynamoResult` runs `dynamo_to_dict`), so `json.dumps` gives the same
# document; only binary values need base64, as the shape serializer does. Errors, and anything
# else, keep moto's own path. tests/unit/test_moto_patches.py compares both on every type.
FAST_OPERATIONS = frozenset(
    {"Scan", "Query", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"}
)
_fast_serialization = True
_ITEM_MEMBERS = frozenset({"Items", "Item", "Attributes"})


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)  # not plain: let moto's serializer handle it


def _drop_none(value: Any) -> Any:
    """What the shape serializer does with None: leaves the member out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def set_fast_serialization(enabled: bool) -> None:
    """Switch the fast path (tests compare it with moto's own serializer)."""
    global _fast_serialization
    _fast_serialization = enabled


def install_fast_item_serialization() -> None:
    """Serialise item reads and writes' results with json.dumps (see FAST_OPERATIONS)."""
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult, "_hdcn_fast", False):
        return
    original = DynamoResult.execute_result

    @functools.wraps(original)
    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (
            _fast_serialization
            and context.operation_model.name in FAST_OPERATIONS
            and isinstance(result, dict)
        ):
            try:
                # Items hold no None (a NULL is {"NULL": true}): only the envelope needs it dropped.
                document = {
                    key: value if key in _ITEM_MEMBERS else _drop_none(value)
                    for key, value in result.items()
                    if value is not None
                }
                body = json.dumps(document, separators=(",", ":"), default=_json_default)
            except TypeError:
                return original(self, context)
            version = context.service_model.metadata.get("jsonVersion", "1.0")
            return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    DynamoResult._hdcn_fast = True  # type: ignore[attr-defined]
    _install_plain_results()


def _install_plain_results() -> None:
    """moto's `dynamo_to_dict`, which every answer passes through (`DynamoResult`), with plain
    strings, numbers, dicts and lists handled without its per-value type tests: on a 1 MB Scan
    page it was 80% of the answer's time (cProfile, 10,000 members, 2.7 of 3.4 s). Anything else
    (DynamoType, objects with `to_json`, datetimes) goes to moto's own function, so the result is
    the same; tests/unit/test_moto_patches.py compares the answers with the patch on and off."""
    from moto.dynamodb import responses
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = utilities.dynamo_to_dict
    plain_types = (str, int, float, bool, type(None))

    def plain(obj: Any) -> Any:
        kind = type(obj)
        if kind in plain_types:
            return obj
        if not _fast_serialization:
            return original(obj)
        if kind is dict:
            return {k: plain(v) for k, v in obj.items()}
        if kind is list:
            return [plain(v) for v in obj]
        if kind is DynamoType and obj.type not in ("B", "BS"):  # binary values: moto decodes them
            return {obj.type: plain(obj.value)}
        return original(obj)

    utilities.dynamo_to_dict = plain  # its own recursion looks the name up here
    responses.dynamo_to_dict = plain


# Table reads in O(page) instead of O(table). moto 5.2 answers every Scan and Query by sorting the
# whole table with DynamoType comparisons (`Table.all_items`), skips to `ExclusiveStartKey` one
# item at a time, deep-copies every full item before projecting it, and projects through a
# JSON round trip of the whole item. Measured in-process with 10,000 seeded members (30
# attributes): the first page of a Scan took 135 ms, a Query of one region's index 161 ms, and
# reading every member's names in pages of 500 (a name search) 6.1 s. The patches below keep
# moto's answers (the same items, order, `LastEvaluatedKey`, 1 MB page limit and counts; checked
# against moto's own code in tests/unit/test_moto_patches.py) and only skip repeated work:
# - the sorted item list is cached per table and rebuilt after any write (a write request on
#   the table, or moto's own `put_item`/`delete_item`, which the local persistence restores with);
# - a Scan of the table finds its `ExclusiveStartKey` by bisection in that list;
# - a projected Scan copies only the projected top-level scalar attributes, not the whole item;
# - item sizes (for the 1 MB page limit) are computed once per item between writes.
READ_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
        "DescribeEndpoints",
        "DescribeLimits",
    }
)
_SCALAR_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL"})
_fast_reads = True
_write_generation: dict[str, int] = {}
# id(table) -> (weak reference to the table, stamp, TableView); outside the table object so that
# moto's deep copy of a table (a transaction's rollback copy) does not copy the cache too.
_views: dict[int, tuple[Any, tuple[int, ...], _TableView]] = {}


class _TableView:
    """A table's items in moto's order, their sort keys, and their sizes, for one write generation."""

    def __init__(self, items: list[Any], keys: list[tuple[Any, ...]]) -> None:
        self.items = items
        self.keys = keys
        self.sizes: dict[int, int] = {}

    def size(self, item: Any) -> int:
        found = self.sizes.get(id(item))
        if found is None:
            found = self.sizes[id(item)] = item.size()
        return found


def set_fast_reads(enabled: bool) -> None:
    """Switch the fast table reads (tests compare them with moto's own code)."""
    global _fast_reads
    _fast_reads = enabled


def note_write(action: str, body: Any) -> None:
    """A write request finished on these tables: their cached views are stale (UpdateItem changes
    items in place, which the table's own counters do not see)."""
    if action in READ_ACTIONS:
        return
    names = tables_of(body) or ["*"]
    for name in names:
        _write_generation[name] = _write_generation.get(name, 0) + 1


def _sort_key(item: Any) -> tuple[Any, ...]:
    # The order of moto's `all_items` (DynamoType.__lt__ compares `cast_value`), computed once.
    if item.range_key is not None:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return (item.hash_key.cast_value,)


def _view(table: Any) -> _TableView:
    import weakref

    stamp = (
        table.__dict__.get("_hdcn_gen", 0),
        _write_generation.get(table.name, 0),
        _write_generation.get("*", 0),
        id(table.items),
        len(table.items),
    )
    entry = _views.get(id(table))
    if entry is not None and entry[0]() is table and entry[1] == stamp:
        return entry[2]
    items: list[Any] = []
    for hash_set in table.items.values():
        if table.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    pairs = sorted(((_sort_key(i), i) for i in items), key=lambda pair: pair[0])
    view = _TableView([p[1] for p in pairs], [p[0] for p in pairs])
    _views[id(table)] = (weakref.ref(table), stamp, view)
    return view


def _start_key(table: Any, start: dict[str, Any]) -> tuple[Any, ...] | None:
    """The sort key of an ExclusiveStartKey, or None when it does not name the table's keys."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(start[table.hash_key_attr]).cast_value
        if table.range_key_attr:
            return (hash_value, DynamoType(start[table.range_key_attr]).cast_value)
        return (hash_value,)
    except (KeyError, TypeError, AttributeError, IndexError):
        return None


def _project(item: Any, paths: list[list[str]]) -> Any:
    """`Item.project` for top-level scalar attributes, without its JSON round trip; None if the
    projection needs moto's own (nested paths, maps, lists, sets)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs: dict[str, Any] = {}
    for path in paths:
        if len(path) != 1:
            return None
        value = item.attrs.get(path[0])
        if value is None:
            continue
        if value.type not in _SCALAR_TYPES:
            return None
        attrs[path[0]] = value
    projected = Item(hash_key=item.hash_key, range_key=item.range_key, attrs={})
    for name, value in attrs.items():
        projected.attrs[name] = DynamoType(value)  # a copy: the stored item stays untouched
    return projected


def install_fast_table_reads() -> None:
    """Serve Table.all_items from a per-write cache and Scans of the table in O(page)."""
    import bisect
    import copy

    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

    if getattr(Table, "_hdcn_fast_reads", False):
        return
    original_all_items = Table.all_items
    original_scan = Table.scan
    original_put = Table.put_item
    original_delete = Table.delete_item

    def bump(table: Any) -> None:
        table.__dict__["_hdcn_gen"] = table.__dict__.get("_hdcn_gen", 0) + 1

    @functools.wraps(original_put)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_put(self, *args, **kwargs)
        finally:
            bump(self)

    @functools.wraps(original_delete)
    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_delete(self, *args, **kwargs)
        finally:
            bump(self)

    @functools.wraps(original_all_items)
    def all_items(self: Any) -> list[Any]:
        if not _fast_reads:
            return original_all_items(self)
        return list(_view(self).items)

    @functools.wraps(original_scan)
    def scan(
        self: Any,
        filters: dict[str, Any],
        limit: int,
        exclusive_start_key: dict[str, Any],
        filter_expression: Any = None,
        index_name: str | None = None,
        consistent_read: bool = False,
        projection_expression: list[list[str]] | None = None,
        segments: Any = (None, None),
    ) -> Any:
        start = _start_key(self, exclusive_start_key) if exclusive_start_key is not None else ()
        if not _fast_reads or index_name or start is None:
            return original_scan(
                self,
                filters,
                limit,
                exclusive_start_key,
                filter_expression,
                index_name,
                consistent_read,
                projection_expression,
                segments,
            )
        view = _view(self)
        try:
            first = bisect.bisect_right(view.keys, start) if exclusive_start_key is not None else 0
        except TypeError:  # a start key of another type than the table's key: moto's own answer
            return original_scan(
                self,
                filters,
                limit,
                exclusive_start_key,
                filter_expression,
                index_name,
                consistent_read,
                projection_expression,
                segments,
            )
        results: list[Any] = []
        result_size = 0
        scanned_count = 0
        last_evaluated_key = None
        for item in view.items[first:]:
            if not item.is_within_segment(segments):
                continue
            size = view.size(item)
            if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                break
            passes = True
            for attribute_name, (operator, values) in filters.items():
                attribute = item.attrs.get(attribute_name)
                if attribute:
                    if not attribute.compare(operator, values):
                        passes = False
                        break
                elif operator != "NULL":
                    passes = False
                    break
            if passes:
                results.append(item)
                result_size += size
            scanned_count += 1
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expression:
            projected = []
            for item in results:
                fast = _project(item, projection_expression)
                projected.append(
                    fast if fast is not None else copy.deepcopy(item).project(projection_expression)
                )
            results = projected
        # No deep copy of the items (moto's defence against later changes): the answer is
        # serialised inside the request, under the table's lock (install), so nothing changes
        # them meanwhile; the copies were a third of a 1 MB page's time.
        return results, scanned_count, last_evaluated_key

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    Table._hdcn_fast_reads = True  # type: ignore[attr-defined]


# Cognito: a disabled user's refresh token is refused. AWS documents that AdminDisableUser
# "deactivates a user and revokes all access tokens for the user. A deactivated user can't sign
# in", and answers a disabled user's InitiateAuth with NotAuthorizedException "User is disabled.".
# moto 5.2 checks `enabled` for the password flows only: REFRESH_TOKEN_AUTH kept handing a disabled
# user new tokens. Our disable also signs the user out globally, and moto's sign-out forgets whose
# token it revoked, so the owner of each revoked token is remembered here to tell "disabled" from
# "revoked" (the console shows a different message for each). tests/unit/test_moto_patches.py.
REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
USER_DISABLED_MESSAGE = "User is disabled."


def install_cognito_refresh_checks() -> None:
    """Refuse a disabled user's refresh; GlobalSignOut without a signature (idempotent)."""
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool

    if getattr(CognitoIdpBackend, "_hdcn_refresh_checks", False):
        return
    original_sign_out = CognitoIdpUserPool.sign_out

    @functools.wraps(original_sign_out)
    def sign_out_remembering_owners(self: Any, username: str) -> None:
        owners: dict[str, str] = self.__dict__.setdefault("_hdcn_revoked_owners", {})
        for token, entry in list(self.refresh_tokens.items()):
            if entry is not None and entry[1] == username:
                owners[token] = username
        original_sign_out(self, username)

    def owner_of(pool: Any, token: str) -> str | None:
        entry = pool.refresh_tokens.get(token)
        if entry is not None:
            return str(entry[1]) if entry[1] else None
        owner = pool.__dict__.get("_hdcn_revoked_owners", {}).get(token)
        return str(owner) if owner else None

    def refuse_disabled(backend: Any, client_id: str, flow: str, params: dict[str, str] | None) -> None:
        if flow not in REFRESH_FLOWS or not params or not params.get("REFRESH_TOKEN"):
            return
        for pool in backend.user_pools.values():
            if client_id not in pool.clients:
                continue
            owner = owner_of(pool, params["REFRESH_TOKEN"])
            user = pool.users.get(owner) if owner else None
            if user is not None and not user.enabled:
                raise NotAuthorizedError(USER_DISABLED_MESSAGE)

    original_initiate = CognitoIdpBackend.initiate_auth
    original_admin_initiate = CognitoIdpBackend.admin_initiate_auth

    @functools.wraps(original_initiate)
    def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> Any:
        refuse_disabled(self, client_id, str(auth_flow), auth_parameters)
        return original_initiate(self, client_id, auth_flow, auth_parameters)

    @functools.wraps(original_admin_initiate)
    def admin_initiate_auth(
        self: Any, user_pool_id: str, client_id: str, auth_flow: str, auth_parameters: dict[str, str]
    ) -> Any:
        refuse_disabled(self, client_id, str(auth_flow), auth_parameters)
        return original_admin_initiate(self, user_pool_id, client_id, auth_flow, auth_parameters)

    # GlobalSignOut is authorized by the access token alone (no SigV4), like InitiateAuth: moto
    # answers it from the region of the request's signature, which an unsigned request does not
    # have (moto then looks in us-east-1 and answers NotAuthorized for every eu-west-1 token). AWS
    # serves it at the pool's regional endpoint; find the pool by the token, as moto's
    # region-agnostic backend already does for GetUser. (In-process mock mode takes the region
    # from the AWS host name, so only a server can show the gap: tests/e2e/test_console_session.py
    # replays a signed-out user's cookie against the local stack.)
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    def global_sign_out(self: Any) -> Any:
        access_token = self._get_param("AccessToken")
        agnostic = self._get_region_agnostic_backend()
        agnostic._find_backend_by_access_token(access_token).global_sign_out(access_token)
        return EmptyResult()

    CognitoIdpResponse.global_sign_out = global_sign_out  # type: ignore[method-assign]
    CognitoIdpUserPool.sign_out = sign_out_remembering_owners  # type: ignore[method-assign]
    CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]
    CognitoIdpBackend.admin_initiate_auth = admin_initiate_auth  # type: ignore[method-assign]
    CognitoIdpBackend._hdcn_refresh_checks = True  # type: ignore[attr-defined]


# Transactions without a deep copy of every table they name. moto backs a TransactWriteItems up by
# `copy.deepcopy` of each whole table it touches, so that a cancelled transaction can be undone:
# under the load benchmark (1,000 members, 20 clients) that copy was 36% of the stack process's
# CPU (py-spy), and it grows with the table. A transaction only changes the items it names, so the
# backup here is a shallow copy of the table whose item map is copied and whose named items are
# deep-copied: a rollback puts back exactly what moto's would. Other deep copies are moto's own.
_transaction = threading.local()


def _storage_key(table: Any, key: dict[str, Any]) -> tuple[Any, Any] | None:
    """The (hash, range) under which moto stores the item with this key, or None if it cannot tell."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    return hash_value, range_value


def _named_keys(
    backend: Any, transact_items: list[dict[str, Any]]
) -> dict[str, list[tuple[Any, Any]]] | None:
    """Per table, the storage keys of the items a transaction names; None when one cannot be read."""
    named: dict[str, list[tuple[Any, Any]]] = {}
    for entry in transact_items:
        if not isinstance(entry, dict) or len(entry) != 1:
            return None
        op_type, op = next(iter(entry.items()))
        if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
            continue  # moto fails it itself, before any change
        table = backend.tables[op["TableName"]]
        source = op.get("Item") if op_type == "Put" else op.get("Key")
        found = _storage_key(table, source) if isinstance(source, dict) else None
        if found is None:
            return None
        named.setdefault(table.name, []).append(found)
    return named


def _backup(table: Any, keys: list[tuple[Any, Any]]) -> Any:
    """A copy of `table` for rollback: its own item map, with deep copies of the named items."""
    import copy
    from collections import defaultdict

    backup = copy.copy(table)
    if table.range_key_attr:
        backup.items = defaultdict(dict, {h: dict(ranges) for h, ranges in table.items.items()})
        for hash_value, range_value in keys:
            if range_value in table.items.get(hash_value, {}):
                backup.items[hash_value][range_value] = copy.deepcopy(table.items[hash_value][range_value])
    else:
        backup.items = defaultdict(dict, table.items)
        for hash_value, _ in keys:
            if hash_value in table.items:
                backup.items[hash_value] = copy.deepcopy(table.items[hash_value])
    return backup


class _CopyModule:
    """`copy` as moto's DynamoDB backend module sees it: a whole table deep-copied during a
    transaction whose items are known becomes `_backup`; everything else is the real module."""

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        named = getattr(_transaction, "named", None)
        if named is not None and isinstance(value, Table) and _fast_reads:
            return _backup(value, named.get(value.name, []))
        return copy.deepcopy(value, memo)


def install_light_transaction_rollback() -> None:
    """Back transactions up by the items they name (see `_backup`) instead of whole tables."""
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_hdcn_light_rollback", False):
        return
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        _transaction.named = _named_keys(self, transact_items)
        try:
            return original(self, transact_items)
        finally:
            _transaction.named = None

    backend_module.copy = _CopyModule()  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    DynamoDBBackend._hdcn_light_rollback = True  # type: ignore[attr-defined]


# moto's server finds the backend of every request by listing the folders of its own package
# (`moto.backends.list_of_moto_modules`: a listdir and an isdir per service, ~6% of the stack
# process's CPU under load). The installed package does not change while the stack runs.
def install_cached_module_list() -> None:
    """List moto's service modules once."""
    from moto import backends

    if getattr(backends, "_hdcn_cached_modules", False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    backends._hdcn_cached_modules = True  # type: ignore[attr-defined]
