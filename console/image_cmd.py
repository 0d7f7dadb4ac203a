"""`hdcn image build|push [--console] [--dry-run]`: the generator's and the console's container images.

Lambda rejects an OCI image index, which BuildKit pushes by default (provenance and
SBOM attestations). So the image is built with the legacy builder (`DOCKER_BUILDKIT=0`)
or with BuildKit and `--provenance=false --sbom=false`, always for `linux/amd64` (the
function's architecture, whatever the laptop's), and after the push ECR is asked which
manifest it stored: it must be a Docker v2 manifest. Tags: a content hash of exactly the
files the image is made of (so a deploy sees every change) and `latest`.
The build context is staged in a temporary folder with only those files, so neither
builder ships the whole repository to the Docker daemon.

`--console` does the same for the admin console's image (`docker/console/Dockerfile`, run by
ECS on Fargate, x86_64): ECS would take an index too, but one build recipe for both images
keeps a single manifest check and one set of commands to read.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.local.template import REPO_ROOT


@dataclass(frozen=True)
class ImageSpec:
    """One image: its Dockerfile, the files it is made of, and where it is pushed."""

    name: str
    dockerfile: str
    sources: tuple[str, ...]  # relative to the repository root (the build context); folders recursively
    repository: str  # the default ECR repository
    tag_parameter: str  # the template parameter a deploy pins the content-hash tag with
    excluded: tuple[str, ...] = ()  # files under `sources` folders that are not part of the image


GENERATOR = ImageSpec(
    name="generator",
    dockerfile="docker/parquet-generator/Dockerfile",
    sources=(
        "docker/parquet-generator/Dockerfile",
        "docker/parquet-generator/requirements.txt",
        "backend/layer/hdcn_common",
        "backend/handler/generate_member_parquet/app.py",
    ),
    repository="hdcn-parquet-generator",
    tag_parameter="GeneratorImageTag",
)
# The operator's command line lives in console/ beside the app; the image leaves it out (it needs
# AWS credentials and tools the console never has). Docker's own copy of this list is
# docker/console/Dockerfile.dockerignore.
CONSOLE_OPERATOR_MODULES = (
    "cli.py",
    "image_cmd.py",
    "ops_cmd.py",
    "members_cmd.py",
    "change_set.py",
    "smoke.py",
    "hosting_cmd.py",
)
CONSOLE = ImageSpec(
    name="console",
    dockerfile="docker/console/Dockerfile",
    sources=(
        "docker/console/Dockerfile",
        "docker/console/requirements.txt",
        # The field catalogue the console reads: pure Python, no other layer module.
        "backend/layer/hdcn_common/__init__.py",
        "backend/layer/hdcn_common/member_fields.py",
        "backend/layer/hdcn_common/validators.py",
        "console",
    ),
    repository="hdcn-console",
    tag_parameter="ConsoleImageTag",
    excluded=tuple(f"console/{name}" for name in CONSOLE_OPERATOR_MODULES),
)

DOCKERFILE = GENERATOR.dockerfile
IMAGE_SOURCES = GENERATOR.sources
DEFAULT_REPOSITORY = GENERATOR.repository
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# What Lambda accepts: one image manifest. An index or manifest list (BuildKit's default with
# attestations, or a multi-platform build) is refused when the function is created or updated.
SINGLE_MANIFESTS = (DOCKER_V2, OCI_MANIFEST)
MANIFEST_LISTS = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
PLATFORM = "linux/amd64"


def spec_for(args: argparse.Namespace) -> ImageSpec:
    """The console's image with `--console`, else the generator's."""
    return CONSOLE if getattr(args, "console", False) else GENERATOR


def image_files(root: Path = REPO_ROOT, spec: ImageSpec = GENERATOR) -> list[Path]:
    """Every file that goes into the image, sorted (caches and bytecode left out)."""
    files: list[Path] = []
    for rel in spec.sources:
        path = root / rel
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files.extend(
            p
            for p in candidates
            if p.is_file()
            and "__pycache__" not in p.parts
            and p.suffix != ".pyc"
            and p.relative_to(root).as_posix() not in spec.excluded
        )
    return files


def content_hash(root: Path = REPO_ROOT, spec: ImageSpec = GENERATOR) -> str:
    """A short hash of the image's files (names and bytes): the image tag a deploy pins."""
    digest = hashlib.sha256()
    for path in image_files(root, spec):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@contextmanager
