"""Property-based run of the OpenAPI document against the local stack: no 5xx, every answer as documented.

Schemathesis generates requests for every operation of `openapi.json` (valid and
invalid ones) and sends them as staff; each response must not be a server error and
must match the documented schema for its status. A second, stateful run follows the
document's links (create, then read, change and delete what was created; start an
export, then follow its job), so requests reach real records instead of 404s.
Bounded and repeatable (derandomized, fixed seeds): EXAMPLES per operation, then SCENARIOS
sequences of at most STEPS calls.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, ClassVar

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ensure_resource_availability,
    response_schema_conformance,
    use_after_free,
)

from backend.local.launcher import id_token
from backend.openapi import OUTPUT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 50  # per operation, stateless (with the stateful run, about 2 minutes here)
SCENARIOS = 30  # stateful: call sequences along the links
STEPS = 10  # stateful: most calls in one sequence
STATEFUL_CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    # A record just created can be read until it is deleted, and not after.
    ensure_resource_availability,
    use_after_free,
]


def _iban(bank: str, account: str) -> str:
    """A Dutch IBAN with correct ISO 7064 check digits."""
    remainder = int("".join(str(int(c, 36)) for c in f"{bank}{account}NL00")) % 97
    return f"NL{98 - remainder:02d}{bank}{account}"


# Valid values for the formats the document names but JSON Schema cannot spell out (a check digit, a
# date range), so that valid requests are valid to the API too; invalid ones are still generated.
# Built from numbers and letters rather than regexes: generation stays fast.
_digits = st.integers(0, 10**10 - 1).map("{:010d}".format)
_letter = st.sampled_from(string.ascii_uppercase)
schemathesis.openapi.format("iban", st.builds(_iban, st.sampled_from(["ABNA", "INGB", "RABO"]), _digits))
# A Dutch postcode, which addresses abroad may have too.
schemathesis.openapi.format(
    "postcode", st.builds("{} {}{}".format, st.integers(1000, 9999), _letter, _letter)
)
schemathesis.openapi.format("date", st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat))

# Loaded eagerly: schemathesis' lazy `from_fixture` loader relies on a pytest internal that pytest 9 removed.
schema = schemathesis.openapi.from_path(str(OUTPUT))


def _linked_document() -> dict[str, Any]:
    """The document for the stateful run, less the links from the member and product lists.

    A list names seeded records, and the stateful run changes and deletes the records it reaches: it
    starts from the ones it creates, so other tests find the seeded data as it was.
    """
    document: dict[str, Any] = json.loads(OUTPUT.read_text(encoding="utf-8"))
    for path in ("/members", "/products"):
        for response in document["paths"][path]["get"]["responses"].values():
            response.pop("links", None)
    return document


# Only the document's links: schemathesis would otherwise infer more (a list leading to PUT and DELETE of
# its entries). Valid requests only: invalid input is the stateless run's part, here each step should
# reach the record the previous one named.
linked_schema = schemathesis.openapi.from_dict(_linked_document())
linked_schema.config.phases.stateful.inference.algorithms = []
linked_schema.config.phases.stateful.generation.modes = [schemathesis.GenerationMode.POSITIVE]


@pytest.fixture(scope="module", autouse=True)
def _exports_finish(local_stack: dict[str, Any]) -> Iterator[None]:
    yield
    _wait_for_exports(local_stack)


def _wait_for_exports(local_stack: dict[str, Any]) -> None:
    """Exports the run started must end before other tests start theirs (one runs at a time)."""
    session = requests.Session()
    token = id_token(local_stack, "staff")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        jobs = session.get(
            f"{local_stack['api_url']}/analytics/jobs", headers={"Authorization": token}, timeout=30
        ).json()["jobs"]
        if not any(j.get("state") in ("queued", "running") for j in jobs):
            return
        time.sleep(1)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run, so a failure found once is found again
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_document(
    case: Any, local_stack: dict[str, Any], id_token: Callable[[str], str]
) -> None:
    # GIVEN a generated request, sent as staff WHEN the local stack answers
    # THEN it is no server error and matches the documented response for its status
    case.call_and_validate(
        base_url=local_stack["api_url"],
        headers={"Authorization": id_token("staff")},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=60,
    )


def _workflow(base_url: str, token: str) -> Any:
    """The document's state machine, calling the local stack as staff, keeping every failed check."""

    class Workflow(linked_schema.as_state_machine()):  # type: ignore[misc]
        failures: ClassVar[list[Exception]] = []
        scenarios: ClassVar[int] = 0

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": {"Authorization": token}, "timeout": 60}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs, recorder=self.recorder
                )
            except Exception as failure:
                Workflow.failures.append(failure)
                raise

        def teardown(self) -> None:
            Workflow.scenarios += 1
            super().teardown()

    return Workflow


def test_api_workflows_along_its_links_conform(
    local_stack: dict[str, Any], id_token: Callable[[str], str]
) -> None:
    """Sequences of calls along the document's links, as staff: each answer as documented."""
    workflow = _workflow(local_stack["api_url"], id_token("staff"))
    # GIVEN sequences such as create member -> change it -> change it again with a stale version
    # -> delete it -> read it, or start an export -> read its job, sent as staff
    # WHEN the local stack answers each call
    # THEN none is a server error, each matches its documented response, a created record can be
    # read until it is deleted and not after
    for attempt in range(SCENARIOS):  # each attempt runs at least one scenario
        if workflow.scenarios >= SCENARIOS:
            break
        try:
            hypothesis.seed(attempt)(workflow).run(
                settings=settings(
                    max_examples=SCENARIOS - workflow.scenarios,
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    # No shrinking: the API's state has moved on, so a sequence is reported as it was found.
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )
            break
        except FlakyStrategyDefinition:
            # Hypothesis replayed the start of a sequence and the API answered differently this time
            # (a record exists now, an export is running), so other steps became possible: that is the
            # API's state moving on, not a finding. Go on with the next seed, unless a check had failed.
            if workflow.failures:
                raise workflow.failures[0] from None
    assert workflow.scenarios > 0 and not workflow.failures
