"""The deploy health checks of webshop-backend: one library for `GET /ops/health` and `hdcn health`.

Each check reads what AWS answers (CloudFormation, API Gateway, Lambda, ECR, DynamoDB,
CloudWatch, CloudWatch Logs, and the API itself) and returns a `CheckResult`: pass,
fail (with the fix), warn, or not applicable with the reason. A check that cannot
hold against the local stack says so; none fakes a pass.

"Local" is decided from the endpoint the boto3 client really talks to
(`client.meta.endpoint_url`): a loopback host (127.0.0.0/8, ::1, localhost) is the
local AWS emulator (moto), never an AWS region.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from hdcn_common.stack_info import (
    ClientFactory,
    StackResource,
    describe_stack,
    list_resources,
    processed_template,
)

GENERATOR_ID = "GenerateMemberParquetFunction"
GENERATOR_MEMORY_MB = 1024
GENERATOR_TIMEOUT_S = 300
API_ID = "MyApi"
EXPORT_KIND = "member-export"  # the ExportJobs `kind` of member exports (kind-created-index)

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_LISTS = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_INIT_DURATION = re.compile(r"Init Duration:\s*([0-9.]+)\s*ms")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "any"}


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    FAIL = "fail"
    WARN = "warn"
    NOT_APPLICABLE = "not_applicable"


class CheckResult(BaseModel):
    """One check: id, status, what was seen, and the fix when it failed."""

    id: str
    title: str
    status: Status
    detail: str
    fix: str | None = None


class HealthReport(BaseModel):
    """Every check of one run; `ok` is False when any check failed."""

    stack_name: str
    checked_at: str
    local: bool
    ok: bool
    counts: dict[str, int]
    checks: list[CheckResult]


@dataclass
class HealthConfig:
    """What the caller knows that the stack cannot tell: where the API answers, a token, thresholds."""

    stack_name: str = "webshop-backend"
    api_url: str | None = None  # base URL of the API; default: the stack's ApiUrl output
    token: str | None = None  # an ID token for the authenticated read
    authenticated_path: str = "/ops/stack"
    max_export_age_hours: float = 7 * 24
    cold_start_threshold_ms: float = 5000.0
    cold_start_window_hours: float = 24.0
    http_timeout_s: float = 10.0


def is_loopback_url(url: str | None) -> bool:
    """True if the URL's host is this machine (the local AWS emulator or the local gateway)."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class _Context:
    """What several checks share, read once per run."""

    clients: ClientFactory
    config: HealthConfig
    stack: dict[str, Any] | None = None
    stack_error: str | None = None
    resources: list[StackResource] = field(default_factory=list)
    template: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str | None:
        url: str | None = self.clients("cloudformation").meta.endpoint_url
        return url

    @property
    def local(self) -> bool:
        return is_loopback_url(self.endpoint)

    @property
    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in (self.stack or {}).get("Outputs", [])}

    @property
    def parameters(self) -> dict[str, str]:
        return {
            p["ParameterKey"]: p.get("ParameterValue", "") for p in (self.stack or {}).get("Parameters", [])
        }

    def physical(self, logical_id: str) -> str | None:
        return next((r.physical_id for r in self.resources if r.logical_id == logical_id), None)

    def local_reason(self, what: str, endpoint: str | None = None) -> str:
        """Why a check cannot hold here, naming the loopback endpoint it would have asked."""
        where = endpoint or self.endpoint
        return f"not applicable on the local stack (AWS endpoint {where} is loopback: moto): {what}"


