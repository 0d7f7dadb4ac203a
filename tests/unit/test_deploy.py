"""`hdcn deploy`: the dry run's five steps, the refusal on a busy or failed stack, samconfig.toml."""

from __future__ import annotations

import argparse
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    # WHEN hdcn deploy --dry-run (no AWS target) THEN five numbered steps, each with its exact commands
    assert ops_cmd.deploy_dry_run(_args("--dry-run"), out=lines.append) == 0
    text = "\n".join(lines)
    assert [line.split(":")[0] for line in lines if line.startswith("step ")] == [
        f"step {n}/5" for n in range(1, 6)
    ]
    tag = image_cmd.content_hash()
    assert "aws cloudformation describe-stacks --stack-name webshop-backend --region eu-west-1" in text
    assert "cfn-lint template.yaml" in text
    assert "DOCKER_BUILDKIT=0 docker build" in text and f"{image_cmd.DEFAULT_REPOSITORY}:{tag}" in text
    # the layer is built by pip for Lambda's platform (no python3.11 needed), not by `sam build`
    assert (
        "pip install --quiet --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 "
        "--only-binary=:all:"
    ) in text
    assert "sam build" not in text
    assert (
        "sam-venv/bin/sam deploy --config-file samconfig.toml --template-file .aws-sam/hdcn/template.json "
        "--image-repository '<account-id>.dkr.ecr.eu-west-1.amazonaws.com/hdcn-parquet-generator' "
        f"--no-execute-changeset --parameter-overrides GeneratorImageTag={tag} "
        "GeneratorImageRepository=hdcn-parquet-generator"
    ) in text
    assert "describe-change-set" in text and "execute-change-set" in text and "removed or replaced" in text
    assert "hdcn health --aws --stack webshop-backend" in text
    assert "GET /members?limit=1" in text and "hdcn-deploy-smoke" in text
    # and no command of it is git
    assert not any(line.strip().startswith("git ") for line in lines)


def test_dry_run_with_a_repository_passes_it_as_the_image_parameter() -> None:
    # GIVEN hdcn deploy --dry-run --repository X WHEN printed THEN sam gets GeneratorImageRepository=X
    lines: list[str] = []
    ops_cmd.deploy_dry_run(_args("--dry-run", "--repository", "club-generator"), out=lines.append)
    sam = next(line for line in lines if " deploy --config-file" in line)
    assert "GeneratorImageRepository=club-generator" in sam
    assert ".dkr.ecr.eu-west-1.amazonaws.com/club-generator" in sam


def test_operator_choices_become_parameter_overrides() -> None:
    args = _args("--repository", "r", "--alarm-topic-arn", "arn:aws:sns:eu-west-1:1:ops", "--api-access-logs")
    assert ops_cmd.parameter_overrides(args, "abc") == [
        "GeneratorImageTag=abc",
        "GeneratorImageRepository=r",
        "AlarmTopicArn=arn:aws:sns:eu-west-1:1:ops",
        "ApiAccessLogging=on",
    ]


def test_adoption_parameters_reach_sam_deploy_and_a_malformed_pair_is_refused() -> None:
    # GIVEN the adoption parameters on the command line WHEN the dry run prints sam deploy THEN they are in it
    lines: list[str] = []
    adopt = ["ExistingMembersTableName=Members", "ExistingUserPoolId=eu-west-1_AbC123"]
    ops_cmd.deploy_dry_run(
        _args("--dry-run", "--no-review", "--parameter-overrides", *adopt), out=lines.append
    )
    sam = next(line for line in lines if " deploy --config-file" in line)
    assert all(pair in sam for pair in adopt)
    with pytest.raises(SystemExit, match="not KEY=VALUE"):
        ops_cmd.parameter_overrides(_args("--parameter-overrides", "ExistingMembersTableName"), "abc")


def test_the_deploy_template_points_at_the_built_layer_and_needs_no_sam_build(tmp_path: Path) -> None:
    # GIVEN a built layer folder WHEN the deploy template is written
    path = ops_cmd.deploy_template(tmp_path, tmp_path / "layer")
    template = json.loads(path.read_text())
    layer = template["Resources"]["SharedLayer"]
    # THEN the layer is that folder (no BuildMethod left for sam to run python3.11 for)
    assert layer["Properties"]["ContentUri"] == str(tmp_path / "layer")
    assert "BuildMethod" not in layer.get("Metadata", {})
    # and every zip function's code folder exists as named
    for res in template["Resources"].values():
        code = res.get("Properties", {}).get("CodeUri")
        if isinstance(code, str):
            assert Path(code).is_dir(), code


