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
        with request_locks(self._get_action(), getattr(self, "params", None)):
            return original(self)

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
    install_cognito_refresh_checks()
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
                body = json.dumps(_drop_none(result), separators=(",", ":"), default=_json_default)
            except TypeError:
                return original(self, context)
            version = context.service_model.metadata.get("jsonVersion", "1.0")
            return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    DynamoResult._hdcn_fast = True  # type: ignore[attr-defined]


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