def _aws_error(err: Exception) -> str:
    """The error code only: AWS error text is never passed on."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", "ClientError"))
    return type(err).__name__


# ---------------------------------------------------------------- checks


def check_stack_status(ctx: _Context) -> CheckResult:
    """The stack is in a *_COMPLETE state, not in progress, not rolled back."""
    title = "stack is complete"
    name = ctx.config.stack_name
    if ctx.stack is None:
        return CheckResult(
            id="stack_status",
            title=title,
            status=Status.FAIL,
            detail=f"stack {name} cannot be read ({ctx.stack_error})",
            fix=f"check the stack name and region, and that it exists: `hdcn deploy` creates {name}",
        )
    status = str(ctx.stack["StackStatus"])
    reason = ctx.stack.get("StackStatusReason") or ""
    detail = f"{name} is {status}" + (f": {reason}" if reason else "")
    if status.endswith("_IN_PROGRESS"):
        return CheckResult(
            id="stack_status",
            title=title,
            status=Status.FAIL,
            detail=detail,
            fix="wait for the operation to finish (`hdcn status`), then run the checks again",
        )
    if "ROLLBACK" in status or status.endswith("_FAILED"):
        return CheckResult(
            id="stack_status",
            title=title,
            status=Status.FAIL,
            detail=detail,
            fix="read the failed events in `GET /ops/stack` (or `hdcn status`), fix the cause, "
            "then `hdcn deploy`; a ROLLBACK_COMPLETE stack must be deleted before it can be created again",
        )
    if not status.endswith("_COMPLETE"):
        return CheckResult(
            id="stack_status", title=title, status=Status.FAIL, detail=detail, fix="see events"
        )
    return CheckResult(id="stack_status", title=title, status=Status.PASS, detail=detail)


def _exists(ctx: _Context, res: StackResource) -> bool | None:
    """Whether a resource still exists outside CloudFormation's record (None: not probed)."""
    if not res.physical_id:
        return None
    try:
        if res.type == "AWS::Lambda::Function":
            ctx.clients("lambda").get_function(FunctionName=res.physical_id)
        elif res.type == "AWS::ApiGateway::RestApi":
            ctx.clients("apigateway").get_rest_api(restApiId=res.physical_id)
        else:
            return None
    except ClientError as err:
        if _aws_error(err) in ("ResourceNotFoundException", "NotFoundException"):
            return False
        raise
    return True


def check_stack_resources(ctx: _Context) -> CheckResult:
    """Every resource of the deployed template is in the stack, healthy, and (functions, API) exists."""
    title = "every template resource present and healthy"
    declared = ctx.template.get("Resources", {})
    have = {r.logical_id: r for r in ctx.resources}
    # A resource under a Condition may rightly be absent (e.g. no alarm topic given).
    missing = sorted(lid for lid, r in declared.items() if lid not in have and "Condition" not in r)
    unhealthy = sorted(
        f"{r.logical_id} ({r.status})"
        for r in ctx.resources
        if not r.status.endswith("_COMPLETE") or "ROLLBACK" in r.status or r.status.startswith("DELETE")
    )
    gone = sorted(
        f"{r.logical_id} ({r.type} {r.physical_id})" for r in ctx.resources if _exists(ctx, r) is False
    )
    problems: list[str] = []
    fixes: list[str] = []
    if missing:
        problems.append(f"missing from the stack: {', '.join(missing)}")
        fixes.append("run `hdcn deploy` so CloudFormation creates the missing resources")
    if unhealthy:
        problems.append(f"not healthy: {', '.join(unhealthy)}")
        fixes.append("read their events in `GET /ops/stack` and redeploy with `hdcn deploy`")
    if gone:
        problems.append(f"deleted outside CloudFormation: {', '.join(gone)}")
        fixes.append(
            "CloudFormation still lists it and an unchanged deploy will not recreate it: "
            "give the resource a new logical id (or a replacing property change) in template.yaml and "
            "run `hdcn deploy`, or delete and recreate the stack; confirm with "
            f"`aws cloudformation detect-stack-drift --stack-name {ctx.config.stack_name}`"
        )
    if problems:
        return CheckResult(
            id="stack_resources",
            title=title,
            status=Status.FAIL,
            detail="; ".join(problems),
            fix="; ".join(fixes),
        )
    return CheckResult(
        id="stack_resources",
        title=title,
        status=Status.PASS,
        detail=f"{len(ctx.resources)} resources, all *_COMPLETE; functions and REST API exist",
    )


