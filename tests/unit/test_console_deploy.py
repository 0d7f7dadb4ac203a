"""`hdcn console deploy`: the dry run, the refusals, a whole deploy into moto, and the console's health check.

The deploys run against moto in-process (CloudFormation, ACM, ECR); Docker, cfn-lint and the
HTTPS probe are replaced by recorders, so the tests see every step in order and need no network.
moto gives a stack created through a change set no Outputs (a moto gap; AWS does), so the tests
that read the console stack's outputs create it with `create_stack`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import moto.settings
import pytest
from hdcn_common.health_checks import CheckResult, HealthReport, Status

from console import hosting_cmd, image_cmd, ops_cmd
from console.cli import build_parser
from tests.unit.aws_fixtures import REGION, fresh_moto

pytestmark = pytest.mark.unit
DOMAIN = "console.example.org"
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod"
BACKEND_TEMPLATE = """
Resources:
  Placeholder:
    Type: AWS::Logs::LogGroup
Outputs:
  ApiUrl: {Value: "%s"}
  UserPoolId: {Value: eu-west-1_AbCdEf123}
  UserPoolClientId: {Value: client123}
"""


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["console", "deploy", *argv])


@dataclass
class Recorder:
    """The steps a deploy takes outside moto: lint, image, HTTPS probes, sleeps."""

    steps: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=lambda: [200])

    def deps(self) -> hosting_cmd.Deps:
        return hosting_cmd.Deps(
            clients=lambda service: boto3.client(service, region_name=REGION),
            lint=self.lint,
            build_and_push=self.build_and_push,
            get=self.get,
            sleep=lambda s: self.steps.append(f"sleep {s:g}"),
        )

    def lint(self, out: hosting_cmd.Out) -> bool:
        self.steps.append("lint")
        return True

    def build_and_push(self, plan: hosting_cmd.Plan, out: hosting_cmd.Out) -> int:
        self.steps.append(f"build+push {plan.repository}:{plan.tag}")
        return 0

    def get(self, url: str, timeout: float) -> tuple[int, str]:
        self.steps.append(f"GET {url}")
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return status, "ok" if status == 200 else "ConnectionRefusedError"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """GIVEN moto with the backend stack (its three outputs) and an issued certificate for the domain."""
    with fresh_moto(monkeypatch):
        monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)  # DNS validation done at once
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="webshop-backend", TemplateBody=BACKEND_TEMPLATE % API_URL
        )
        cert = boto3.client("acm", region_name=REGION).request_certificate(
            DomainName=DOMAIN, ValidationMethod="DNS"
        )["CertificateArn"]
        yield {"cert": cert}


def _console_parameters() -> dict[str, str]:
    (stack,) = boto3.client("cloudformation", region_name=REGION).describe_stacks(
        StackName="webshop-console"
    )["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


# ---------------------------------------------------------------- the dry run


def test_dry_run_prints_the_complete_sequence_and_calls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no AWS and no Docker may be touched (any boto3 session or subprocess fails the test)
    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError("the dry run touched something")

    monkeypatch.setattr(boto3.session, "Session", forbidden)
    monkeypatch.setattr(hosting_cmd.subprocess, "run", forbidden)
    monkeypatch.setattr(image_cmd.subprocess, "run", forbidden)
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"
    lines: list[str] = []
    # WHEN hdcn console deploy --dry-run with a domain and certificate
    args = _args("--dry-run", "--domain", DOMAIN, "--certificate-arn", arn)
    assert args.func(args, out=lines.append) == 0
    text = "\n".join(lines)
    tag = image_cmd.content_hash(spec=image_cmd.CONSOLE)
    # THEN five numbered steps, each with its exact commands
    assert [line.split(":")[0] for line in lines if line.startswith("step ")] == [
        f"step {n}/5" for n in range(1, 6)
    ]
    assert "aws cloudformation describe-stacks --stack-name webshop-backend --region eu-west-1" in text
    assert "aws cloudformation describe-stacks --stack-name webshop-console --region eu-west-1" in text
    assert f"aws acm describe-certificate --certificate-arn {arn} --region eu-west-1" in text
    assert "cfn-lint infra/console.yaml" in text
    assert f"aws ecr describe-images --repository-name hdcn-console --image-ids imageTag={tag}" in text
    build = next(line for line in lines if "docker build" in line)
    assert "DOCKER_BUILDKIT=0 docker build --platform linux/amd64" in build
    assert "docker/console/Dockerfile" in build and f"-t hdcn-console:{tag}" in build
    assert f"docker push '<account-id>.dkr.ecr.eu-west-1.amazonaws.com/hdcn-console:{tag}'" in text
    create = next(line for line in lines if "create-change-set" in line)
    for parameter in (
        f"ParameterKey=ConsoleImageTag,ParameterValue={tag}",
        f"ParameterKey=DomainName,ParameterValue={DOMAIN}",
        f"ParameterKey=CertificateArn,ParameterValue={arn}",
        "ParameterKey=ApiUrl,ParameterValue='<webshop-backend output ApiUrl>'",
        "ParameterKey=UserPoolClientId,",
        "--template-body file://infra/console.yaml --capabilities CAPABILITY_IAM",
    ):
        assert parameter in create
    assert "aws cloudformation execute-change-set --stack-name webshop-console" in text
    assert (
        "aws cloudformation wait stack-create-complete|stack-update-complete --stack-name webshop-console"
        in text
    )
    assert f"curl --fail https://{DOMAIN}/_stcore/health" in text
    assert lines[-2] == f"  then: the console is online at https://{DOMAIN}"
    assert lines[-1] == "nothing was run"


def test_dry_run_without_domain_or_certificate_says_a_deploy_would_refuse() -> None:
    lines: list[str] = []
    args = _args("--dry-run")
    assert args.func(args, out=lines.append) == 0
    text = "\n".join(lines)
    assert "a real deploy would refuse: --domain is required" in text
    assert "a real deploy would refuse: --certificate-arn is required" in text
    assert "curl --fail https://<domain>/_stcore/health" in text


# ---------------------------------------------------------------- refusals before anything changes


def test_refuses_a_certificate_from_another_region_before_any_aws_call() -> None:
    rec = Recorder()
    args = _args("--domain", DOMAIN, "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/x")
    # WHEN deployed with a us-east-1 certificate (a CloudFront habit) THEN refused with the reason
    deps = rec.deps()
    deps.clients = lambda service: pytest.fail("no AWS call expected")
    assert hosting_cmd.deploy(args, deps, rec.lines.append) == 2
    assert "takes a certificate from its own region only" in rec.text and not rec.steps


def test_refuses_without_the_backend_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_moto(monkeypatch):
        rec = Recorder()
        args = _args(
            "--domain", DOMAIN, "--certificate-arn", "arn:aws:acm:eu-west-1:123456789012:certificate/x"
        )
        assert hosting_cmd.deploy(args, rec.deps(), rec.lines.append) == 2
        assert "the backend stack webshop-backend it does not exist; deploy it first" in rec.text
        assert rec.steps == []  # nothing linted, built or deployed


def test_refuses_a_certificate_that_does_not_cover_the_domain(aws: dict[str, str]) -> None:
    other = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName="*.elsewhere.example", ValidationMethod="DNS"
    )["CertificateArn"]
    rec = Recorder()
    assert (
        hosting_cmd.deploy(
            _args("--domain", DOMAIN, "--certificate-arn", other), rec.deps(), rec.lines.append
        )
        == 2
    )
    assert f"does not cover {DOMAIN}" in rec.text and rec.steps == []


def test_refuses_a_certificate_still_pending_validation(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    pending = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName=DOMAIN, ValidationMethod="DNS"
    )["CertificateArn"]
    rec = Recorder()
    assert (
        hosting_cmd.deploy(
            _args("--domain", DOMAIN, "--certificate-arn", pending), rec.deps(), rec.lines.append
        )
        == 2
    )
    assert "PENDING_VALIDATION, not ISSUED" in rec.text


def test_wildcard_certificates_cover_one_label() -> None:
    cert = {"DomainName": "h-dcn.nl", "SubjectAlternativeNames": ["h-dcn.nl", "*.h-dcn.nl"]}
    assert hosting_cmd.covers(cert, "console.h-dcn.nl") and hosting_cmd.covers(cert, "h-dcn.nl")
    assert not hosting_cmd.covers(cert, "a.console.h-dcn.nl") and not hosting_cmd.covers(cert, "h-dcn.org")


# ---------------------------------------------------------------- a whole deploy into moto


def test_first_deploy_builds_the_image_creates_the_stack_and_waits_for_https(aws: dict[str, str]) -> None:
    # GIVEN an empty ECR and a console that answers only at the third probe
    rec = Recorder(answers=[0, 502, 200])
    args = _args(
        "--domain",
        DOMAIN,
        "--certificate-arn",
        aws["cert"],
        "--alarm-topic-arn",
        "arn:aws:sns:eu-west-1:123456789012:ops",
    )
    # WHEN deployed
    code = hosting_cmd.deploy(args, rec.deps(), rec.lines.append)
    # THEN every step ran in order, and the address is printed last
    assert code == 0, rec.text
    tag = image_cmd.content_hash(spec=image_cmd.CONSOLE)
    health = f"GET https://{DOMAIN}/_stcore/health"
    assert rec.steps == [
        "lint",
        f"build+push hdcn-console:{tag}",
        health,
        "sleep 15",
        health,
        "sleep 15",
        health,
    ]
    assert rec.lines[-1] == f"the console is online at https://{DOMAIN}"
    # and the console stack got the backend's outputs and the operator's choices as parameters
    params = _console_parameters()
    assert params["ApiUrl"] == API_URL and params["UserPoolId"] == "eu-west-1_AbCdEf123"
    assert params["UserPoolClientId"] == "client123" and params["ConsoleImageTag"] == tag
    assert params["DomainName"] == DOMAIN and params["CertificateArn"] == aws["cert"]
    assert params["AlarmTopicArn"].endswith(":ops")


def test_second_deploy_skips_an_image_ecr_already_has(aws: dict[str, str]) -> None:
    # GIVEN the console's current tag already in ECR
    tag = image_cmd.content_hash(spec=image_cmd.CONSOLE)
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="hdcn-console")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": image_cmd.DOCKER_V2, "config": {}, "layers": []})
    ecr.put_image(repositoryName="hdcn-console", imageManifest=manifest, imageTag=tag)
    rec = Recorder()
    # WHEN deployed THEN no build, the stack is deployed and the console answers
    assert (
        hosting_cmd.deploy(
            _args("--domain", DOMAIN, "--certificate-arn", aws["cert"]), rec.deps(), rec.lines.append
        )
        == 0
    )
    assert not [s for s in rec.steps if s.startswith("build")]
    assert "inputs unchanged: the image is already in ECR, not rebuilt" in rec.text


def test_health_that_never_comes_fails_and_names_the_dns_step(aws: dict[str, str]) -> None:
    rec = Recorder(answers=[0])
    args = _args("--domain", DOMAIN, "--certificate-arn", aws["cert"], "--wait-seconds", "0")
    assert hosting_cmd.deploy(args, rec.deps(), rec.lines.append) == 1
    assert "gave up after 0 s" in rec.text
    assert "point a CNAME for it at" in rec.text and "online" not in rec.lines[-1]


def test_refuses_a_console_stack_in_the_middle_of_an_update(aws: dict[str, str]) -> None:
    from moto.cloudformation.models import cloudformation_backends

    assert (
        hosting_cmd.deploy(
            _args("--domain", DOMAIN, "--certificate-arn", aws["cert"]), Recorder().deps(), lambda _: None
        )
        == 0
    )
    for stack in cloudformation_backends["123456789012"][REGION].stacks.values():
        if stack.name == "webshop-console":
            stack.status = "UPDATE_IN_PROGRESS"
    rec = Recorder()
    assert (
        hosting_cmd.deploy(
            _args("--domain", DOMAIN, "--certificate-arn", aws["cert"]), rec.deps(), rec.lines.append
        )
        == 2
    )
    assert "webshop-console: the stack is UPDATE_IN_PROGRESS" in rec.text and rec.steps == []


# ---------------------------------------------------------------- the console's check in `hdcn health`


def test_console_check_passes_fails_and_says_when_it_does_not_apply() -> None:
    ok = hosting_cmd.console_check(f"https://{DOMAIN}", "given", get=lambda url, t: (200, "ok"))
    assert ok.status == Status.PASS and f"https://{DOMAIN}/_stcore/health" in ok.detail
    down = hosting_cmd.console_check(f"https://{DOMAIN}/", "given", get=lambda url, t: (503, ""))
    assert down.status == Status.FAIL and "answered 503" in down.detail and down.fix
    unknown = hosting_cmd.console_check(None, "no webshop-console stack: it does not exist")
    assert unknown.status == Status.NOT_APPLICABLE and "does not exist" in unknown.detail
    plain = hosting_cmd.console_check(f"http://{DOMAIN}", "given", get=lambda url, t: pytest.fail("called"))
    assert plain.status == Status.FAIL and "must be https" in plain.detail


def test_console_check_against_a_real_local_listener() -> None:
    # GIVEN nothing listens on a free loopback port WHEN checked THEN a failure naming `hdcn local up`
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = hosting_cmd.console_check(f"http://127.0.0.1:{port}", "the local stack", timeout=2)
    assert result.status == Status.FAIL and "did not answer" in result.detail
    assert result.fix and "hdcn local up" in result.fix


def test_hdcn_health_adds_the_console_check_from_the_console_stack(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the console stack (created directly: moto gives a stack made by a change set no Outputs)
    # and a console that is down
    params = {
        "ConsoleImageTag": "0123456789abcdef",
        "ApiUrl": API_URL,
        "UserPoolId": "eu-west-1_AbCdEf123",
        "UserPoolClientId": "client123",
        "DomainName": DOMAIN,
        "CertificateArn": aws["cert"],
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="webshop-console",
        TemplateBody=hosting_cmd.CONSOLE_TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    monkeypatch.setattr(hosting_cmd, "probe", lambda url, timeout: (503, ""))
    report = HealthReport(
        stack_name="webshop-backend",
        checked_at="2026-12-02T08:00:00+00:00",
        local=False,
        ok=True,
        counts={"pass": 1},
        checks=[CheckResult(id="x", title="x", status=Status.PASS, detail="fine")],
    )
    target = ops_cmd.Target(
        name="moto", clients=lambda s: boto3.client(s, region_name=REGION), api_url=None, token=None
    )
    args = build_parser().parse_args(["health", "--aws"])
    # WHEN the console check is added THEN it reads the address from the stack and the report fails
    checked = ops_cmd.with_console_check(args, target, report)
    console = checked.checks[-1]
    assert console.id == "console_health" and console.status == Status.FAIL
    assert f"https://{DOMAIN}/_stcore/health answered 503" in console.detail
    assert "ConsoleUrl output" in console.detail
    assert not checked.ok and checked.counts["fail"] == 1 and checked.counts["pass"] == 1


def test_local_console_address_comes_from_the_local_stack_state(tmp_path: Path) -> None:
    # GIVEN a local stack's state file with its console WHEN the address is looked up locally
    (tmp_path / "local-stack.json").write_text(json.dumps({"console_url": "http://127.0.0.1:8599"}))
    args = build_parser().parse_args(["health", "--local", "--state-dir", str(tmp_path)])
    assert hosting_cmd.console_address(args, None, local=True) == ("http://127.0.0.1:8599", "the local stack")
    # THEN without a console, or without any state, the check does not apply (and says why)
    (tmp_path / "local-stack.json").write_text(json.dumps({"console_url": None}))
    assert hosting_cmd.console_address(args, None, local=True)[0] is None
    empty = build_parser().parse_args(["health", "--local", "--state-dir", str(tmp_path / "none")])
    url, why = hosting_cmd.console_address(empty, None, local=True)
    assert url is None and "no local stack state" in why
    # and an address given on the command line wins
    given = build_parser().parse_args(["health", "--console-url", "https://c.example.org"])
    assert hosting_cmd.console_address(given, None, local=True) == ("https://c.example.org", "given")


class ReviewStackCfn:
    """A CloudFormation whose console stack waits in REVIEW_IN_PROGRESS (moto would make a second
    stack of the same name for the next CREATE change set, so this one is recorded by hand)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {"Stacks": [{"StackName": StackName, "StackStatus": "REVIEW_IN_PROGRESS"}]}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(f"create_change_set {kwargs['ChangeSetType']}")
        return {"Id": "cs-1"}

    def get_waiter(self, name: str) -> Any:
        self.calls.append(f"wait {name}")
        return argparse.Namespace(wait=lambda **kwargs: None)

    def describe_change_set(self, ChangeSetName: str) -> dict[str, Any]:
        return {"Changes": [{"ResourceChange": {"Action": "Add", "LogicalResourceId": "Vpc"}}]}

    def execute_change_set(self, ChangeSetName: str) -> None:
        self.calls.append("execute_change_set")


