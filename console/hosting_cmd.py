"""`hdcn console deploy [--dry-run]`: the admin console online, on ECS Fargate behind an HTTPS load balancer.

Five steps, stopping at the first that fails (non-zero exit):
(1) state: the backend stack exists in a stable state and has the outputs the console needs
(ApiUrl, UserPoolId, UserPoolClientId); the console stack is not mid-update or failed; a domain
and an ACM certificate in the region are given, the certificate is issued and covers the domain;
(2) cfn-lint `infra/console.yaml`; (3) the console image (`hdcn image build|push --console`) only
if ECR lacks its content-hash tag; (4) a CloudFormation change set for `webshop-console` with the
backend's outputs, the domain, the certificate and the tag as parameters, executed and waited for
(CloudFormation waits for the ECS service to be stable); (5) `https://<domain>/_stcore/health`
polled until it answers 200, then the address is printed. `--dry-run` prints every command and
calls nothing (no AWS, no Docker). The stack is plain CloudFormation, deployed through boto3:
no SAM CLI or AWS CLI needed, and the printed `aws` lines are the same calls.

The console's health check for `hdcn health` lives here too (`console_check`), so the Lambda
layer does not carry it: the console's address is known only to the operator's side.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backend.local.template import REPO_ROOT
from console import image_cmd

sys.path.insert(0, str(REPO_ROOT / "backend" / "layer"))  # hdcn_common, as the Lambda layer provides it

from hdcn_common.health_checks import CheckResult, Status, is_loopback_url

CONSOLE_TEMPLATE = REPO_ROOT / "infra" / "console.yaml"
DEFAULT_CONSOLE_STACK = "webshop-console"
DEFAULT_BACKEND_STACK = "webshop-backend"
DEFAULT_REGION = "eu-west-1"
# Backend output → console template parameter.
BACKEND_OUTPUTS = {"ApiUrl": "ApiUrl", "UserPoolId": "UserPoolId", "UserPoolClientId": "UserPoolClientId"}
HEALTH_PATH = "/_stcore/health"
CONSOLE_CHECK_ID = "console_health"

Out = Callable[[str], None]
Probe = Callable[[str, float], tuple[int, str]]


# ---------------------------------------------------------------- the console's health


def probe(url: str, timeout: float) -> tuple[int, str]:
    """GET a URL: (status, body start); (0, reason) when nothing answered."""
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - https, or the loopback console
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - see above
            return int(resp.status), resp.read(200).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return int(err.code), ""
    except (OSError, ValueError) as err:
        return 0, type(err).__name__


def console_check(
    url: str | None, source: str, timeout: float = 10.0, get: Probe | None = None
) -> CheckResult:
    """The console answers its health URL (not applicable, with the reason, when no address is known)."""
    get = get or probe
    title = "the console answers /_stcore/health"
    if not url:
        return CheckResult(
            id=CONSOLE_CHECK_ID,
            title=title,
            status=Status.NOT_APPLICABLE,
            detail=f"no console address known ({source})",
        )
    base = url.rstrip("/")
    if urlsplit(base).scheme != "https" and not is_loopback_url(base):
        return CheckResult(
            id=CONSOLE_CHECK_ID,
            title=title,
            status=Status.FAIL,
            detail=f"refusing {base}: a console off this machine must be https",
            fix="give the https address (`hdcn health --console-url https://...`)",
        )
    status, body = get(base + HEALTH_PATH, timeout)
    if status == 200:
        return CheckResult(
            id=CONSOLE_CHECK_ID,
            title=title,
            status=Status.PASS,
            detail=f"GET {base}{HEALTH_PATH} answered 200 ({source})",
        )
    said = f"answered {status}" if status else f"did not answer ({body})"
    return CheckResult(
        id=CONSOLE_CHECK_ID,
        title=title,
        status=Status.FAIL,
        detail=f"GET {base}{HEALTH_PATH} {said} ({source})",
        fix=(
            "`hdcn local up` starts the console"
            if is_loopback_url(base)
            else "read the log group /hdcn/webshop-console and the ECS service's events"
        ),
    )


def console_address(
    args: argparse.Namespace, clients: Callable[[str], Any] | None, local: bool
) -> tuple[str | None, str]:
    """Where the console should answer, and where that came from (given, local state, console stack)."""
    given = getattr(args, "console_url", None) or os.environ.get("HDCN_CONSOLE_URL")
    if given:
        return given, "given"
    if local:
        from backend.local.up import NoLocalStack, read_state

        state_dir = Path(getattr(args, "state_dir", None) or REPO_ROOT / ".hdcn")
        try:
            url = read_state(state_dir).get("console_url")
        except (NoLocalStack, OSError, ValueError):
            return None, f"no local stack state in {state_dir} (`--state-dir`, or `--console-url`)"
        return (url, "the local stack") if url else (None, "the local stack runs without its console")
    if clients is None:
        return None, "no AWS clients"
    stack = getattr(args, "console_stack", None) or DEFAULT_CONSOLE_STACK
    outputs, why = stack_outputs(clients("cloudformation"), stack)
    if outputs is None:
        return None, f"no {stack} stack: {why}"
    url = outputs.get("ConsoleUrl")
    return (
        (url, f"the {stack} stack's ConsoleUrl output")
        if url
        else (None, f"{stack} has no ConsoleUrl output")
    )


def stack_outputs(cfn: Any, stack: str) -> tuple[dict[str, str] | None, str]:
    """A stack's outputs, or None and why (it does not exist, or is in a state without them)."""
    try:
        (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    except cfn.exceptions.ClientError as err:
        message = str(err.response.get("Error", {}).get("Message", ""))
        if "does not exist" in message:
            return None, "it does not exist"
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return outputs, str(described["StackStatus"])


# ---------------------------------------------------------------- deploy: the pieces


@dataclass
class Plan:
    """What a deploy does: the stacks, the image and the parameters it passes."""

    region: str
    backend_stack: str
    stack: str
    repository: str
    tag: str
    domain: str
    certificate_arn: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://{self.domain}"


def plan_from_args(args: argparse.Namespace) -> Plan:
    return Plan(
        region=args.region,
        backend_stack=args.backend_stack,
        stack=args.stack,
        repository=args.repository,
        tag=image_cmd.content_hash(spec=image_cmd.CONSOLE),
        domain=(args.domain or "").strip().lower().rstrip("."),
        certificate_arn=(args.certificate_arn or "").strip(),
    )


def operator_parameters(args: argparse.Namespace, plan: Plan) -> dict[str, str]:
    """The parameters the command line sets (the backend's outputs are added in step 1)."""
    params = {
        "ConsoleImageRepository": plan.repository,
        "ConsoleImageTag": plan.tag,
        "DomainName": plan.domain,
        "CertificateArn": plan.certificate_arn,
    }
    if args.hosted_zone_id:
        params["HostedZoneId"] = args.hosted_zone_id
    if args.alarm_topic_arn:
        params["AlarmTopicArn"] = args.alarm_topic_arn
    if args.allowed_cidr:
        params["AllowedCidr"] = args.allowed_cidr
    for pair in args.parameter_overrides or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter-overrides: {pair!r} is not KEY=VALUE")
        params[key] = value
    return params


def argument_problems(plan: Plan) -> list[str]:
    """What is wrong with the domain and certificate as given (checked before any AWS call)."""
    problems: list[str] = []
    if not plan.domain:
        problems.append(
            "--domain is required: the address the club gives the console (e.g. console.h-dcn.nl)"
        )
    elif "." not in plan.domain or "/" in plan.domain or ":" in plan.domain:
        problems.append(f"--domain {plan.domain!r} is not a host name (no scheme, port or path)")
    if not plan.certificate_arn:
        problems.append(
            f"--certificate-arn is required: an ACM certificate for the domain in {plan.region} "
            "(`aws acm request-certificate --domain-name <domain> --validation-method DNS "
            f"--region {plan.region}`)"
        )
    else:
        parts = plan.certificate_arn.split(":")
        if len(parts) < 6 or parts[2] != "acm":
            problems.append(f"--certificate-arn {plan.certificate_arn!r} is not an ACM certificate ARN")
        elif parts[3] != plan.region:
            problems.append(
                f"the certificate is in {parts[3]}, the load balancer in {plan.region}: "
                "an ALB takes a certificate from its own region only"
            )
    return problems


def covers(certificate: dict[str, Any], domain: str) -> bool:
    """Whether an ACM certificate's names cover the domain (a wildcard covers one label)."""
    names = {certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])}
    for name in names:
        name = name.lower()
        if name == domain:
            return True
        if (
            name.startswith("*.")
            and domain.count(".") == name.count(".")
            and fnmatch.fnmatchcase(domain, name)
        ):
            return True
    return False


