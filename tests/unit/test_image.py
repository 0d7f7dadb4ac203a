"""The generator image: Dockerfile lint, pinned requirements, and `hdcn image` in dry-run mode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from console import image_cmd
from console.cli import build_parser

pytestmark = pytest.mark.unit
DOCKER_DIR = image_cmd.REPO_ROOT / "docker" / "parquet-generator"


def _hdcn(*argv: str) -> list[str]:
    lines: list[str] = []
    args = build_parser().parse_args(list(argv))
    assert args.func(args, out=lines.append) == 0
    return lines


def test_dockerfile_passes_hadolint() -> None:
    # GIVEN the Dockerfile WHEN hadolint (installed from PyPI into the venv) lints it THEN it is clean
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(DOCKER_DIR / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_uses_the_lambda_python_base_and_the_handler() -> None:
    text = (DOCKER_DIR / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.11\n" in text
    assert 'CMD ["app.lambda_handler"]' in text
    # The files the Dockerfile copies are the ones the content hash covers.
    for source in image_cmd.IMAGE_SOURCES[1:]:
        assert source in text


def test_requirements_are_pinned_and_pandas_free() -> None:
    lines = [
        line.strip()
        for line in (DOCKER_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all("==" in line for line in lines)
    names = {line.split("==")[0].lower() for line in lines}
    assert {"pyarrow", "boto3"} <= names and "pandas" not in names


def test_build_dry_run_prints_legacy_builder_command() -> None:
    # WHEN `hdcn image build --dry-run` runs THEN it prints the exact legacy-builder command with both tags
    tag = image_cmd.content_hash()
    lines = _hdcn("image", "build", "--dry-run")
    command = next(line for line in lines if "docker build" in line)
    assert command.startswith("DOCKER_BUILDKIT=0 docker build --platform linux/amd64 ")
    assert f"-t hdcn-parquet-generator:{tag} -t hdcn-parquet-generator:latest" in command


def test_buildkit_dry_run_disables_attestations() -> None:
    lines = _hdcn("image", "build", "--dry-run", "--builder", "buildkit")
    command = next(line for line in lines if "buildx" in line)
    for flag in ("--platform linux/amd64", "--provenance=false", "--sbom=false", "--load"):
        assert flag in command


def test_push_dry_run_prints_login_tags_pushes_and_check() -> None:
    tag = image_cmd.content_hash()
    lines = _hdcn("image", "push", "--dry-run", "--account-id", "123456789012", "--region", "eu-west-1")
    reg = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hdcn-parquet-generator"
    assert any("docker login --username AWS --password-stdin" in line for line in lines)
    assert f"docker push {reg}:{tag}" in lines and f"docker push {reg}:latest" in lines
    assert any(image_cmd.DOCKER_V2 in line for line in lines)


def test_content_hash_follows_the_image_files(tmp_path: Path) -> None:
    # GIVEN a copy of the image's files
    for rel in image_cmd.IMAGE_SOURCES:
        src = image_cmd.REPO_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp_path / rel)
    before = image_cmd.content_hash(tmp_path)
    assert before == image_cmd.content_hash(image_cmd.REPO_ROOT)
    # WHEN the handler changes THEN the tag changes; an unrelated file does not change it
    (tmp_path / "README.md").write_text("not in the image")
    assert image_cmd.content_hash(tmp_path) == before
    app = tmp_path / "backend/handler/generate_member_parquet/app.py"
    app.write_text(app.read_text() + "\n# changed\n")
    assert image_cmd.content_hash(tmp_path) != before


def test_staged_context_holds_only_the_image_files() -> None:
    with image_cmd.staged_context() as ctx:
        staged = sorted(p.relative_to(ctx).as_posix() for p in ctx.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(image_cmd.REPO_ROOT).as_posix() for p in image_cmd.image_files())
    assert staged == expected
    assert not any(".venv" in s or "tests/" in s for s in staged)


@pytest.mark.parametrize(
    ("media_type", "accepted"),
    [
        (image_cmd.DOCKER_V2, True),
        (image_cmd.OCI_MANIFEST, True),
        ("application/vnd.oci.image.index.v1+json", False),
        ("application/vnd.docker.distribution.manifest.list.v2+json", False),
    ],
)
def test_manifest_check_accepts_what_lambda_accepts(media_type: str, accepted: bool) -> None:
    # GIVEN an ECR repository (moto) holding an image pushed with `media_type`
    with mock_aws():
        ecr = boto3.client("ecr", region_name="eu-west-1")
        ecr.create_repository(repositoryName="gen")
        manifest = {"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": []}
        ecr.put_image(
            repositoryName="gen",
            imageManifest=json.dumps(manifest),
            imageManifestMediaType=media_type,
            imageTag="abc",
        )
        # WHEN the push's check asks ECR THEN one image manifest passes, an index or list is refused
        ok, message = image_cmd.verify_lambda_manifest(ecr, "gen", "abc")
    assert ok is accepted
    assert ok or ("Lambda refuses" in message and image_cmd.DOCKER_V2 in message)