def test_a_stack_left_in_review_by_a_failed_first_change_set_gets_a_create() -> None:
    # GIVEN the console stack in REVIEW_IN_PROGRESS WHEN deployed THEN a CREATE change set, waited as a create
    cfn = ReviewStackCfn()
    plan = hosting_cmd.Plan(
        region=REGION,
        backend_stack="webshop-backend",
        stack="webshop-console",
        repository="hdcn-console",
        tag="abc",
        domain=DOMAIN,
        certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/x",
    )
    lines: list[str] = []
    assert hosting_cmd.deploy_stack(plan, cfn, lines.append)
    assert cfn.calls == [
        "create_change_set CREATE",
        "wait change_set_create_complete",
        "execute_change_set",
        "wait stack_create_complete",
    ]
    assert "--change-set-type CREATE" in "\n".join(lines)


# ---------------------------------------------------------------- the image against the local stack

LOCAL_STATE = {
    "api_url": "http://127.0.0.1:3000",
    "region": "eu-west-1",
    "aws_endpoint": "http://127.0.0.1:4566",
    "console_url": None,
    "outputs": {"UserPoolId": "eu-west-1_local", "UserPoolClientId": "localclient"},
}


def test_local_run_prints_the_docker_command_without_the_session_key(tmp_path: Path) -> None:
    # GIVEN a local stack started without its console, keeping a session key
    (tmp_path / "local-stack.json").write_text(json.dumps(LOCAL_STATE))
    (tmp_path / "session-secret").write_text("kept-local-key\n")
    lines: list[str] = []
    args = build_parser().parse_args(["console", "local-run", "--dry-run", "--state-dir", str(tmp_path)])
    # WHEN printed THEN the docker command names the local endpoints and passes the key by name only
    assert args.func(args, out=lines.append) == 0
    text = "\n".join(lines)
    tag = image_cmd.content_hash(spec=image_cmd.CONSOLE)
    command = next(line for line in lines if line.startswith("docker run"))
    assert command.startswith("docker run --rm --name hdcn-console-local --network host ")
    for setting in (
        "-e HDCN_API_URL=http://127.0.0.1:3000",
        "-e HDCN_USER_POOL_ID=eu-west-1_local",
        "-e HDCN_CLIENT_ID=localclient",
        "-e HDCN_COGNITO_ENDPOINT=http://127.0.0.1:4566",
        f"-e HDCN_SESSION_SECRET hdcn-console:{tag}",
    ):
        assert setting in command
    assert "kept-local-key" not in text


