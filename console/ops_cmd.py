"""`hdcn health`, `hdcn status` and `hdcn deploy`: the operator's view of the stack and its deploy pipeline.

`hdcn health` runs the same checks as `GET /ops/health` (`hdcn_common.health_checks`)
and exits 1 if any fails, for use after a deploy. Target: the running local stack
(`--local`, the default when `.hdcn/local-stack.json` exists and AWS_ENDPOINT_URL is
unset) or AWS with the caller's credentials (`--aws`).

`hdcn deploy` is the five-step pipeline: (1) refuse a stack in progress or failed,
(2) cfn-lint the template, (3) build and push the generator image only when its inputs
changed (`console.image_cmd`, tag = content hash), (4) build the layer for Lambda's platform
with pip, `sam deploy --no-execute-changeset` with `samconfig.toml`, `GeneratorImageTag=<hash>`
and `GeneratorImageRepository=<repository>`, then review the change set and execute it only if
it neither removes nor replaces a table, the bucket or the user pool, (5) the health checks and
the authenticated read-only routes with a smoke user's token (and, with `--smoke-export`, an
export); non-zero exit if any step fails. `--dry-run` prints every command and, with AWS
credentials, creates the change set and shows the same review without executing it.
It never runs git. aws-sam-cli pins an older
boto3, so `sam` comes from its own environment: `HDCN_SAM_CLI` names the executable
(for example `pipx install aws-sam-cli` → `~/.local/bin/sam`, or
`python -m venv ~/.venvs/sam && ~/.venvs/sam/bin/pip install aws-sam-cli` →
`~/.venvs/sam/bin/sam`); default `sam` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.local.template import REPO_ROOT, load_template
from console import change_set, image_cmd, smoke

sys.path.insert(0, str(REPO_ROOT / "backend" / "layer"))  # hdcn_common, as the Lambda layer provides it

from hdcn_common.health_checks import HealthConfig, HealthReport, Status, run_checks
from hdcn_common.stack_info import ClientFactory, describe_stack, list_resources

DEFAULT_STACK = "webshop-backend"
DEFAULT_REGION = "eu-west-1"
SAMCONFIG = "samconfig.toml"
LOCAL_USER = "ops"  # demo user whose token makes the authenticated read on the local stack

Out = Callable[[str], None]


# ---------------------------------------------------------------- targets


@dataclass
class Target:
    """Where the checks run: clients, the API URL and a token."""

    name: str
    clients: ClientFactory
    api_url: str | None
    token: str | None


def _use_local(args: argparse.Namespace) -> bool:
    if getattr(args, "aws", False):
        return False
    if getattr(args, "local", False):
        return True
    state = Path(args.state_dir) / "local-stack.json"
    return state.exists() and not os.environ.get("AWS_ENDPOINT_URL")


def _local_token(state: dict[str, Any], user: str) -> str:
    """An ID token of a demo user of the local pool (as `hdcn token` gets it)."""
    from backend.local.deploy import aws_client

    idp = aws_client("cognito-idp", state["aws_endpoint"])
    result = idp.initiate_auth(
        ClientId=state["outputs"]["UserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": state["demo_password"]},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def resolve_target(args: argparse.Namespace) -> Target:
    """The local stack (from its state file) or AWS (the caller's credentials and region)."""
    api_url = getattr(args, "api_url", None) or os.environ.get("HDCN_API_URL")
    token = getattr(args, "token", None) or os.environ.get("HDCN_TOKEN")
    if _use_local(args):
        from backend.local.deploy import aws_client
        from backend.local.up import read_state

        state = read_state(Path(args.state_dir))
        endpoint = state["aws_endpoint"]
        if token is None and getattr(args, "user", None) != "":
            token = _local_token(state, getattr(args, "user", None) or LOCAL_USER)
        return Target(
            name=f"local stack (AWS endpoint {endpoint})",
            clients=lambda service: aws_client(service, endpoint),
            api_url=api_url or state["api_url"],
            token=token,
        )
    import boto3

    session = boto3.session.Session(region_name=args.region)
    cache: dict[str, Any] = {}

    def clients(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service)
        return cache[service]

    return Target(name=f"AWS {session.region_name}", clients=clients, api_url=api_url, token=token)


# ---------------------------------------------------------------- health


def format_report(report: HealthReport, target: str) -> list[str]:
    """Human-readable lines: one per check, the fix under each failure, and a summary."""
    marks = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARN: "WARN", Status.NOT_APPLICABLE: "N/A "}
    lines = [f"health of {report.stack_name} on {target} at {report.checked_at}"]
    width = max((len(c.id) for c in report.checks), default=10)
    for check in report.checks:
        lines.append(f"  {marks[check.status]}  {check.id:<{width}}  {check.detail}")
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            lines.append(f"        {'':<{width}}  fix: {check.fix}")
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.counts.items())
    lines.append(f"{'OK' if report.ok else 'FAILED'}: {counts}")
    return lines