def template_routes(template: dict[str, Any], api_id: str = API_ID) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the processed template's REST API body."""
    body = template.get("Resources", {}).get(api_id, {}).get("Properties", {}).get("Body") or {}
    return {
        (method.upper(), path)
        for path, ops in (body.get("paths") or {}).items()
        for method in (ops or {})
        if method.lower() in _HTTP_METHODS
    }


def deployed_routes(apigw: Any, rest_api_id: str) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """(METHOD, path) of every deployed method, and resource ids by path."""
    routes: set[tuple[str, str]] = set()
    ids: dict[str, str] = {}
    for page in apigw.get_paginator("get_resources").paginate(restApiId=rest_api_id):
        for item in page.get("items", []):
            ids[item["path"]] = item["id"]
            routes.update((m.upper(), item["path"]) for m in item.get("resourceMethods", {}) or {})
    return routes, ids


def check_api_routes(ctx: _Context) -> CheckResult:
    """The deployed REST API has exactly the template's routes: nothing added by hand, nothing lost."""
    title = "API Gateway matches the template"
    rest_api_id = ctx.physical(API_ID)
    if not rest_api_id:
        return CheckResult(
            id="api_routes",
            title=title,
            status=Status.FAIL,
            detail=f"the stack has no {API_ID} REST API",
            fix="run `hdcn deploy`",
        )
    expected = template_routes(ctx.template)
    try:
        actual, ids = deployed_routes(ctx.clients("apigateway"), rest_api_id)
    except ClientError as err:
        return CheckResult(
            id="api_routes",
            title=title,
            status=Status.FAIL,
            detail=f"REST API {rest_api_id} cannot be read ({_aws_error(err)})",
            fix="see the stack_resources check; redeploy with `hdcn deploy`",
        )
    extra = sorted(actual - expected, key=lambda r: (r[1], r[0]))
    lost = sorted(expected - actual, key=lambda r: (r[1], r[0]))
    template_paths = {p for _, p in expected}
    # A resource with no methods that no template route lies under was also added by hand.
    stray = sorted(
        p for p in ids if p != "/" and not any(t == p or t.startswith(p + "/") for t in template_paths)
    )
    stray = [p for p in stray if not any(p == path for _, path in extra)]
    if not (extra or lost or stray):
        return CheckResult(
            id="api_routes",
            title=title,
            status=Status.PASS,
            detail=f"REST API {rest_api_id}: the template's {len(expected)} routes, nothing else",
        )
    problems: list[str] = []
    fixes: list[str] = []
    if extra or stray:
        named = [f"{m} {p} (resource {ids.get(p, '?')})" for m, p in extra] + [
            f"{p} (resource {ids[p]})" for p in stray
        ]
        problems.append(f"conflict: not in the template, added by hand: {', '.join(named)}")
        first = ids.get(extra[0][1] if extra else stray[0], "<resource-id>")
        fixes.append(
            f"delete it (`aws apigateway delete-resource --rest-api-id {rest_api_id} --resource-id {first}`) "
            "and add the route to template.yaml as a SAM Api event on MyApi if it is wanted"
        )
    if lost:
        problems.append(
            f"template routes missing from the deployed API: {', '.join(f'{m} {p}' for m, p in lost)}"
        )
        fixes.append("redeploy with `hdcn deploy` so API Gateway gets the template's routes")
    return CheckResult(
        id="api_routes", title=title, status=Status.FAIL, detail="; ".join(problems), fix="; ".join(fixes)
    )


