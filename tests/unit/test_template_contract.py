"""Contract tests on template.yaml with the real tools: cfn-lint, aws-sam-translator, the handlers."""

from __future__ import annotations

import pytest

from backend.local.runtime import load_handler
from backend.local.template import (
    REPO_ROOT,
    TEMPLATE_PATH,
    functions,
    load_template,
    routes,
    transform_template,
)
from tests.template_linters import assert_cfn_lint_clean, assert_sam_validate_lint_clean, needs_sam_cli

pytestmark = pytest.mark.unit


def test_cfn_lint_is_clean() -> None:
    # GIVEN the template WHEN cfn-lint checks it THEN it reports nothing (warnings included)
    assert_cfn_lint_clean(TEMPLATE_PATH)


@needs_sam_cli
def test_sam_validate_lint_is_clean() -> None:
    # GIVEN the SAM CLI from its own environment WHEN `sam validate --lint` reads the template THEN it passes
    assert_sam_validate_lint_clean(TEMPLATE_PATH)


def test_sam_translator_transforms_template() -> None:
    # GIVEN the SAM template WHEN transformed THEN every serverless resource became CloudFormation
    out = transform_template(_with_s3_code(load_template()), "eu-west-1")
    types = {r["Type"] for r in out["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert {"AWS::ApiGateway::RestApi", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion"} <= types


def test_no_hand_written_api_gateway_resources() -> None:
    # Every route must be a SAM Api event: hand-written API Gateway resources drift from the template.
    declared = {lid: r["Type"] for lid, r in load_template()["Resources"].items()}
    assert [lid for lid, t in declared.items() if t.startswith("AWS::ApiGateway::")] == []


def test_every_route_is_an_event_on_myapi() -> None:
    template = load_template()
    for res in template["Resources"].values():
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api":
                assert event["Properties"]["RestApiId"] == {"Ref": "MyApi"}


def test_only_health_and_product_reads_are_public() -> None:
    public = {(r.method, r.path) for r in routes(load_template()) if r.public}
    allowed = {("GET", "/health"), ("GET", "/products"), ("GET", "/products/{product_id}")}
    assert public <= allowed
    assert ("GET", "/health") in public


@pytest.mark.parametrize("logical_id", sorted(functions(load_template())))
def test_every_function_handler_imports(logical_id: str) -> None:
    # GIVEN a function of the template WHEN its handler is loaded as Lambda would THEN it is callable
    handler = load_handler(functions(load_template())[logical_id])
    assert callable(handler)


def test_every_route_has_a_function_with_a_handler() -> None:
    specs = functions(load_template())
    for route in routes(load_template()):
        assert route.function in specs
        assert (REPO_ROOT / specs[route.function].code_uri).is_dir()


def test_generator_is_an_image_function_of_the_required_size() -> None:
    fn = load_template()["Resources"]["GenerateMemberParquetFunction"]["Properties"]
    assert fn["PackageType"] == "Image"
    assert fn["MemorySize"] == 1024
    assert fn["Timeout"] == 300


def _with_s3_code(template: dict) -> dict:
    for lid, res in template["Resources"].items():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = {"Bucket": "artifacts", "Key": f"{lid}.zip"}
    return template
