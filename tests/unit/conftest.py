"""Unit-test fixtures: moto in-process with template.yaml's own resources (see `aws_fixtures.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from hdcn_common.members import MemberRepository

from backend.local import cfn_adapters
from backend.local.deploy import deploy
from backend.local.seed import generate_members, seed_tables
from backend.local.template import load_template
from tests.unit.aws_fixtures import (
    EXPORT_MEMBERS,
    REGION,
    SEEDED_MEMBERS,
    ExportEnv,
    MemberTables,
    MockedStack,
    clear_layer_caches,
    create_template_resources,
    fresh_moto,
    function_environment,
)


@pytest.fixture(scope="session", autouse=True)
def _function_environment() -> Iterator[None]:
    """The fixed Globals environment of the template (Powertools service, namespace, ...).

    Handler modules read it at import and are imported once per process, so whichever test (or
    module-scoped fixture) imports a handler first must do so in the environment the function
    really has, or later tests inherit the difference (e.g. a metrics object without its namespace).
    """
    with pytest.MonkeyPatch.context() as patch:
        for var, value in function_environment(load_template(), {}).items():
            patch.setenv(var, value)
        yield


@pytest.fixture
def template_resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """GIVEN a fresh moto with every table and bucket of template.yaml (logical id -> name), in the env."""
    with fresh_moto(monkeypatch):
        yield create_template_resources(monkeypatch)


def _seeded_member_tables(names: dict[str, str]) -> MemberTables:
    members, keys, products = (names[lid] for lid in ("MembersTable", "MemberKeysTable", "ProductsTable"))
    resource = boto3.resource("dynamodb", region_name=REGION)
    seed_tables(resource, members, keys, products, SEEDED_MEMBERS)
    return MemberTables(
        MemberRepository(resource.Table(members), resource.Table(keys)), members, keys, products
    )


@pytest.fixture
def member_tables(template_resources: dict[str, str]) -> MemberTables:
    """GIVEN the template's tables seeded like the local stack (SEEDED_MEMBERS), and a members repo."""
    return _seeded_member_tables(template_resources)


# Shared per module, for tests that only read. Seeding or deploying takes about a second, which
# the read-only tests paid once each. A module-wide moto stays active between that module's
# tests; function-scoped fixtures nest inside it (a nested mock_aws does not reset) and make
# their own uniquely named tables, so tests that write keep using those. Never write through these.


@pytest.fixture(scope="module")
def shared_member_tables() -> Iterator[MemberTables]:
    """GIVEN (read-only, shared by the module) the template's tables seeded like the local stack."""
    with pytest.MonkeyPatch.context() as patch, fresh_moto(patch):
        yield _seeded_member_tables(create_template_resources(patch))


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[MockedStack]:
    """GIVEN (read-only, shared by the module) the whole template deployed into a fresh moto."""
    cfn_adapters.install()
    with pytest.MonkeyPatch.context() as patch, fresh_moto(patch):
        yield MockedStack(deploy(None))  # type: ignore[arg-type]  # None: moto's default endpoints


@pytest.fixture
def export_env(template_resources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ExportEnv:
    """GIVEN the template's tables and bucket, EXPORT_MEMBERS members, and 2 exports kept per run."""
    monkeypatch.setenv("EXPORTS_TO_KEEP", "2")
    monkeypatch.setenv("EXPORT_STALE_SECONDS", "30")
    clear_layer_caches()
    members_table, jobs_table = template_resources["MembersTable"], template_resources["ExportJobsTable"]
    members = list(generate_members(EXPORT_MEMBERS))
    with boto3.resource("dynamodb", region_name=REGION).Table(members_table).batch_writer() as w:
        for m in members:
            w.put_item(Item=m)
    return ExportEnv(
        members,
        members_table,
        jobs_table,
        template_resources["ExportBucket"],
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("s3", region_name=REGION),
    )


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockedStack]:
    """GIVEN the whole template deployed into a fresh moto by the local deploy (at AWS's own endpoints)."""
    cfn_adapters.install()
    with fresh_moto(monkeypatch):
        yield MockedStack(deploy(None))  # type: ignore[arg-type]  # None: moto's default endpoints