def check_functions_active(ctx: _Context) -> CheckResult:
    """Every function is Active and its last update Successful."""
    title = "functions active, last update successful"
    lam = ctx.clients("lambda")
    bad: list[str] = []
    names = [r for r in ctx.resources if r.type == "AWS::Lambda::Function" and r.physical_id]
    for res in names:
        try:
            cfg = lam.get_function_configuration(FunctionName=res.physical_id)
        except ClientError as err:
            bad.append(f"{res.logical_id} ({_aws_error(err)})")
            continue
        state, update = cfg.get("State", "?"), cfg.get("LastUpdateStatus", "?")
        if state != "Active" or update != "Successful":
            bad.append(f"{res.logical_id} (State {state}, LastUpdateStatus {update})")
    if bad:
        return CheckResult(
            id="functions_active",
            title=title,
            status=Status.FAIL,
            detail=f"not ready: {', '.join(bad)}",
            fix="a Pending/InProgress function settles within minutes; a Failed one names its reason in "
            "`aws lambda get-function-configuration` (StateReason); fix it and `hdcn deploy`",
        )
    return CheckResult(
        id="functions_active",
        title=title,
        status=Status.PASS,
        detail=f"{len(names)} functions Active, last update Successful",
    )


def _generator(ctx: _Context) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """The generator's physical name, its get_function answer, or why there is none."""
    name = ctx.physical(GENERATOR_ID)
    if not name:
        return None, None, f"the stack has no {GENERATOR_ID}"
    try:
        return name, ctx.clients("lambda").get_function(FunctionName=name), None
    except ClientError as err:
        return name, None, f"{GENERATOR_ID} ({name}) cannot be read ({_aws_error(err)})"


def check_generator_config(ctx: _Context) -> CheckResult:
    """The generator is an image function with 1024 MB and 300 s."""
    title = "generator: image function, 1024 MB, 300 s"
    _, fn, why = _generator(ctx)
    if fn is None:
        return CheckResult(
            id="generator_config", title=title, status=Status.FAIL, detail=str(why), fix="`hdcn deploy`"
        )
    cfg = fn["Configuration"]
    seen = (cfg.get("PackageType"), cfg.get("MemorySize"), cfg.get("Timeout"))
    detail = f"PackageType {seen[0]}, MemorySize {seen[1]} MB, Timeout {seen[2]} s"
    if seen != ("Image", GENERATOR_MEMORY_MB, GENERATOR_TIMEOUT_S):
        return CheckResult(
            id="generator_config",
            title=title,
            status=Status.FAIL,
            detail=detail,
            fix=f"{GENERATOR_ID} in template.yaml must say PackageType: Image, MemorySize: 1024, "
            "Timeout: 300; `hdcn deploy` to apply it (a setting changed by hand is overwritten on deploy)",
        )
    return CheckResult(id="generator_config", title=title, status=Status.PASS, detail=detail)


def _split_image_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of `<registry>/<repo>:<tag>` or `<registry>/<repo>@sha256:...`."""
    path = uri.split("/", 1)[1] if "/" in uri else uri
    if "@" in path:
        repo, digest = path.split("@", 1)
        return repo, None, digest
    repo, _, tag = path.rpartition(":")
    return (repo, tag, None) if repo else (path, None, None)


def check_generator_image_tag(ctx: _Context) -> CheckResult:
    """The deployed image tag is the template's GeneratorImageTag parameter."""
    title = "generator: deployed image tag is GeneratorImageTag"
    _, fn, why = _generator(ctx)
    if fn is None:
        return CheckResult(
            id="generator_image_tag", title=title, status=Status.FAIL, detail=str(why), fix="`hdcn deploy`"
        )
    uri = str(fn.get("Code", {}).get("ImageUri", ""))
    _, tag, _ = _split_image_uri(uri)
    wanted = ctx.parameters.get("GeneratorImageTag")
    detail = f"function runs {uri or '(no image)'}; stack parameter GeneratorImageTag={wanted}"
    if not uri or tag != wanted:
        return CheckResult(
            id="generator_image_tag",
            title=title,
            status=Status.FAIL,
            detail=detail,
            fix="the function was changed outside the stack or the deploy did not finish: `hdcn deploy` "
            "(it passes GeneratorImageTag=<content hash> to sam deploy)",
        )
    return CheckResult(id="generator_image_tag", title=title, status=Status.PASS, detail=detail)