STABLE_BACKEND = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


def check_state(plan: Plan, clients: Callable[[str], Any], out: Out) -> bool:
    """Step 1: the backend's outputs into plan.parameters, the console stack's state, the certificate."""
    from console.ops_cmd import refusal

    cfn = clients("cloudformation")
    outputs, status = stack_outputs(cfn, plan.backend_stack)
    if outputs is None:
        out(f"  refusing: the backend stack {plan.backend_stack} {status}; deploy it first (`hdcn deploy`)")
        return False
    if status not in STABLE_BACKEND:
        out(f"  refusing: the backend stack {plan.backend_stack} is {status}; wait for it or fix it first")
        return False
    missing = [key for key in BACKEND_OUTPUTS if not outputs.get(key)]
    if missing:
        out(f"  refusing: {plan.backend_stack} has no output {', '.join(missing)}")
        return False
    if not outputs["ApiUrl"].startswith("https://"):
        out(f"  refusing: the backend's ApiUrl {outputs['ApiUrl']} is not https")
        return False
    for key, param in BACKEND_OUTPUTS.items():
        plan.parameters.setdefault(param, outputs[key])
    out(f"  {plan.backend_stack}: {status}; ApiUrl {outputs['ApiUrl']}, pool {outputs['UserPoolId']}")
    console_outputs, console_status = stack_outputs(cfn, plan.stack)
    why = refusal(console_status if console_outputs is not None else None)
    if why:
        out(f"  refusing: {plan.stack}: {why}")
        return False
    out(f"  {plan.stack}: {console_status if console_outputs is not None else 'no stack yet (first deploy)'}")
    try:
        cert = clients("acm").describe_certificate(CertificateArn=plan.certificate_arn)["Certificate"]
    except Exception as err:  # not found, or not ours: the message says which
        out(f"  refusing: the certificate cannot be read ({type(err).__name__}): {plan.certificate_arn}")
        return False
    if cert.get("Status") != "ISSUED":
        out(f"  refusing: the certificate is {cert.get('Status')}, not ISSUED (finish its DNS validation)")
        return False
    if not covers(cert, plan.domain):
        out(f"  refusing: the certificate ({cert.get('DomainName')}) does not cover {plan.domain}")
        return False
    out(f"  certificate {cert.get('DomainName')}: ISSUED, covers {plan.domain}")
    return True


