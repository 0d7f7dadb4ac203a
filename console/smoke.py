"""Step 5 of `hdcn deploy`: the deployed API's authenticated routes, called for real with a smoke user.

The deploy holds AWS credentials but no user's password, so it keeps a user of its own in the
stack's pool (`hdcn-deploy-smoke`, read-only roles). Each run sets a fresh random password
(never stored or printed), enables the user, signs in as the console does (USER_PASSWORD_AUTH),
calls the read-only routes and disables the user again, so the account cannot be used between
deploys. With `--smoke-export` the user may also export, and one export is triggered and
followed to its end.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SMOKE_USER = "hdcn-deploy-smoke"
READ_GROUPS = ("Members_Read", "Regio_All", "System_Logs_Read")
EXPORT_GROUP = "Members_Export"
# Read-only routes that need a token: one per function behind the authorizer.
READ_ROUTES = ("/members?limit=1", "/analytics/exports?limit=1", "/ops/stack")
EXPORT_ROUTES = ("/analytics/jobs?limit=1",)
EXPORT_WAIT_SECONDS = 330.0  # the generator's 300 s timeout, and its queueing

Out = Callable[[str], None]


def _password() -> str:
    """A random password the pool's policy accepts (12+, upper, lower, digit)."""
    return secrets.token_urlsafe(24) + "Aa1"


def smoke_token(idp: Any, pool_id: str, client_id: str, export: bool) -> str:
    """Make (or refresh) the smoke user with a new password and its roles; its ID token."""
    password = _password()
    with contextlib.suppress(idp.exceptions.UsernameExistsException):  # made by an earlier deploy
        idp.admin_create_user(
            UserPoolId=pool_id, Username=SMOKE_USER, MessageAction="SUPPRESS", TemporaryPassword=password
        )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=SMOKE_USER, Password=password, Permanent=True)
    idp.admin_enable_user(UserPoolId=pool_id, Username=SMOKE_USER)
    for group in READ_GROUPS + ((EXPORT_GROUP,) if export else ()):
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=SMOKE_USER, GroupName=group)
    if not export:
        idp.admin_remove_user_from_group(UserPoolId=pool_id, Username=SMOKE_USER, GroupName=EXPORT_GROUP)
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": SMOKE_USER, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def disable_smoke_user(idp: Any, pool_id: str) -> None:
    """The smoke user cannot sign in between deploys."""
    idp.admin_disable_user(UserPoolId=pool_id, Username=SMOKE_USER)


@dataclass
class Call:
    """One HTTP call of the smoke test and what it answered."""

    method: str
    path: str
    status: int
    body: Any


def _call(base: str, method: str, path: str, token: str, body: Any = None, timeout: float = 30.0) -> Call:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)  # noqa: S310
    request.add_header("Authorization", token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - https or loopback
            status, raw = int(resp.status), resp.read()
    except urllib.error.HTTPError as err:
        status, raw = int(err.code), err.read()
    try:
        parsed = json.loads(raw or b"null")
    except ValueError:
        parsed = None
    return Call(method, path, status, parsed)


def run_smoke(api_url: str, token: str, export: bool, out: Out = print) -> bool:
    """Call the read-only routes (and trigger one export with `export`); True if all answered right."""
    ok = True
    for path in READ_ROUTES + (EXPORT_ROUTES if export else ()):
        call = _call(api_url, "GET", path, token)
        good = call.status == 200 and isinstance(call.body, dict)
        ok &= good
        out(f"  {'PASS' if good else 'FAIL'}  GET {path} answered {call.status}")
    if not export:
        out("  (no export triggered: pass --smoke-export to run one)")
        return ok
    started = _call(api_url, "POST", "/analytics/generate-parquet", token, body={})
    if started.status == 409:
        # Someone's export is running: follow that one instead of failing the deploy.
        job_id = str(started.body["error"]["details"]["running_job"]["job_id"])
    elif started.status == 202:
        job_id = str(started.body["job_id"])
    else:
        out(f"  FAIL  POST /analytics/generate-parquet answered {started.status}")
        return False
    deadline = time.monotonic() + EXPORT_WAIT_SECONDS
    state = "queued"
    while state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(2.0)
        job = _call(api_url, "GET", f"/analytics/jobs/{job_id}", token)
        state = str((job.body or {}).get("state")) if job.status == 200 else f"HTTP {job.status}"
    good = state == "succeeded"
    out(f"  {'PASS' if good else 'FAIL'}  export {job_id} ended {state}")
    return ok and good