def manifest_verdict(media_type: str | None) -> tuple[Status, str | None]:
    """Whether Lambda will take an image with this manifest media type, and the fix if not."""
    if media_type == DOCKER_V2:
        return Status.PASS, None
    fix = (
        "rebuild with the legacy builder (`DOCKER_BUILDKIT=0 docker build ...`) or BuildKit with "
        "`--provenance=false` so ECR stores a Docker v2 manifest, push, and `hdcn deploy`"
    )
    if media_type in MANIFEST_LISTS:
        return Status.FAIL, fix
    if media_type == OCI_MANIFEST:
        return Status.PASS, None  # Lambda takes a single OCI image manifest as well
    return Status.FAIL, fix


def check_generator_image_manifest(ctx: _Context) -> CheckResult:
    """The generator's image in ECR is one image manifest (Lambda refuses an index or manifest list)."""
    title = "generator: image in ECR is a single Docker v2 or OCI image manifest"
    ecr = ctx.clients("ecr")
    if is_loopback_url(ecr.meta.endpoint_url):
        return CheckResult(
            id="generator_image_manifest",
            title=title,
            status=Status.NOT_APPLICABLE,
            detail=ctx.local_reason(
                "no image is pushed to the local ECR; the local runtime runs the generator's code without "
                "a container",
                ecr.meta.endpoint_url,
            ),
        )
    _, fn, why = _generator(ctx)
    if fn is None:
        return CheckResult(
            id="generator_image_manifest",
            title=title,
            status=Status.FAIL,
            detail=str(why),
            fix="`hdcn deploy`",
        )
    uri = str(fn.get("Code", {}).get("ImageUri", ""))
    repo, tag, digest = _split_image_uri(uri)
    image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
    try:
        images = ecr.describe_images(repositoryName=repo, imageIds=[image_id])["imageDetails"]
    except ClientError as err:
        return CheckResult(
            id="generator_image_manifest",
            title=title,
            status=Status.FAIL,
            detail=f"image {uri} not readable in ECR ({_aws_error(err)})",
            fix="push the image (`hdcn image push`) and `hdcn deploy`",
        )
    media = images[0].get("imageManifestMediaType") if images else None
    status, fix = manifest_verdict(media)
    return CheckResult(
        id="generator_image_manifest",
        title=title,
        status=status,
        detail=f"{repo}:{tag or digest} has manifest {media}",
        fix=fix,
    )


def check_api_account_logging_role(ctx: _Context) -> CheckResult:
    """MyApi's access logs have the account's API Gateway CloudWatch role they need."""
    title = "API Gateway account has the CloudWatch role access logs need"
    logging_on = ctx.parameters.get("ApiAccessLogging", "off") == "on"
    role = ctx.clients("apigateway").get_account().get("cloudwatchRoleArn")
    wanted = "ApiAccessLogging=on" if logging_on else "ApiAccessLogging=off (no access logs)"
    if role:
        return CheckResult(
            id="api_account_role", title=title, status=Status.PASS, detail=f"{wanted}; the role is set"
        )
    if logging_on:
        return CheckResult(
            id="api_account_role",
            title=title,
            status=Status.FAIL,
            detail=f"{wanted}, but `apigateway get-account` has no cloudwatchRoleArn: the stage cannot log",
            fix="create a role API Gateway may assume with AmazonAPIGatewayPushToCloudWatchLogs and set it "
            "(`aws apigateway update-account --patch-operations "
            "op=replace,path=/cloudwatchRoleArn,value=<role-arn>`), or deploy with ApiAccessLogging=off",
        )
    return CheckResult(
        id="api_account_role",
        title=title,
        status=Status.PASS,
        detail=f"{wanted}; the account has no CloudWatch role, and nothing needs one",
    )