def lint(out: Out) -> bool:
    """Step 2: cfn-lint on the console template."""
    from console.ops_cmd import cfn_lint_cli

    command = [cfn_lint_cli(), str(CONSOLE_TEMPLATE.relative_to(REPO_ROOT))]
    out(f"  $ {shlex.join(command)}")
    return subprocess.run(command, cwd=REPO_ROOT).returncode == 0


def image_args(plan: Plan, dry_run: bool) -> argparse.Namespace:
    return argparse.Namespace(
        dry_run=dry_run,
        console=True,
        repository=plan.repository,
        builder="legacy",
        region=plan.region,
        account_id=None,
    )


def build_and_push(plan: Plan, out: Out) -> int:
    """Step 3's work when the tag is new: `hdcn image build --console`, then `push --console`."""
    code = image_cmd.cmd_build(image_args(plan, False), out=out)
    return code if code else image_cmd.cmd_push(image_args(plan, False), out=out)


def image_in_ecr(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
        return False
    return True


def change_set_name(tag: str) -> str:
    return f"hdcn-console-{tag}-{int(time.time())}"


def cli_lines(plan: Plan, first_deploy: bool | None) -> list[str]:
    """Step 4 as the equivalent AWS CLI calls (what boto3 does, for the dry run and the log)."""
    kind = "CREATE" if first_deploy else "UPDATE" if first_deploy is False else "CREATE|UPDATE"
    params = " ".join(
        f"ParameterKey={k},ParameterValue={shlex.quote(v)}" for k, v in sorted(plan.parameters.items())
    )
    common = f"--stack-name {plan.stack} --region {plan.region}"
    wait = "stack-create-complete" if first_deploy else "stack-update-complete"
    if first_deploy is None:
        wait = "stack-create-complete|stack-update-complete"
    return [
        f"aws cloudformation create-change-set {common} --change-set-name hdcn-console-{plan.tag}-<time> "
        f"--change-set-type {kind} --template-body file://{CONSOLE_TEMPLATE.relative_to(REPO_ROOT)} "
        f"--capabilities CAPABILITY_IAM --parameters {params}",
        f"aws cloudformation wait change-set-create-complete {common} --change-set-name <that change set>",
        f"aws cloudformation describe-change-set {common} --change-set-name <that change set>"
        "  (no changes: delete it and go on)",
        f"aws cloudformation execute-change-set {common} --change-set-name <that change set>",
        f"aws cloudformation wait {wait} {common}  (CloudFormation waits for the ECS service to be stable)",
    ]


def deploy_stack(plan: Plan, cfn: Any, out: Out) -> bool:
    """Step 4: create the change set, execute it unless empty, wait for the stack."""
    outputs, status = stack_outputs(cfn, plan.stack)
    # A stack whose first change set failed waits in REVIEW_IN_PROGRESS: it still takes a CREATE.
    first = outputs is None or status == "REVIEW_IN_PROGRESS"
    name = change_set_name(plan.tag)
    for line in cli_lines(plan, first):
        out(f"  {line}")
    created = cfn.create_change_set(
        StackName=plan.stack,
        ChangeSetName=name,
        ChangeSetType="CREATE" if first else "UPDATE",
        TemplateBody=CONSOLE_TEMPLATE.read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(plan.parameters.items())],
        Tags=[{"Key": "hdcn:part", "Value": "console"}],
    )
    change_set_id = created["Id"]
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set_id, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    except Exception:  # botocore's WaiterError: FAILED, most often "no changes"
        described = cfn.describe_change_set(ChangeSetName=change_set_id)
        reason = str(described.get("StatusReason", ""))
        cfn.delete_change_set(ChangeSetName=change_set_id)
        if "didn't contain changes" in reason or "No updates" in reason:
            out("  no changes: the stack already runs this image with these parameters")
            return True
        out(f"  the change set failed: {reason}")
        return False
    changes = cfn.describe_change_set(ChangeSetName=change_set_id).get("Changes", [])
    for change in changes:
        rc = change.get("ResourceChange", {})
        replace = " (replacement)" if rc.get("Replacement") == "True" else ""
        out(f"    {rc.get('Action')} {rc.get('LogicalResourceId')} {rc.get('ResourceType')}{replace}")
    cfn.execute_change_set(ChangeSetName=change_set_id)
    waiter = "stack_create_complete" if first else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=plan.stack, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except Exception as err:  # WaiterError: failed and rolled back (the circuit breaker stops a bad image)
        out(f"  {plan.stack} did not reach a complete state ({type(err).__name__}): see its events")
        return False
    return True