def staged_context(root: Path = REPO_ROOT, spec: ImageSpec = GENERATOR) -> Iterator[Path]:
    """A temporary build context holding only the image's files, at their repository paths."""
    with tempfile.TemporaryDirectory(prefix="hdcn-image-") as tmp:
        for path in image_files(root, spec):
            target = Path(tmp) / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        yield Path(tmp)


@dataclass(frozen=True)
class Step:
    """One command (or AWS API call) of a build or push; `env` is prefixed in the printout."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    stdin_from: str | None = None  # what is piped in (the ECR password), described, never printed

    def shell(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        command = shlex.join(self.argv)
        if self.stdin_from:
            command = f"{self.stdin_from} | {command}"
        return f"{prefix} {command}".strip()


def build_steps(
    context: str, repository: str, tag: str, builder: str, spec: ImageSpec = GENERATOR
) -> list[Step]:
    """The exact docker commands of a build."""
    tags = ("-t", f"{repository}:{tag}", "-t", f"{repository}:latest")
    dockerfile = f"{context}/{spec.dockerfile}"
    if builder == "legacy":
        return [
            Step(
                ("docker", "build", "--platform", PLATFORM, "-f", dockerfile, *tags, context),
                env=(("DOCKER_BUILDKIT", "0"),),
            )
        ]
    return [
        Step(
            (
                "docker",
                "buildx",
                "build",
                "--platform",
                PLATFORM,
                "--provenance=false",
                "--sbom=false",
                "--load",
                "-f",
                dockerfile,
                *tags,
                context,
            )
        )
    ]


def registry(account_id: str, region: str) -> str:
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def push_steps(repository: str, tag: str, account_id: str, region: str) -> list[Step]:
    """The exact docker commands of a push (the repository is created and the login fetched by boto3)."""
    reg = registry(account_id, region)
    steps = [
        Step(
            ("docker", "login", "--username", "AWS", "--password-stdin", reg),
            stdin_from=f"aws ecr get-login-password --region {region}",
        )
    ]
    for t in (tag, "latest"):
        steps.append(Step(("docker", "tag", f"{repository}:{t}", f"{reg}/{repository}:{t}")))
        steps.append(Step(("docker", "push", f"{reg}/{repository}:{t}")))
    return steps


def manifest_media_type(ecr: Any, repository: str, tag: str) -> str:
    """The manifest media type ECR reports for an image tag."""
    detail = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    media_type = detail.get("imageManifestMediaType")
    if not media_type:
        # Older ECR answers lack the field: read it from the manifest itself.
        image = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[{"imageTag": tag}],
            acceptedMediaTypes=[*SINGLE_MANIFESTS, *MANIFEST_LISTS],
        )["images"][0]
        media_type = image.get("imageManifestMediaType", "")
    return str(media_type)


def verify_lambda_manifest(ecr: Any, repository: str, tag: str) -> tuple[bool, str]:
    """Whether ECR stored one image manifest (what Lambda takes), and a sentence saying so."""
    media_type = manifest_media_type(ecr, repository, tag)
    if media_type in SINGLE_MANIFESTS:
        return True, f"ECR reports a single image manifest ({media_type}) for {repository}:{tag}"
    kind = "an image index / manifest list" if media_type in MANIFEST_LISTS else "no image manifest"
    return False, (
        f"ECR reports {media_type or 'no media type'} for {repository}:{tag}: {kind}, which Lambda refuses;"
        f" it needs one image manifest ({DOCKER_V2} or {OCI_MANIFEST})"
        " (rebuild with DOCKER_BUILDKIT=0 or --provenance=false --sbom=false, for one platform)"
    )


def _run(step: Step, stdin: bytes | None = None) -> None:
    env = None
    if step.env:
        import os

        env = {**os.environ, **dict(step.env)}
    subprocess.run(step.argv, env=env, input=stdin, check=True)


def cmd_build(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """Build the image (or, with --dry-run, print the exact commands)."""
    spec = spec_for(args)
    repository = args.repository or spec.repository
    tag = content_hash(spec=spec)
    if args.dry_run:
        placeholder = "<staged-context>"
        left_out = f" (without {', '.join(spec.excluded)})" if spec.excluded else ""
        out(f"# stage {', '.join(spec.sources)}{left_out} into a temporary build context {placeholder}")
        for step in build_steps(placeholder, repository, tag, args.builder, spec):
            out(step.shell())
        out(f"# image tags: {repository}:{tag} {repository}:latest")
        return 0
    if shutil.which("docker") is None:
        out("docker is not installed or not on PATH; use --dry-run to see the commands")
        return 2
    with staged_context(spec=spec) as context:
        for step in build_steps(str(context), repository, tag, args.builder, spec):
            out(step.shell())
            _run(step)
    out(f"built {repository}:{tag} and {repository}:latest")
    return 0


def cmd_push(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """Push both tags to ECR and check the stored manifest type (or print it all with --dry-run)."""
    spec = spec_for(args)
    repository = args.repository or spec.repository
    tag = content_hash(spec=spec)
    if args.dry_run:
        account = args.account_id or "<account-id>"
        out(f"# ecr describe-repositories / create-repository {repository} (region {args.region})")
        for step in push_steps(repository, tag, account, args.region):
            out(step.shell())
        out(
            f"# ecr describe-images {repository}:{tag} → imageManifestMediaType must be one image "
            f"manifest ({DOCKER_V2} or {OCI_MANIFEST}), not an index"
        )
        out(f"# deploy with {spec.tag_parameter}={tag}")
        return 0
    if shutil.which("docker") is None:
        out("docker is not installed or not on PATH; use --dry-run to see the commands")
        return 2
    import base64

    import boto3

    session = boto3.session.Session(region_name=args.region)
    account = args.account_id or session.client("sts").get_caller_identity()["Account"]
    ecr = session.client("ecr")
    try:
        ecr.describe_repositories(repositoryNames=[repository])
    except ecr.exceptions.RepositoryNotFoundException:
        ecr.create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    for step in push_steps(repository, tag, account, args.region):
        out(step.shell())
        _run(step, stdin=password.encode() if step.stdin_from else None)
    ok, message = verify_lambda_manifest(ecr, repository, tag)
    out(message)
    if ok:
        out(f"deploy with {spec.tag_parameter}={tag}")
    return 0 if ok else 1


def register(subparsers: Any) -> None:
    """Add `image build` and `image push` to the `hdcn` parser."""
    image = subparsers.add_parser("image", help="build and push the generator's (or console's) image")
    sub = image.add_subparsers(dest="image_command", required=True)
    build = sub.add_parser(
        "build", help="docker build for linux/amd64, Docker v2 manifest, hash + latest tags"
    )
    build.add_argument("--builder", choices=("legacy", "buildkit"), default="legacy")
    push = sub.add_parser("push", help="push both tags to ECR and verify the manifest type")
    push.add_argument("--account-id", help="default: the caller's account (sts get-caller-identity)")
    push.add_argument("--region", default="eu-west-1")
    for p in (build, push):
        p.add_argument(
            "--repository",
            help=f"default {GENERATOR.repository}, or {CONSOLE.repository} with --console",
        )
        p.add_argument("--console", action="store_true", help="the admin console's image (docker/console)")
        p.add_argument("--dry-run", action="store_true", help="print the exact commands, run nothing")
    build.set_defaults(func=cmd_build)
    push.set_defaults(func=cmd_push)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `image ...` on its own (`python -m console.image_cmd build --dry-run`)."""
    parser = argparse.ArgumentParser(prog="hdcn")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