def _http_get(url: str, token: str | None, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - https or the loopback gateway only
    if token:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - see above
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def _api_base(ctx: _Context) -> tuple[str | None, str]:
    """The API base URL to call and where it came from."""
    if ctx.config.api_url:
        return ctx.config.api_url.rstrip("/"), "given"
    url = ctx.outputs.get("ApiUrl")
    return (url.rstrip("/"), "the stack's ApiUrl output") if url else (None, "")


def _resolves(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


def _endpoint_check(ctx: _Context, check_id: str, title: str, path: str, token: str | None) -> CheckResult:
    base, source = _api_base(ctx)
    if base is None:
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail="no API URL: the stack has no ApiUrl output",
            fix="`hdcn deploy`",
        )
    if urlsplit(base).scheme not in ("https", "http") or (
        urlsplit(base).scheme == "http" and not is_loopback_url(base)
    ):
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail=f"refusing to call {base}: not https",
            fix="give an https API URL",
        )
    if not _resolves(base):
        if ctx.local:
            return CheckResult(
                id=check_id,
                title=title,
                status=Status.NOT_APPLICABLE,
                detail=ctx.local_reason(
                    f"{source} {base} is an execute-api URL that does not resolve here; give the local "
                    "gateway URL (`hdcn health --api-url`, or HDCN_API_URL)"
                ),
            )
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail=f"{base} ({source}) does not resolve",
            fix="check DNS and the stack's ApiUrl output",
        )
    url = base + path
    try:
        status, body = _http_get(url, token, ctx.config.http_timeout_s)
    except (OSError, ValueError) as err:
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail=f"GET {url}: {type(err).__name__}",
            fix="check that the API is deployed and reachable (`hdcn status`)",
        )
    if status != 200:
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail=f"GET {url} answered {status}",
            fix="read the function's logs for the request; a 401/403 means the token lacks an ops role",
        )
    try:
        json.loads(body or b"null")
    except ValueError:
        return CheckResult(
            id=check_id,
            title=title,
            status=Status.FAIL,
            detail=f"GET {url} answered 200 with no JSON body",
            fix="check that the URL is the API's stage URL",
        )
    return CheckResult(
        id=check_id, title=title, status=Status.PASS, detail=f"GET {url} answered 200 ({source})"
    )


def check_endpoint_health(ctx: _Context) -> CheckResult:
    """`/health` answers 200 through the API."""
    return _endpoint_check(ctx, "endpoint_health", "GET /health answers", "/health", None)


def check_endpoint_authenticated(ctx: _Context) -> CheckResult:
    """An authenticated read answers 200 with the given ID token."""
    path = ctx.config.authenticated_path
    title = f"authenticated GET {path} answers"
    if not ctx.config.token:
        return CheckResult(
            id="endpoint_authenticated",
            title=title,
            status=Status.NOT_APPLICABLE,
            detail="no ID token given (`hdcn health --token` or `--user`); "
            "the checker holds no user credentials",
        )
    return _endpoint_check(ctx, "endpoint_authenticated", title, path, ctx.config.token)