def test_api_access_logs_are_refused_on_an_account_without_the_role(stack: MockedStack) -> None:
    target = ops_cmd.Target(name="moto", clients=stack.client, api_url=None, token=None)
    lines: list[str] = []
    # GIVEN a fresh account (no API Gateway CloudWatch role) WHEN deploying with --api-access-logs
    # THEN step 1 refuses, before the lint, the image or sam
    assert ops_cmd.deploy(_args("--api-access-logs"), target, out=lines.append) == 2
    assert any("cloudwatchRoleArn" in line for line in lines)
    assert not any(line.startswith("step 2/5") for line in lines)


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (None, False),
        ("CREATE_COMPLETE", False),
        ("UPDATE_COMPLETE", False),
        ("UPDATE_ROLLBACK_COMPLETE", False),
        ("REVIEW_IN_PROGRESS", False),  # an empty stack awaiting its first change set
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
    _push_current_image(stack)
    # and HDCN_SAM_CLI naming a sam that is not installed (the layer build is not under test here)
    monkeypatch.setenv("HDCN_SAM_CLI", str(tmp_path / "no-sam-here" / "sam"))
    monkeypatch.setattr(ops_cmd, "build_layer", lambda build_dir, out: tmp_path)
    monkeypatch.setattr(ops_cmd, "BUILD_DIR", str(tmp_path / "build"))  # not in the work tree
    target = ops_cmd.Target(name="moto", clients=stack.client, api_url=None, token=None)
    lines: list[str] = []
    # WHEN hdcn deploy runs THEN it passes the state check and the lint, skips the image build,
    # and stops at sam with a non-zero exit, never reaching the health checks
    assert ops_cmd.deploy(_args(), target, out=lines.append) == 1
    text = "\n".join(lines)
    assert "CREATE_COMPLETE: ok" in text and "step 2/5" in text
    assert "inputs unchanged: the image is already in ECR, not rebuilt" in text
    assert "sam failed" in text and "step 5/5" not in text


def _push_current_image(stack: MockedStack, repository: str = image_cmd.DEFAULT_REPOSITORY) -> None:
    tag = image_cmd.content_hash()
    manifest = {"schemaVersion": 2, "mediaType": image_cmd.DOCKER_V2, "config": {}, "layers": []}
    ecr = stack.client("ecr")
    if repository != image_cmd.DEFAULT_REPOSITORY:
        ecr.create_repository(repositoryName=repository)
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


# A describe_change_set answer as CloudFormation gives it (shape of the API reference's example):
# an update that changes a function's code in place and, through a changed key schema, replaces the
# members table; and one that would remove the user pool from the stack.
CHANGE_SET_ID = (
    "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/samcli-deploy1764650000/"
    "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
)


def _resource_change(
    action: str, logical_id: str, resource_type: str, physical_id: str | None, replacement: str | None
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Scope": ["Properties"] if action == "Modify" else [],
        "Details": [],
    }
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    if replacement is not None:
        change["Replacement"] = replacement
    if action == "Modify":
        change["Details"] = [
            {
                "Target": {"Attribute": "Properties", "Name": "KeySchema", "RequiresRecreation": "Always"},
                "Evaluation": "Static",
                "ChangeSource": "DirectModification",
            }
        ]
    if action == "Remove":
        change["PolicyAction"] = "Retain"
    return {"Type": "Resource", "HookInvocationCount": 0, "ResourceChange": change}


def _describe_change_set(changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ChangeSetName": "samcli-deploy1764650000",
        "ChangeSetId": CHANGE_SET_ID,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/webshop-backend/0f1e2d3c",
        "StackName": "webshop-backend",
        "Parameters": [{"ParameterKey": "GeneratorImageTag", "ParameterValue": "abc"}],
        "CreationTime": datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
        "ExecutionStatus": "AVAILABLE",
        "Status": "CREATE_COMPLETE",
        "NotificationARNs": [],
        "RollbackConfiguration": {},
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Changes": changes,
        "IncludeNestedStacks": False,
    }