def wait_until_healthy(
    url: str, wait_s: float, out: Out, get: Probe = probe, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Step 5: poll the console's health URL until 200 or the time is up."""
    deadline = time.monotonic() + wait_s
    target = url.rstrip("/") + HEALTH_PATH
    while True:
        status, body = get(target, 10.0)
        if status == 200:
            out(f"  GET {target} answered 200")
            return True
        said = f"answered {status}" if status else f"no answer yet ({body})"
        if time.monotonic() >= deadline:
            out(f"  GET {target} {said}; gave up after {wait_s:g} s")
            return False
        out(f"  GET {target} {said}; again in 15 s")
        sleep(15.0)


# ---------------------------------------------------------------- deploy: the command


@dataclass
class Deps:
    """What a deploy touches, injectable so the unit tests record the steps without network."""

    clients: Callable[[str], Any]
    lint: Callable[[Out], bool] = lint
    build_and_push: Callable[[Plan, Out], int] = build_and_push
    get: Probe = probe
    sleep: Callable[[float], None] = time.sleep


def dry_run(args: argparse.Namespace, out: Out = print) -> int:
    """Print the five steps with every command; call nothing."""
    plan = plan_from_args(args)
    problems = argument_problems(plan)
    plan.domain = plan.domain or "<domain>"
    plan.certificate_arn = plan.certificate_arn or "<certificate-arn>"
    plan.parameters = {f"{p}": f"<{plan.backend_stack} output {k}>" for k, p in BACKEND_OUTPUTS.items()}
    plan.parameters.update(operator_parameters(args, plan))
    region = plan.region
    out(f"hdcn console deploy --dry-run: {plan.stack} in {region}, image tag {plan.tag} (content hash)")
    for problem in problems:
        out(f"  (a real deploy would refuse: {problem})")
    out("step 1/5: state: the backend's outputs, the console stack's state, the certificate")
    out(f"  aws cloudformation describe-stacks --stack-name {plan.backend_stack} --region {region}")
    out(f"    needs a stable status and the outputs {', '.join(BACKEND_OUTPUTS)} (ApiUrl must be https)")
    out(f"  aws cloudformation describe-stacks --stack-name {plan.stack} --region {region}")
    out("    refuses *_IN_PROGRESS, *_FAILED and ROLLBACK_COMPLETE")
    out(f"  aws acm describe-certificate --certificate-arn {plan.certificate_arn} --region {region}")
    out(f"    must be ISSUED and cover {plan.domain}")
    out("step 2/5: lint the console template")
    from console.ops_cmd import cfn_lint_cli

    out(f"  {shlex.join([cfn_lint_cli(), str(CONSOLE_TEMPLATE.relative_to(REPO_ROOT))])}")
    out(f"step 3/5: build and push the console image, only if ECR has no {plan.repository}:{plan.tag}")
    out(f"  aws ecr describe-images --repository-name {plan.repository} --image-ids imageTag={plan.tag}")
    lines: list[str] = []
    image_cmd.cmd_build(image_args(plan, True), out=lines.append)
    image_cmd.cmd_push(image_args(plan, True), out=lines.append)
    for line in lines:
        out(f"  {line}")
    out(f"step 4/5: deploy {plan.stack} (a change set, shown, then executed)")
    for line in cli_lines(plan, None):
        out(f"  {line}")
    out(f"step 5/5: wait until the console answers over HTTPS (up to {args.wait_seconds:g} s)")
    out(f"  curl --fail {plan.url}{HEALTH_PATH}  (every 15 s until 200)")
    out(f"  then: the console is online at {plan.url}")
    out("nothing was run")
    return 0


def deploy(args: argparse.Namespace, deps: Deps, out: Out = print) -> int:
    """The five steps; stops at the first that fails."""
    plan = plan_from_args(args)
    problems = argument_problems(plan)
    if problems:
        for problem in problems:
            out(f"refusing: {problem}")
        return 2
    plan.parameters.update(operator_parameters(args, plan))
    out(f"step 1/5: state of {plan.backend_stack} and {plan.stack} in {plan.region}")
    if not check_state(plan, deps.clients, out):
        return 2
    out("step 2/5: lint the console template")
    if not deps.lint(out):
        out("  cfn-lint failed: fix infra/console.yaml first")
        return 1
    out(f"step 3/5: console image {plan.repository}:{plan.tag}")
    if image_in_ecr(deps.clients("ecr"), plan.repository, plan.tag):
        out("  inputs unchanged: the image is already in ECR, not rebuilt")
    elif deps.build_and_push(plan, out) != 0:
        out("  the image was not built and pushed; see above")
        return 1
    out(f"step 4/5: deploy {plan.stack}")
    if not deploy_stack(plan, deps.clients("cloudformation"), out):
        return 1
    outputs, _ = stack_outputs(deps.clients("cloudformation"), plan.stack)
    lb = (outputs or {}).get("LoadBalancerDnsName")
    out(f"step 5/5: wait until {plan.url} answers")
    if not wait_until_healthy(plan.url, args.wait_seconds, out, deps.get, deps.sleep):
        if not args.hosted_zone_id:
            where = lb or f"the LoadBalancerDnsName output of {plan.stack}"
            out(f"  if {plan.domain} does not resolve yet: point a CNAME for it at {where} (the club's DNS)")
        return 1
    out(f"the console is online at {plan.url}")
    return 0


def cmd_console_deploy(args: argparse.Namespace, out: Out = print) -> int:
    if args.dry_run:
        return dry_run(args, out)
    import boto3

    session = boto3.session.Session(region_name=args.region)
    cache: dict[str, Any] = {}

    def clients(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service)
        return cache[service]

    return deploy(args, Deps(clients=clients), out)


# ---------------------------------------------------------------- the image on a laptop

# The file in the state folder where the local stack keeps its session key (issue 15), when it does.
LOCAL_SESSION_SECRET_FILE = "session-secret"  # noqa: S105 - a file name, not a secret
LOCAL_CONTAINER = "hdcn-console-local"


def local_run_command(state: dict[str, Any], image: str) -> list[str]:
    """`docker run` of the console image against the local stack (host network: its 127.0.0.1 ports).

    The session key is passed by name only (`-e HDCN_SESSION_SECRET`, value from this process's
    environment), so it is never on a command line or in the printout.
    """
    outputs = state["outputs"]
    settings = {
        "HDCN_API_URL": state["api_url"],
        "HDCN_REGION": state["region"],
        "HDCN_USER_POOL_ID": outputs["UserPoolId"],
        "HDCN_CLIENT_ID": outputs["UserPoolClientId"],
        "HDCN_COGNITO_ENDPOINT": state["aws_endpoint"],
    }
    command = ["docker", "run", "--rm", "--name", LOCAL_CONTAINER, "--network", "host"]
    for key, value in settings.items():
        command += ["-e", f"{key}={value}"]
    return [*command, "-e", "HDCN_SESSION_SECRET", image]


def local_session_secret(state_dir: Path) -> str:
    """The local stack's session key if it keeps one (sign-ins then work in both), else a new one."""
    import secrets

    path = state_dir / LOCAL_SESSION_SECRET_FILE
    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    return kept or secrets.token_urlsafe(48)


def cmd_local_run(args: argparse.Namespace, out: Out = print) -> int:
    """Run (or print) the console image against the running local stack."""
    from backend.local.up import read_state

    state = read_state(Path(args.state_dir))
    image = f"{image_cmd.CONSOLE.repository}:{image_cmd.content_hash(spec=image_cmd.CONSOLE)}"
    command = local_run_command(state, image)
    if state.get("console_url"):
        out(
            f"the local stack already runs its console at {state['console_url']} (port 8501): "
            "start it with `hdcn local up --no-console` to run the image there instead"
        )
        return 2
    out(f"# the image `hdcn image build --console` builds: {image}")
    out(shlex.join(command) + "  # HDCN_SESSION_SECRET from the environment")
    out("# then open http://127.0.0.1:8501")
    if args.dry_run:
        return 0
    if shutil.which("docker") is None:
        out("docker is not installed or not on PATH")
        return 2
    env = {**os.environ, "HDCN_SESSION_SECRET": local_session_secret(Path(args.state_dir))}
    return subprocess.run(command, env=env).returncode


def register(subparsers: Any) -> None:
    """Add `console deploy` to the `hdcn` parser."""
    console = subparsers.add_parser("console", help="the admin console on AWS")
    sub = console.add_subparsers(dest="console_command", required=True)
    p = sub.add_parser(
        "deploy",
        help="state check, cfn-lint, image if changed, deploy webshop-console, wait for HTTPS health",
    )
    p.add_argument("--domain", help="the console's address, e.g. console.h-dcn.nl")
    p.add_argument("--certificate-arn", help="ACM certificate for the domain, in the same region")
    p.add_argument("--hosted-zone-id", help="Route 53 zone of the domain: the alias record is made there")
    p.add_argument("--alarm-topic-arn", help="SNS topic for the console-down alarm")
    p.add_argument("--allowed-cidr", help="who may reach the console (default: the internet)")
    p.add_argument("--backend-stack", default=DEFAULT_BACKEND_STACK)
    p.add_argument("--stack", default=DEFAULT_CONSOLE_STACK)
    p.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    p.add_argument("--repository", default=image_cmd.CONSOLE.repository, help="ECR repository of the image")
    p.add_argument("--wait-seconds", type=float, default=600.0, help="how long step 5 waits for HTTPS health")
    p.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="more infra/console.yaml parameters",
    )
    p.add_argument("--dry-run", action="store_true", help="print every command, run nothing")
    p.set_defaults(func=cmd_console_deploy)
    local = sub.add_parser(
        "local-run", help="run the console image against the local stack (started with --no-console)"
    )
    local.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".hdcn", help="local stack state")
    local.add_argument("--dry-run", action="store_true", help="print the docker command, run nothing")
    local.set_defaults(func=cmd_local_run)