def check_latest_export(ctx: _Context, now: float | None = None) -> CheckResult:
    """The newest succeeded member export is younger than the configured age."""
    limit_h = ctx.config.max_export_age_hours
    title = f"latest export younger than {limit_h:g} h"
    table = ctx.outputs.get("ExportJobsTableName") or ctx.physical("ExportJobsTable")
    if not table:
        return CheckResult(
            id="latest_export",
            title=title,
            status=Status.FAIL,
            detail="the stack has no ExportJobs table",
            fix="`hdcn deploy`",
        )
    ddb = ctx.clients("dynamodb")
    newest: str | None = None
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": "kind-created-index",
        "KeyConditionExpression": "#k = :kind",
        "ExpressionAttributeNames": {"#k": "kind", "#s": "state"},
        "ExpressionAttributeValues": {":kind": {"S": EXPORT_KIND}, ":ok": {"S": "succeeded"}},
        "FilterExpression": "#s = :ok",
        "ScanIndexForward": False,
        "ProjectionExpression": "job_id, created_at, finished_at, #s",
    }
    while newest is None:
        page = ddb.query(**kwargs)
        for item in page.get("Items", []):
            newest = item.get("finished_at", item.get("created_at", {})).get("S")
            break
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if newest is None:
        return CheckResult(
            id="latest_export",
            title=title,
            status=Status.WARN,
            detail="no member export has succeeded yet",
            fix="start one (console, or POST /analytics/generate-parquet) if this stack should have one",
        )
    finished = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    age_h = ((now or time.time()) - finished.timestamp()) / 3600
    detail = f"newest succeeded export finished {newest} ({age_h:.1f} h ago)"
    if age_h > limit_h:
        return CheckResult(
            id="latest_export",
            title=title,
            status=Status.FAIL,
            detail=detail,
            fix="start an export (POST /analytics/generate-parquet) and read its job's error if it fails",
        )
    return CheckResult(id="latest_export", title=title, status=Status.PASS, detail=detail)