def health(args: argparse.Namespace, target: Target, out: Out = print) -> int:
    """Run the checks against the target; 0 if none failed."""
    config = HealthConfig(
        stack_name=args.stack,
        api_url=target.api_url,
        token=target.token,
        max_export_age_hours=args.max_export_age_hours,
        cold_start_threshold_ms=args.cold_start_threshold_ms,
    )
    report = with_console_check(args, target, run_checks(target.clients, config))
    if args.json:
        out(json.dumps({"target": target.name, **report.model_dump(mode="json")}, indent=2))
    else:
        for line in format_report(report, target.name):
            out(line)
    return 0 if report.ok else 1


def with_console_check(args: argparse.Namespace, target: Target, report: HealthReport) -> HealthReport:
    """The report plus whether the console answers its health URL (when its address is known)."""
    from console import hosting_cmd

    try:
        url, source = hosting_cmd.console_address(args, target.clients, report.local)
        check = hosting_cmd.console_check(url, source)
    except Exception as err:  # reading the console stack failed: a failed check, not a crash
        check = hosting_cmd.CheckResult(
            id=hosting_cmd.CONSOLE_CHECK_ID,
            title="the console answers /_stcore/health",
            status=Status.FAIL,
            detail=f"could not find the console's address: {type(err).__name__}",
            fix="check your AWS credentials, or give `--console-url`",
        )
    checks = [*report.checks, check]
    counts = {s.value: sum(1 for c in checks if c.status == s) for s in Status}
    return report.model_copy(
        update={"checks": checks, "counts": counts, "ok": counts[Status.FAIL.value] == 0}
    )


def cmd_health(args: argparse.Namespace) -> int:
    return health(args, resolve_target(args))


# ---------------------------------------------------------------- status


def cmd_status(args: argparse.Namespace, out: Out = print) -> int:
    """The stack's resources as a table, as `sam list resources` shows them."""
    target = resolve_target(args)
    cfn = target.clients("cloudformation")
    stack = describe_stack(cfn, args.stack)
    reason = stack.get("StackStatusReason")
    out(f"{args.stack} on {target.name}: {stack['StackStatus']}" + (f" ({reason})" if reason else ""))
    rows = [("Logical ID", "Type", "Physical ID", "Status")] + [
        (r.logical_id, r.type, r.physical_id or "-", r.status) for r in list_resources(cfn, args.stack)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out("  ".join("-" * w for w in widths))
    return 0


# ---------------------------------------------------------------- deploy


def refusal(status: str | None) -> str | None:
    """Why a deploy must not start on a stack in this status (None: it may)."""
    if status is None:
        return None  # no stack yet: the first deploy creates it
    if status == "REVIEW_IN_PROGRESS":
        return None  # a stack awaiting its first change set (a first deploy's review): it holds nothing
    if status.endswith("_IN_PROGRESS"):
        return f"the stack is {status}: wait until it finishes (`hdcn status`)"
    if status.endswith("_FAILED"):
        return f"the stack is {status}: resolve it in the CloudFormation console first"
    if status == "ROLLBACK_COMPLETE":
        return "the stack is ROLLBACK_COMPLETE (its creation failed): delete it before deploying again"
    return None


def sam_cli() -> str:
    """The sam executable from its own environment (HDCN_SAM_CLI), else `sam` on PATH."""
    return os.environ.get("HDCN_SAM_CLI") or "sam"


def cfn_lint_cli() -> str:
    beside = Path(sys.executable).parent / "cfn-lint"
    return str(beside) if beside.exists() else "cfn-lint"


# ---------------------------------------------------------------- layer build (no python3.11 needed)

LAYER_SOURCE = "backend/layer"
LAMBDA_PLATFORM = "manylinux2014_x86_64"  # the functions' x86_64 architecture
LAMBDA_PYTHON = "3.11"  # the functions' runtime, python3.11
BUILD_DIR = ".aws-sam/hdcn"  # under .aws-sam (ignored by git), beside what `sam build` would write


def layer_pip_command(target: str) -> list[str]:
    """pip installs the layer's requirements as Lambda's python3.11 on x86_64 needs them, from wheels only.

    `sam build SharedLayer` would need a python3.11 on PATH (its python3.11 build method runs
    one); pip can fetch the right wheels with any Python, so the deploy does not need it.
    """
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary=:all:",
        "--upgrade",
        "--target",
        target,
        "-r",
        f"{LAYER_SOURCE}/requirements.txt",
    ]