LOSING = [
    _resource_change(
        "Modify", "MembersFunction", "AWS::Lambda::Function", "webshop-backend-MembersFunction-x", "False"
    ),
    _resource_change(
        "Modify", "MembersTable", "AWS::DynamoDB::Table", "webshop-backend-MembersTable-y", "True"
    ),
    _resource_change("Remove", "UserPool", "AWS::Cognito::UserPool", "eu-west-1_AbCdEf123", None),
    _resource_change(
        "Modify", "ExportBucket", "AWS::S3::Bucket", "webshop-backend-exportbucket-z", "Conditional"
    ),
]
SAFE = [
    _resource_change(
        "Modify", "MembersFunction", "AWS::Lambda::Function", "webshop-backend-MembersFunction-x", "False"
    ),
    _resource_change(
        "Modify", "MembersTable", "AWS::DynamoDB::Table", "webshop-backend-MembersTable-y", "False"
    ),
    _resource_change("Add", "NewAlarm", "AWS::CloudWatch::Alarm", None, None),
]


class ChangeSetCfn:
    """The stack's CloudFormation client, with sam's change set as CloudFormation would describe it."""

    def __init__(self, real: Any, changes: list[dict[str, Any]]) -> None:
        self.real, self.changes = real, changes
        self.executed: list[str] = []
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def list_change_sets(self, **kwargs: Any) -> dict[str, Any]:
        summary = {
            "ChangeSetId": CHANGE_SET_ID,
            "ChangeSetName": "samcli-deploy1764650000",
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "CreationTime": datetime.now(UTC),
        }
        return {"Summaries": [summary]}

    def describe_change_set(self, **kwargs: Any) -> dict[str, Any]:
        # two pages, as a long change set comes
        first, rest = self.changes[:2], self.changes[2:]
        if kwargs.get("NextToken") == "page-2":
            return _describe_change_set(rest)
        return {**_describe_change_set(first), "NextToken": "page-2"}

    def execute_change_set(self, **kwargs: Any) -> None:
        self.executed.append(kwargs["ChangeSetName"])

    def delete_change_set(self, **kwargs: Any) -> None:
        self.deleted.append(kwargs["ChangeSetName"])

    def delete_stack(self, **kwargs: Any) -> None:
        self.deleted.append(f"stack {kwargs['StackName']}")

    def get_waiter(self, name: str) -> Any:
        class Done:
            def wait(self, **kwargs: Any) -> None:
                return None

        return Done()


def _deploy_with_change_set(
    stack: MockedStack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    changes: list[dict[str, Any]],
    *argv: str,
) -> tuple[int, list[str], ChangeSetCfn, list[str]]:
    repository = (
        argv[argv.index("--repository") + 1] if "--repository" in argv else image_cmd.DEFAULT_REPOSITORY
    )
    _push_current_image(stack, repository)
    cfn = ChangeSetCfn(stack.client("cloudformation"), changes)
    commands: list[str] = []
    monkeypatch.setattr(ops_cmd, "build_layer", lambda build_dir, out: tmp_path)
    monkeypatch.setattr(ops_cmd, "BUILD_DIR", str(tmp_path / "build"))  # not in the work tree
    verified: list[str] = []

    def run(command: list[str], out: Any) -> bool:
        commands.append(" ".join(command))
        return True

    def verify(args: Any, target: Any, out: Any) -> int:
        verified.append("yes")
        return 0

    monkeypatch.setattr(ops_cmd, "_run", run)
    monkeypatch.setattr(ops_cmd, "verify_deployed", verify)

    def clients(service: str) -> Any:
        return cfn if service == "cloudformation" else stack.client(service)

    target = ops_cmd.Target(name="moto", clients=clients, api_url=None, token=None)
    lines: list[str] = []
    code = ops_cmd.deploy(_args(*argv), target, out=lines.append)
    return code, lines, cfn, verified + commands


