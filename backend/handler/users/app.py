"""UsersFunction: the console's user management (GET/POST /users, changes under /users/{username}).

For `System_User_Management` and `System_CRUD` only. Every change is written to the access log
before it is made (who, what, when; never a password), and a change of groups or a disable
signs the user out everywhere. The guards are in `hdcn_common.users`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hdcn_common.api import Conflict, Forbidden, create_resolver, error_response, require_caller
from hdcn_common.audit import AuditLog
from hdcn_common.auth import Caller
from hdcn_common.settings import client, settings, table
from hdcn_common.users import (
    ChangeResult,
    GroupsChange,
    Invite,
    UserDirectory,
    UserExists,
    UserNotFound,
    UserPage,
    UserRuleBroken,
    UserView,
    check_groups,
    guard_self_and_last_admin,
    may_manage_users,
)

logger = Logger()
metrics = Metrics()
app = create_resolver()

UsernamePath = Annotated[str, Path(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]


@app.exception_handler(UserRuleBroken)
def _refused(err: UserRuleBroken) -> Response[str]:
    return error_response(403, "forbidden", err.reason)


@app.exception_handler(UserNotFound)
def _missing(_: UserNotFound) -> Response[str]:
    return error_response(404, "not_found", "no such user")


def _directory() -> UserDirectory:
    # The local stack shows a new temporary password once; on AWS Cognito emails it.
    show = os.environ.get("USER_INVITE_DELIVERY", "EMAIL") == "SHOW"
    return UserDirectory(client("cognito-idp"), settings().user_pool_id, show_temporary_password=show)


def _audit() -> AuditLog:
    return AuditLog(table(settings().audit_table))


def _manager() -> Caller:
    caller = require_caller(app)
    if not may_manage_users(caller):
        raise Forbidden("managing users needs System_User_Management or System_CRUD")
    return caller


@app.get("/users")
def list_users(q: Annotated[str | None, Query(min_length=1, max_length=100)] = None) -> UserPage:
    """Every user with their groups and status; `q` searches username, name and email."""
    _manager()
    return UserPage(users=_directory().search(q.strip() if q else None))


@app.post("/users", status_code=201)
def invite_user(invite: Invite) -> ChangeResult:
    """Invite a user with their groups; Cognito emails the temporary password (locally it is shown once)."""
    caller = _manager()
    check_groups(caller, set(), set(invite.groups))
    _audit().record(caller.username, "user.invite", invite.username, groups=sorted(set(invite.groups)))
    try:
        view, password = _directory().invite(invite)
    except UserExists:
        raise Conflict("that username or email is already in use", code="duplicate") from None
    logger.info("user invited", extra={"target_user": invite.username})
    return ChangeResult(user=view, temporary_password=password)


@app.get("/users/<username>")
def get_user(username: UsernamePath) -> UserView:
    _manager()
    return _directory().get(username)


@app.put("/users/<username>/groups")
def change_groups(username: UsernamePath, change: GroupsChange) -> ChangeResult:
    """Set the user's groups (a permission group needs a region group to read members: see `warnings`)."""
    caller = _manager()
    directory = _directory()
    target = directory.get(username)
    before, after = set(target.groups), set(change.groups)
    check_groups(caller, before, after)
    if "System_CRUD" in before - after:
        guard_self_and_last_admin(caller, target, directory, "demote")
    if username == caller.username and before != after:
        raise UserRuleBroken("you may not change your own groups")
    _audit().record(
        caller.username, "user.groups", username, added=sorted(after - before), removed=sorted(before - after)
    )
    directory.set_groups(username, before, after)
    return ChangeResult(user=directory.get(username))


@app.post("/users/<username>/disable")
def disable_user(username: UsernamePath) -> ChangeResult:
    caller = _manager()
    directory = _directory()
    target = directory.get(username)
    guard_self_and_last_admin(caller, target, directory, "disable")
    _audit().record(caller.username, "user.disable", username)
    directory.disable(username)
    return ChangeResult(user=directory.get(username))


@app.post("/users/<username>/enable")
def enable_user(username: UsernamePath) -> ChangeResult:
    caller = _manager()
    directory = _directory()
    directory.get(username)
    _audit().record(caller.username, "user.enable", username)
    directory.enable(username)
    return ChangeResult(user=directory.get(username))


@app.post("/users/<username>/reset-password")
def reset_password(username: UsernamePath) -> ChangeResult:
    """A new temporary password; the user chooses their own at the next sign-in."""
    caller = _manager()
    directory = _directory()
    target = directory.get(username)
    if target.username == caller.username:
        raise UserRuleBroken("you may not reset your own password here; ask another administrator")
    _audit().record(caller.username, "user.reset_password", username)
    password = directory.reset_password(username, target.email)
    return ChangeResult(user=directory.get(username), temporary_password=password)


@app.delete("/users/<username>", responses={204: {"description": "Removed"}})
def remove_user(username: UsernamePath) -> Response[None]:
    caller = _manager()
    directory = _directory()
    target = directory.get(username)
    guard_self_and_last_admin(caller, target, directory, "remove")
    _audit().record(caller.username, "user.remove", username, groups=target.groups)
    directory.remove(username)
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