def test_local_run_hands_the_key_to_docker_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "local-stack.json").write_text(json.dumps(LOCAL_STATE))
    (tmp_path / "session-secret").write_text("kept-local-key\n")
    seen: dict[str, Any] = {}

    def fake_run(argv: list[str], env: dict[str, str]) -> Any:
        seen.update(argv=argv, env=env)
        return argparse.Namespace(returncode=0)

    monkeypatch.setattr(hosting_cmd.shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setattr(hosting_cmd.subprocess, "run", fake_run)
    args = build_parser().parse_args(["console", "local-run", "--state-dir", str(tmp_path)])
    assert args.func(args, out=lambda _: None) == 0
    assert seen["env"]["HDCN_SESSION_SECRET"] == "kept-local-key"
    assert not [a for a in seen["argv"] if "kept-local-key" in a]


def test_local_run_refuses_while_the_local_stack_runs_its_own_console(tmp_path: Path) -> None:
    (tmp_path / "local-stack.json").write_text(
        json.dumps({**LOCAL_STATE, "console_url": "http://127.0.0.1:8501"})
    )
    lines: list[str] = []
    args = build_parser().parse_args(["console", "local-run", "--dry-run", "--state-dir", str(tmp_path)])
    assert args.func(args, out=lines.append) == 2
    assert "hdcn local up --no-console" in lines[0]