def test_deploy_refuses_a_change_set_that_replaces_or_removes_data(
    stack: MockedStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN sam created a change set that replaces the members table, removes the user pool and may
    # replace the bucket WHEN hdcn deploy reviews it
    code, lines, cfn, ran = _deploy_with_change_set(stack, monkeypatch, tmp_path, LOSING)
    text = "\n".join(lines)
    # THEN it is shown, refused naming each resource, deleted and never executed; step 5 never runs
    assert code == 3
    assert "MembersFunction" in text and "REFUSED" in text
    assert "table MembersTable (webshop-backend-MembersTable-y) would be replaced (Replacement True)" in text
    assert "user pool UserPool (eu-west-1_AbCdEf123) would be removed" in text
    assert (
        "bucket ExportBucket (webshop-backend-exportbucket-z) would be replaced (Replacement Conditional)"
        in text
    )
    assert cfn.executed == [] and cfn.deleted == [CHANGE_SET_ID]
    assert "yes" not in ran and "step 5/5" not in text
    # and sam only created the change set
    assert any("--no-execute-changeset" in c for c in ran)


def test_deploy_executes_a_change_set_that_keeps_the_data(
    stack: MockedStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a change set that modifies the table in place (Replacement False) and a function
    code, lines, cfn, ran = _deploy_with_change_set(
        stack, monkeypatch, tmp_path, SAFE, "--repository", "club-gen"
    )
    # THEN it is executed and the deploy goes on to step 5
    assert code == 0, lines
    assert cfn.executed == [CHANGE_SET_ID] and cfn.deleted == []
    assert "no table, bucket or user pool is removed or replaced" in "\n".join(lines)
    assert "yes" in ran
    assert any("GeneratorImageRepository=club-gen" in c for c in ran)


def test_dry_run_shows_the_same_review_and_executes_nothing(
    stack: MockedStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _push_current_image(stack)
    cfn = ChangeSetCfn(stack.client("cloudformation"), LOSING)
    monkeypatch.setattr(ops_cmd, "build_layer", lambda build_dir, out: tmp_path)
    monkeypatch.setattr(ops_cmd, "BUILD_DIR", str(tmp_path / "build"))  # not in the work tree
    monkeypatch.setattr(ops_cmd, "_run", lambda command, out: True)
    target = ops_cmd.Target(
        name="moto",
        clients=lambda s: cfn if s == "cloudformation" else stack.client(s),
        api_url=None,
        token=None,
    )
    lines: list[str] = []
    assert ops_cmd.deploy_dry_run(_args("--dry-run"), out=lines.append, target=target) == 3
    assert any("table MembersTable" in line and "would be replaced" in line for line in lines)
    assert cfn.executed == [] and cfn.deleted == [CHANGE_SET_ID]


def test_a_retained_removal_may_be_released_by_name_but_a_replacement_never() -> None:
    from console import change_set

    changes = [change_set.Change.from_aws(c) for c in LOSING]
    # GIVEN the operator releases the user pool (kept by DeletionPolicy Retain) and the members table
    review = change_set.Review(
        "cs", "CREATE_COMPLETE", changes, released=frozenset({"UserPool", "MembersTable"})
    )
    # THEN the user pool's removal is accepted, the table's replacement is still refused
    assert not any("UserPool" in r for r in review.refusals)
    assert any("MembersTable" in r for r in review.refusals) and not review.accepted


def test_a_first_deploys_dry_run_leaves_no_empty_stack_behind(
    stack: MockedStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN no stack of that name yet: sam's change set creates one awaiting review
    _push_current_image(stack)
    cfn = ChangeSetCfn(stack.client("cloudformation"), SAFE)
    monkeypatch.setattr(ops_cmd, "build_layer", lambda build_dir, out: tmp_path)
    monkeypatch.setattr(ops_cmd, "BUILD_DIR", str(tmp_path / "build"))  # not in the work tree
    monkeypatch.setattr(ops_cmd, "_run", lambda command, out: True)
    target = ops_cmd.Target(
        name="moto",
        clients=lambda s: cfn if s == "cloudformation" else stack.client(s),
        api_url=None,
        token=None,
    )
    # WHEN the dry run has shown the review THEN the change set and the empty stack are deleted
    assert (
        ops_cmd.deploy_dry_run(_args("--dry-run", "--stack", "club-new"), out=lambda _: None, target=target)
        == 0
    )
    assert cfn.deleted == [CHANGE_SET_ID, "stack club-new"] and cfn.executed == []