def build_layer(build_dir: Path, out: Out) -> Path | None:
    """The layer folder (python/ with hdcn_common and its requirements), or None if pip failed."""
    layer = build_dir / "layer"
    shutil.rmtree(layer, ignore_errors=True)
    python_dir = layer / "python"
    python_dir.mkdir(parents=True)
    if not _run(layer_pip_command(str(python_dir)), out):
        out(
            "  pip could not fetch Lambda wheels for the layer's requirements (network, or a pin without one)"
        )
        return None
    shutil.copytree(
        REPO_ROOT / LAYER_SOURCE / "hdcn_common",
        python_dir / "hdcn_common",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return layer


def deploy_template(build_dir: Path, layer_dir: Path) -> Path:
    """template.yaml with the built layer and absolute code folders, for `sam deploy --template-file`."""
    template = load_template()
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = str(layer_dir)
            res.get("Metadata", {}).pop("BuildMethod", None)  # built already: sam must not build again
        elif isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = str(REPO_ROOT / props["CodeUri"])
    path = build_dir / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return path


# ---------------------------------------------------------------- sam deploy


def parameter_overrides(args: argparse.Namespace, tag: str) -> list[str]:
    """What the command line sets: the image (repository and tag) and the operator's choices."""
    overrides = [f"GeneratorImageTag={tag}", f"GeneratorImageRepository={args.repository}"]
    if getattr(args, "alarm_topic_arn", None):
        overrides.append(f"AlarmTopicArn={args.alarm_topic_arn}")
    if getattr(args, "api_access_logs", False):
        overrides.append("ApiAccessLogging=on")
    for pair in getattr(args, "parameter_overrides", None) or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter-overrides: {pair!r} is not KEY=VALUE")
        overrides.append(f"{key}={value}")
    return overrides


def sam_deploy_command(template_file: str, image_repository_uri: str, overrides: list[str]) -> list[str]:
    """`sam deploy` that only creates the change set: `hdcn deploy` reviews it before executing.

    No `sam build`: the layer is built by pip (`build_layer`) and the zip functions are their
    app.py as it is; a full `sam build` would also build the image function from its Dockerfile
    and have `sam deploy` push it and replace its ImageUri, so the image built in step 3 and
    pinned by GeneratorImageTag would not be the one deployed. `--image-repository` is required
    by `sam deploy` for an image function; with the template's ImageUri an ECR URI, it leaves
    that URI as it is (checked with sam 1.170).
    """
    return [
        sam_cli(),
        "deploy",
        "--config-file",
        SAMCONFIG,
        "--template-file",
        template_file,
        "--image-repository",
        image_repository_uri,
        "--no-execute-changeset",
        "--parameter-overrides",
        *overrides,
    ]


def _image_args(args: argparse.Namespace, dry_run: bool) -> argparse.Namespace:
    return argparse.Namespace(
        dry_run=dry_run,
        repository=args.repository,
        builder="legacy",
        region=args.region,
        account_id=None,
    )


def _image_in_ecr(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    except ecr.exceptions.RepositoryNotFoundException:
        return False
    return True


def api_logging_refusal(apigateway: Any) -> str | None:
    """Why `--api-access-logs` cannot deploy on this account (None: the account has the role)."""
    if apigateway.get_account().get("cloudwatchRoleArn"):
        return None
    return (
        "--api-access-logs needs the account's API Gateway CloudWatch role, and `apigateway get-account` "
        "shows none: the stage would fail and the stack roll back. Set one first (a role API Gateway may "
        "assume with AmazonAPIGatewayPushToCloudWatchLogs, then `aws apigateway update-account "
        "--patch-operations op=replace,path=/cloudwatchRoleArn,value=<role-arn>`), or deploy without it"
    )


def deploy_dry_run(args: argparse.Namespace, out: Out = print, target: Target | None = None) -> int:
    """Print the five steps with each command; with a target, also create and review the change set."""
    tag = image_cmd.content_hash()
    region, stack = args.region, args.stack
    out(f"hdcn deploy --dry-run: {stack} in {region}, generator image tag {tag} (content hash)")
    out("step 1/5: stack state check (refuses *_IN_PROGRESS, *_FAILED and ROLLBACK_COMPLETE)")
    out(f"  aws cloudformation describe-stacks --stack-name {stack} --region {region}")
    if getattr(args, "api_access_logs", False):
        out(f"  aws apigateway get-account --region {region}  (refuses if cloudwatchRoleArn is not set)")
    out("step 2/5: lint the template")
    out(f"  {shlex.join([cfn_lint_cli(), 'template.yaml'])}")
    out(f"step 3/5: build and push the generator image, only if ECR has no {args.repository}:{tag}")
    out(f"  aws ecr describe-images --repository-name {args.repository} --image-ids imageTag={tag}")
    lines: list[str] = []
    image_cmd.cmd_build(_image_args(args, True), out=lines.append)
    image_cmd.cmd_push(_image_args(args, True), out=lines.append)
    for line in lines:
        out(f"  {line}")
    out(f"step 4/5: build the layer, create the change set, review it, execute it (sam: {sam_cli()})")
    out(f"  {shlex.join(['python', *layer_pip_command(f'{BUILD_DIR}/layer/python')[1:]])}")
    out(f"  cp -r {LAYER_SOURCE}/hdcn_common {BUILD_DIR}/layer/python/")
    repo_uri = f"{image_cmd.registry('<account-id>', region)}/{args.repository}"
    sam = sam_deploy_command(f"{BUILD_DIR}/template.json", repo_uri, parameter_overrides(args, tag))
    out(f"  {shlex.join(sam)}")
    out(f"  aws cloudformation describe-change-set --stack-name {stack} --change-set-name <sam's change set>")
    out(
        "  review: refuses (and deletes the change set) if a table, the bucket or the user pool would be "
        "removed or replaced (Action Remove, or Replacement True/Conditional), naming each"
    )
    out(f"  aws cloudformation execute-change-set --stack-name {stack} --change-set-name <sam's change set>")
    out("step 5/5: health checks and the authenticated routes with the smoke user (exit 1 if any fails)")
    out(f"  hdcn health --aws --stack {stack} --region {region}  (with the smoke user's token)")
    routes = list(smoke.READ_ROUTES) + (list(smoke.EXPORT_ROUTES) if args.smoke_export else [])
    out(f"  GET {', '.join(routes)} as {smoke.SMOKE_USER} ({', '.join(smoke.READ_GROUPS)})")
    if args.smoke_export:
        out("  POST /analytics/generate-parquet, then GET /analytics/jobs/<id> until it ends (must succeed)")
    if target is None:
        out("nothing was run; git is never touched")
        return 0
    out("change set review (the change set is created, shown and deleted; nothing is executed):")
    cfn = target.clients("cloudformation")
    status = _stack_status(cfn, stack)
    review = _create_and_review(args, target, tag, out)
    if review is None:
        return 1
    if review.status:
        cfn.delete_change_set(StackName=stack, ChangeSetName=review.change_set_id)
        if status in (None, "REVIEW_IN_PROGRESS"):
            # A first deploy's change set made an empty stack awaiting review: leave no trace of it.
            cfn.delete_stack(StackName=stack)
    out("dry run: nothing was executed; git is never touched")
    return 0 if review.accepted else 3


def _stack_status(cfn: Any, stack: str) -> str | None:
    """The stack's status, or None if it does not exist."""
    try:
        return str(describe_stack(cfn, stack)["StackStatus"])
    except cfn.exceptions.ClientError as err:
        if "does not exist" not in str(err.response.get("Error", {}).get("Message", "")):
            raise
        return None


def _run(command: list[str], out: Out) -> bool:
    out(f"  $ {shlex.join(command)}")
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        out(f"  {command[0]} not found (for sam: set HDCN_SAM_CLI to the sam of its own venv)")
        return False
    return subprocess.run(command, cwd=REPO_ROOT).returncode == 0


def _create_and_review(
    args: argparse.Namespace, target: Target, tag: str, out: Out
) -> change_set.Review | None:
    """Build the layer, have sam create the change set, and show its review (None: it failed)."""
    from datetime import UTC, datetime, timedelta

    build_dir = REPO_ROOT / BUILD_DIR
    build_dir.mkdir(parents=True, exist_ok=True)
    layer = build_layer(build_dir, out)
    if layer is None:
        return None
    template_file = deploy_template(build_dir, layer)
    account = target.clients("sts").get_caller_identity()["Account"]
    repo_uri = f"{image_cmd.registry(account, args.region)}/{args.repository}"
    # CloudFormation's clock, not ours, stamps the change set: allow for skew.
    since = datetime.now(UTC) - timedelta(minutes=2)
    command = sam_deploy_command(str(template_file), repo_uri, parameter_overrides(args, tag))
    if not _run(command, out):
        out("  sam failed; see its output above")
        return None
    cfn = target.clients("cloudformation")
    name = change_set.newest_change_set(cfn, args.stack, since)
    if name is None:
        out("  no change set: the stack already matches the template and parameters")
        return change_set.Review(name="(none)", status="", changes=[])
    review = change_set.describe(
        cfn, args.stack, name, frozenset(getattr(args, "release_retained", None) or ())
    )
    for line in review.lines():
        out(f"  {line}")
    return review


def deploy(args: argparse.Namespace, target: Target, out: Out = print) -> int:
    """The five steps; stops at the first that fails and exits non-zero."""
    cfn = target.clients("cloudformation")
    out(f"step 1/5: stack state of {args.stack} on {target.name}")
    status = _stack_status(cfn, args.stack)
    why = refusal(status)
    if why:
        out(f"  refusing to deploy: {why}")
        return 2
    if getattr(args, "api_access_logs", False):
        why = api_logging_refusal(target.clients("apigateway"))
        if why:
            out(f"  refusing to deploy: {why}")
            return 2
    out(f"  {status or 'no stack yet (first deploy)'}: ok")
    out("step 2/5: lint the template")
    if not _run([cfn_lint_cli(), "template.yaml"], out):
        out("  cfn-lint failed: fix the template first")
        return 1
    tag = image_cmd.content_hash()
    out(f"step 3/5: generator image {args.repository}:{tag}")
    if _image_in_ecr(target.clients("ecr"), args.repository, tag):
        out("  inputs unchanged: the image is already in ECR, not rebuilt")
    else:
        if image_cmd.cmd_build(_image_args(args, False), out=out) != 0:
            return 1
        if image_cmd.cmd_push(_image_args(args, False), out=out) != 0:
            return 1
    out("step 4/5: the layer (pip, for Lambda's platform), the change set, its review")
    review = _create_and_review(args, target, tag, out)
    if review is None:
        return 1
    if not review.accepted:
        cfn.delete_change_set(StackName=args.stack, ChangeSetName=review.change_set_id)
        return 3
    if review.status:
        out(f"  executing {review.name}")
        cfn.execute_change_set(StackName=args.stack, ChangeSetName=review.change_set_id)
        creating = status in (None, "REVIEW_IN_PROGRESS")
        waiter = "stack_create_complete" if creating else "stack_update_complete"
        try:
            cfn.get_waiter(waiter).wait(StackName=args.stack, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
        except Exception as err:  # botocore's WaiterError: the stack failed or rolled back
            out(f"  the stack did not reach a complete state ({type(err).__name__}): `hdcn status`")
            return 1
    out("step 5/5: health checks and the authenticated routes (smoke user)")
    return verify_deployed(args, target, out)


def verify_deployed(args: argparse.Namespace, target: Target, out: Out = print) -> int:
    """The health checks and the smoke routes with the smoke user's token; 0 if all passed."""
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in describe_stack(target.clients("cloudformation"), args.stack).get("Outputs", [])
    }
    api_url = target.api_url or outputs.get("ApiUrl")
    idp = target.clients("cognito-idp")
    pool = outputs["UserPoolId"]
    token = target.token or smoke.smoke_token(idp, pool, outputs["UserPoolClientId"], args.smoke_export)
    try:
        checked = Target(name=target.name, clients=target.clients, api_url=api_url, token=token)
        healthy = health(args, checked, out)
        out(f"smoke test of {api_url} as {smoke.SMOKE_USER}")
        routes_ok = api_url is not None and smoke.run_smoke(api_url, token, args.smoke_export, out)
    finally:
        if target.token is None:
            smoke.disable_smoke_user(idp, pool)
    return 0 if healthy == 0 and routes_ok else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    args.aws, args.local = True, False  # a deploy always goes to AWS
    if args.dry_run:
        if args.no_review:
            return deploy_dry_run(args)
        try:
            target = resolve_target(args)
            target.clients("sts").get_caller_identity()
        except Exception as err:  # no credentials, or no network: the review needs AWS
            print(f"(no change set review: AWS is not reachable with your credentials: {type(err).__name__})")
            return deploy_dry_run(args)
        return deploy_dry_run(args, target=target)
    return deploy(args, resolve_target(args))


# ---------------------------------------------------------------- parser


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default=DEFAULT_STACK)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the running local stack")
    where.add_argument(
        "--aws", action="store_true", help="AWS with your credentials (default if no local stack)"
    )
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".hdcn", help="local stack state")


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url", help="API base URL (default: HDCN_API_URL, the local gateway, or ApiUrl)"
    )
    parser.add_argument("--token", help="ID token for the authenticated read (default: HDCN_TOKEN)")
    parser.add_argument("--user", help=f"local stack: demo user whose token is used (default {LOCAL_USER})")
    parser.add_argument(
        "--console-url",
        help="the console's address (default: HDCN_CONSOLE_URL, the local stack's, or the console stack's "
        "ConsoleUrl output)",
    )
    parser.add_argument("--console-stack", default="webshop-console", help="the console's stack on AWS")
    parser.add_argument("--max-export-age-hours", type=float, default=168.0)
    parser.add_argument("--cold-start-threshold-ms", type=float, default=5000.0)
    parser.add_argument("--json", action="store_true", help="the report as JSON")


