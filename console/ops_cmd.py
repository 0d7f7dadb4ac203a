"""`hdcn health`, `hdcn status` and `hdcn deploy`: the operator's view of the stack and its deploy pipeline.

`hdcn health` runs the same checks as `GET /ops/health` (`hdcn_common.health_checks`)
and exits 1 if any fails, for use after a deploy. Target: the running local stack
(`--local`, the default when `.hdcn/local-stack.json` exists and AWS_ENDPOINT_URL is
unset) or AWS with the caller's credentials (`--aws`).

`hdcn deploy` is the five-step pipeline: (1) refuse a stack in progress or failed,
(2) cfn-lint the template, (3) build and push the generator image only when its inputs
changed (`console.image_cmd`, tag = content hash), (4) `sam build SharedLayer` + `sam deploy`
with `samconfig.toml` and `GeneratorImageTag=<hash>`, (5) the health checks and endpoint
tests; non-zero exit if any step fails. It never runs git. aws-sam-cli pins an older
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

from backend.local.template import REPO_ROOT
from console import image_cmd

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
    report = run_checks(target.clients, config)
    if args.json:
        out(json.dumps({"target": target.name, **report.model_dump(mode="json")}, indent=2))
    else:
        for line in format_report(report, target.name):
            out(line)
    return 0 if report.ok else 1


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


def sam_commands(tag: str, alarm_topic: str | None, image_repository: str) -> list[list[str]]:
    """`sam build SharedLayer` then `sam deploy` with samconfig.toml and the image tag.

    Only the layer needs building (its requirements are installed under python/); the zip
    functions are their app.py as it is. A full `sam build` would also build the image
    function from its Dockerfile and have `sam deploy` push it and replace its ImageUri, so
    the image built in step 3 and pinned by GeneratorImageTag would not be the one deployed.
    `--image-repository` is required by `sam deploy` for an image function; with the
    template's ImageUri an ECR URI, it leaves that URI as it is (checked with sam 1.170).
    """
    overrides = [f"GeneratorImageTag={tag}"] + ([f"AlarmTopicArn={alarm_topic}"] if alarm_topic else [])
    sam = sam_cli()
    return [
        [sam, "build", "SharedLayer", "--config-file", SAMCONFIG],
        [
            sam,
            "deploy",
            "--config-file",
            SAMCONFIG,
            "--image-repository",
            image_repository,
            "--parameter-overrides",
            *overrides,
        ],
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


def deploy_dry_run(args: argparse.Namespace, out: Out = print) -> int:
    """Print the five steps with each command; run nothing, call no AWS API."""
    tag = image_cmd.content_hash()
    region, stack = args.region, args.stack
    out(f"hdcn deploy --dry-run: {stack} in {region}, generator image tag {tag} (content hash)")
    out("step 1/5: stack state check (refuses *_IN_PROGRESS, *_FAILED and ROLLBACK_COMPLETE)")
    out(f"  aws cloudformation describe-stacks --stack-name {stack} --region {region}")
    out("step 2/5: lint the template")
    out(f"  {shlex.join([cfn_lint_cli(), 'template.yaml'])}")
    out(f"step 3/5: build and push the generator image, only if ECR has no {args.repository}:{tag}")
    out(f"  aws ecr describe-images --repository-name {args.repository} --image-ids imageTag={tag}")
    lines: list[str] = []
    image_cmd.cmd_build(_image_args(args, True), out=lines.append)
    image_cmd.cmd_push(_image_args(args, True), out=lines.append)
    for line in lines:
        out(f"  {line}")
    out(f"step 4/5: deploy with SAM (sam from its own environment: HDCN_SAM_CLI={sam_cli()})")
    repo_uri = f"{image_cmd.registry('<account-id>', region)}/{args.repository}"
    for command in sam_commands(tag, args.alarm_topic_arn, repo_uri):
        out(f"  {shlex.join(command)}")
    out("step 5/5: health checks and endpoint tests (exit 1 if any fails)")
    out(f"  hdcn health --aws --stack {stack} --region {region}")
    out("nothing was run; git is never touched")
    return 0


def _run(command: list[str], out: Out) -> bool:
    out(f"  $ {shlex.join(command)}")
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        out(f"  {command[0]} not found (for sam: set HDCN_SAM_CLI to the sam of its own venv)")
        return False
    return subprocess.run(command, cwd=REPO_ROOT).returncode == 0


def deploy(args: argparse.Namespace, target: Target, out: Out = print) -> int:
    """The five steps; stops at the first that fails and exits non-zero."""
    cfn = target.clients("cloudformation")
    out(f"step 1/5: stack state of {args.stack} on {target.name}")
    try:
        status: str | None = describe_stack(cfn, args.stack)["StackStatus"]
    except cfn.exceptions.ClientError as err:
        if "does not exist" not in str(err.response.get("Error", {}).get("Message", "")):
            raise
        status = None
    why = refusal(status)
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
    out("step 4/5: sam build (the layer) and sam deploy")
    account = target.clients("sts").get_caller_identity()["Account"]
    repo_uri = f"{image_cmd.registry(account, args.region)}/{args.repository}"
    for command in sam_commands(tag, args.alarm_topic_arn, repo_uri):
        if not _run(command, out):
            out("  sam failed; see its output above")
            return 1
    out("step 5/5: health checks and endpoint tests")
    return health(args, target, out)


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.dry_run:
        return deploy_dry_run(args)
    args.aws, args.local = True, False  # a deploy always goes to AWS
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
    deploy_p.add_argument("--dry-run", action="store_true", help="print the five steps and commands only")
    deploy_p.add_argument("--repository", default=image_cmd.DEFAULT_REPOSITORY, help="ECR repository")
    deploy_p.add_argument("--alarm-topic-arn", help="SNS topic for the stack's alarms (AlarmTopicArn)")
    deploy_p.set_defaults(func=cmd_deploy)