def check_alarms(ctx: _Context) -> CheckResult:
    """No CloudWatch alarm of the stack is in ALARM."""
    title = "no stack alarm in ALARM"
    names = [r.physical_id for r in ctx.resources if r.type == "AWS::CloudWatch::Alarm" and r.physical_id]
    if not names:
        return CheckResult(
            id="alarms",
            title=title,
            status=Status.WARN,
            detail="the stack has no CloudWatch alarms",
            fix="deploy the template's alarms (`hdcn deploy`)",
        )
    cw = ctx.clients("cloudwatch")
    alarms: list[dict[str, Any]] = []
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNames=names[start : start + 100]):
            alarms.extend(page.get("MetricAlarms", []))
    firing = sorted(a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM")
    states = {str(a["AlarmName"]): str(a.get("StateValue", "")) for a in alarms}
    if firing:
        return CheckResult(
            id="alarms",
            title=title,
            status=Status.FAIL,
            detail=f"in ALARM: {', '.join(firing)}",
            fix="read the alarm's metric and the function's logs (`GET /ops/stack`, CloudWatch); "
            "fix the cause before trusting this deploy",
        )
    absent = sorted(set(names) - set(states))
    if absent:
        return CheckResult(
            id="alarms",
            title=title,
            status=Status.FAIL,
            detail=f"alarms of the stack not found: {', '.join(absent)}",
            fix="`hdcn deploy` recreates them",
        )
    summary = ", ".join(
        f"{s}: {sum(1 for v in states.values() if v == s)}" for s in sorted(set(states.values()))
    )
    return CheckResult(
        id="alarms", title=title, status=Status.PASS, detail=f"{len(names)} alarms, none in ALARM ({summary})"
    )


def init_durations(messages: list[str]) -> list[float]:
    """Init durations (ms) from Lambda REPORT lines."""
    found: list[float] = []
    for message in messages:
        if message.startswith("REPORT"):
            m = _INIT_DURATION.search(message)
            if m:
                found.append(float(m.group(1)))
    return found


def check_cold_starts(ctx: _Context, now: float | None = None) -> CheckResult:
    """Recent init durations of the generator (its log REPORT lines) against a threshold."""
    limit = ctx.config.cold_start_threshold_ms
    window = ctx.config.cold_start_window_hours
    title = f"generator cold starts under {limit:g} ms"
    # The local runtime writes Lambda's REPORT lines too (each local Event invocation is a cold
    # start in a new process), so this check reads the log group on the local stack as well.
    logs = ctx.clients("logs")
    name = ctx.physical(GENERATOR_ID)
    if not name:
        return CheckResult(
            id="cold_starts",
            title=title,
            status=Status.FAIL,
            detail=f"the stack has no {GENERATOR_ID}",
            fix="`hdcn deploy`",
        )
    start = int(((now or time.time()) - window * 3600) * 1000)
    messages: list[str] = []
    try:
        paginator = logs.get_paginator("filter_log_events")
        for page in paginator.paginate(
            logGroupName=f"/aws/lambda/{name}", startTime=start, filterPattern='"Init Duration"'
        ):
            messages.extend(e.get("message", "") for e in page.get("events", []))
    except ClientError as err:
        if _aws_error(err) == "ResourceNotFoundException":
            messages = []
        else:
            raise
    durations = init_durations(messages)
    if not durations:
        return CheckResult(
            id="cold_starts",
            title=title,
            status=Status.NOT_APPLICABLE,
            detail=f"no generator cold start in the last {window:g} h: nothing to measure",
        )
    worst = max(durations)
    mean = sum(durations) / len(durations)
    detail = f"{len(durations)} cold starts in {window:g} h, worst {worst:.0f} ms, mean {mean:.0f} ms"
    if worst > limit:
        return CheckResult(
            id="cold_starts",
            title=title,
            status=Status.WARN,
            detail=detail,
            fix="keep the image small (no build tools, one pyarrow), import lazily, or raise the threshold",
        )
    return CheckResult(id="cold_starts", title=title, status=Status.PASS, detail=detail)


CHECKS: list[Callable[[_Context], CheckResult]] = [
    check_stack_status,
    check_stack_resources,
    check_api_routes,
    check_api_account_logging_role,
    check_functions_active,
    check_generator_config,
    check_generator_image_tag,
    check_generator_image_manifest,
    check_endpoint_health,
    check_endpoint_authenticated,
    check_latest_export,
    check_alarms,
    check_cold_starts,
]
_NEEDS_STACK = set(CHECKS) - {check_stack_status}


def _crashed(check: Callable[[_Context], CheckResult], err: Exception) -> CheckResult:
    name = check.__name__.removeprefix("check_")
    return CheckResult(
        id=name,
        title=(check.__doc__ or name).strip().splitlines()[0],
        status=Status.FAIL,
        detail=f"could not be checked: {_aws_error(err)}",
        fix="check the checker's permissions (the OpsFunction role, or your AWS credentials) and retry",
    )


ENDPOINT_CHECKS = (check_endpoint_health, check_endpoint_authenticated)


def run_checks(
    clients: ClientFactory,
    config: HealthConfig | None = None,
    checks: list[Callable[[_Context], CheckResult]] | None = None,
) -> HealthReport:
    """Run the checks (default: all) against the stack; read errors become failed checks."""
    cfg = config or HealthConfig()
    ctx = _Context(clients=clients, config=cfg)
    cfn = clients("cloudformation")
    try:
        ctx.stack = describe_stack(cfn, cfg.stack_name)
        ctx.resources = list_resources(cfn, cfg.stack_name)
        ctx.template = processed_template(cfn, cfg.stack_name)
    except (ClientError, BotoCoreError, ValueError) as err:
        ctx.stack_error = _aws_error(err)
    results: list[CheckResult] = []
    for check in CHECKS if checks is None else checks:
        if ctx.stack is None and check in _NEEDS_STACK:
            continue
        try:
            results.append(check(ctx))
        except (ClientError, BotoCoreError) as err:
            results.append(_crashed(check, err))
    counts = {s.value: sum(1 for r in results if r.status == s) for s in Status}
    return HealthReport(
        stack_name=cfg.stack_name,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        local=ctx.local,
        ok=counts[Status.FAIL.value] == 0,
        counts=counts,
        checks=results,
    )