def register(subparsers: Any) -> None:
    """Add `health`, `status` and `deploy` to the `hdcn` parser."""
    health_p = subparsers.add_parser("health", help="deploy health checks (exit 1 if any fails)")
    _target_arguments(health_p)
    _check_arguments(health_p)
    health_p.set_defaults(func=cmd_health)

    status_p = subparsers.add_parser("status", help="the stack's resources as a table")
    _target_arguments(status_p)
    status_p.set_defaults(func=cmd_status)

    deploy_p = subparsers.add_parser("deploy", help="lint, build the image if changed, sam deploy, verify")
    _target_arguments(deploy_p)
    _check_arguments(deploy_p)
    deploy_p.add_argument(
        "--dry-run", action="store_true", help="print the five steps; review the change set, execute nothing"
    )
    deploy_p.add_argument("--repository", default=image_cmd.DEFAULT_REPOSITORY, help="ECR repository")
    deploy_p.add_argument("--alarm-topic-arn", help="SNS topic for the stack's alarms (AlarmTopicArn)")
    deploy_p.add_argument(
        "--api-access-logs",
        action="store_true",
        help="MyApi access logs (ApiAccessLogging=on); refused if the account has no API Gateway log role",
    )
    deploy_p.add_argument(
        "--smoke-export", action="store_true", help="step 5 also triggers an export and waits for it"
    )
    deploy_p.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="more template parameters, e.g. the adoption ones (ExistingMembersTableName=Members ...)",
    )
    deploy_p.add_argument(
        "--release-retained",
        action="append",
        metavar="LOGICAL_ID",
        help="accept that the stack lets go of this data resource when it is kept (Remove, DeletionPolicy "
        "Retain), e.g. to adopt an existing one; a replacement is always refused",
    )
    deploy_p.add_argument(
        "--no-review", action="store_true", help="with --dry-run: print only, no change set (no AWS call)"
    )
    deploy_p.set_defaults(func=cmd_deploy)
