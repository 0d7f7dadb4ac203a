"""`hdcn deploy`: the dry run's five steps, the refusal on a busy or failed stack, samconfig.toml."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import pytest

from backend.local.template import REPO_ROOT
from console import image_cmd, ops_cmd
from console.cli import build_parser
from tests.unit.aws_fixtures import MockedStack

pytestmark = pytest.mark.unit


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["deploy", *argv])


def test_dry_run_prints_the_five_steps_with_their_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN sam in its own environment
    monkeypatch.setenv("HDCN_SAM_CLI", "sam-venv/bin/sam")
    lines: list[str] = []
    # WHEN hdcn deploy --dry-run THEN five numbered steps, each with its exact commands
    assert ops_cmd.deploy_dry_run(_args("--dry-run"), out=lines.append) == 0
    text = "\n".join(lines)
    assert [line.split(":")[0] for line in lines if line.startswith("step ")] == [
        f"step {n}/5" for n in range(1, 6)
    ]
    tag = image_cmd.content_hash()
    assert "aws cloudformation describe-stacks --stack-name webshop-backend --region eu-west-1" in text
    assert "cfn-lint template.yaml" in text
    assert "DOCKER_BUILDKIT=0 docker build" in text and f"{image_cmd.DEFAULT_REPOSITORY}:{tag}" in text
    assert "sam-venv/bin/sam build SharedLayer --config-file samconfig.toml" in text
    assert (
        "sam-venv/bin/sam deploy --config-file samconfig.toml --image-repository "
        "'<account-id>.dkr.ecr.eu-west-1.amazonaws.com/hdcn-parquet-generator' "
        f"--parameter-overrides GeneratorImageTag={tag}"
    ) in text
    assert "hdcn health --aws --stack webshop-backend" in text
    # and no command of it is git
    assert not any(line.strip().startswith("git ") for line in lines)


def test_alarm_topic_is_passed_to_sam() -> None:
    commands = ops_cmd.sam_commands("abc", "arn:aws:sns:eu-west-1:1:ops", "repo-uri")
    assert commands[1][-2:] == ["GeneratorImageTag=abc", "AlarmTopicArn=arn:aws:sns:eu-west-1:1:ops"]


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (None, False),
        ("CREATE_COMPLETE", False),
        ("UPDATE_COMPLETE", False),
        ("UPDATE_ROLLBACK_COMPLETE", False),
        ("UPDATE_IN_PROGRESS", True),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("CREATE_FAILED", True),
        ("UPDATE_ROLLBACK_FAILED", True),
        ("ROLLBACK_COMPLETE", True),
    ],
)
def test_refusal_by_stack_status(status: str | None, refused: bool) -> None:
    assert (ops_cmd.refusal(status) is not None) is refused


def test_deploy_refuses_a_stack_in_progress_before_doing_anything(stack: MockedStack) -> None:
    # GIVEN the stack in the middle of an update (set in moto's backend, as AWS would report it)
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends["123456789012"]["eu-west-1"]
    next(s for s in backend.stacks.values() if s.name == "webshop-backend").status = "UPDATE_IN_PROGRESS"
    target = ops_cmd.Target(name="moto", clients=stack.client, api_url=None, token=None)
    lines: list[str] = []
    # WHEN hdcn deploy runs THEN it refuses at step 1 and never lints, builds or deploys
    assert ops_cmd.deploy(_args(), target, out=lines.append) == 2
    assert any("refusing to deploy" in line and "UPDATE_IN_PROGRESS" in line for line in lines)
    assert not any(line.startswith("step 2/5") for line in lines)


def test_samconfig_deploys_webshop_backend_unattended() -> None:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["stack_name"] == "webshop-backend" and deploy["region"] == "eu-west-1"
    assert "CAPABILITY_IAM" in deploy["capabilities"] and "CAPABILITY_AUTO_EXPAND" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True and deploy["confirm_changeset"] is False
    # a command-line --parameter-overrides replaces the file's, so the file must set none
    assert "parameter_overrides" not in deploy


def test_unchanged_image_is_not_rebuilt_and_a_missing_sam_stops_the_deploy(
    stack: MockedStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN ECR already holds the image under the content hash of its current inputs
    tag = image_cmd.content_hash()
    manifest = {"schemaVersion": 2, "mediaType": image_cmd.DOCKER_V2, "config": {}, "layers": []}
    stack.client("ecr").put_image(
        repositoryName=image_cmd.DEFAULT_REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag
    )
    # and HDCN_SAM_CLI naming a sam that is not installed
    monkeypatch.setenv("HDCN_SAM_CLI", str(tmp_path / "no-sam-here" / "sam"))
    target = ops_cmd.Target(name="moto", clients=stack.client, api_url=None, token=None)
    lines: list[str] = []
    # WHEN hdcn deploy runs THEN it passes the state check and the lint, skips the image build,
    # and stops at sam with a non-zero exit, never reaching the health checks
    assert ops_cmd.deploy(_args(), target, out=lines.append) == 1
    text = "\n".join(lines)
    assert "CREATE_COMPLETE: ok" in text and "step 2/5" in text
    assert "inputs unchanged: the image is already in ECR, not rebuilt" in text
    assert "sam failed" in text and "step 5/5" not in text
