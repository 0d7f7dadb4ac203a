"""The OpenAPI document: generated from the code, equal to the template's routes, committed up to date."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.local.template import load_template, routes
from backend.openapi import OUTPUT, SECURITY_SCHEME, build_document, render

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def test_document_routes_equal_template_routes(document: dict[str, Any]) -> None:
    # GIVEN the template's Api events WHEN the document is generated THEN it has exactly those routes
    expected = {(r.method, r.path) for r in routes(load_template())}
    assert _operations(document) == expected


def test_committed_document_is_current(document: dict[str, Any]) -> None:
    # Whoever adds or changes a route (or a model a route uses) regenerates the document:
    #     .venv/bin/python -m backend.openapi
    # and commits openapi.json; this test fails until they do.
    assert OUTPUT.read_text(encoding="utf-8") == render(document)


def test_protected_routes_need_the_cognito_token(document: dict[str, Any]) -> None:
    public = {(r.method, r.path) for r in routes(load_template()) if r.public}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method.upper(), path) in public:
                assert operation["security"] == [] and "401" not in operation["responses"]
            else:
                assert operation["security"] == [{SECURITY_SCHEME: []}]
                assert "401" in operation["responses"]
    assert SECURITY_SCHEME in document["components"]["securitySchemes"]


def test_member_models_carry_the_club_vocabularies(document: dict[str, Any]) -> None:
    # GIVEN the create body of POST /members WHEN its schema is read THEN the enums and the rules are in it
    schemas = document["components"]["schemas"]
    body = document["paths"]["/members"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    create = schemas[body["$ref"].rsplit("/", 1)[1]]
    assert create["additionalProperties"] is False
    assert {"voornaam", "achternaam", "email", "regio"} <= set(create["required"])
    text = json.dumps(schemas)
    for value in ("Groningen/Drenthe", "Gezins donateur", "wachtRegio", "Papier"):
        assert value in text


def test_every_error_answer_has_the_one_error_shape(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorResponse"
    assert "HTTPValidationError" not in document["components"]["schemas"]


def _check_pointer(document: dict[str, Any], schema: dict[str, Any], expression: str) -> None:
    """The answer's field an expression reads (`$response.body#/...`) is in the answer's schema."""
    pointer = expression.split("$response.body#/", 1)[1].rstrip('}"').split("/")
    for segment in pointer:
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if segment.isdigit() and schema.get("type") == "array":
            schema = schema["items"]
        elif "properties" in schema:
            assert segment in schema["properties"], f"{segment} is not a field of {schema.get('title')}"
            schema = schema["properties"][segment]
        else:
            return  # a free-form object: nothing more to check against


def _links(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(source "METHOD /path", status, answer, link) for every link of the document."""
    return [
        (f"{method.upper()} {path}", status, response, link)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        for link in response.get("links", {}).values()
    ]


def test_every_link_names_a_real_operation_and_its_parameters(document: dict[str, Any]) -> None:
    # GIVEN the links on the document's answers (the stateful schemathesis run follows them)
    operations = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    schemas = document["components"]["schemas"]
    for source, status, answer, link in _links(document):
        # WHEN a link is resolved THEN it names one operation of the document
        assert link["operationId"] in operations, f"{source} {status}: no operation {link['operationId']}"
        target = operations[link["operationId"]]
        # AND each parameter is one that operation takes, in that place, read from a field the answer has
        taken = {(p["in"], p["name"]) for p in target.get("parameters", [])}
        for key, expression in link["parameters"].items():
            place, name = key.split(".", 1)
            assert (place, name) in taken, f"{link['operationId']} takes no {place} parameter {name}"
            _check_pointer(document, answer["content"]["application/json"]["schema"], expression)
        # AND each body field it fills is a field of the operation's body
        for field, expression in link.get("requestBody", {}).items():
            body = target["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert field in schemas[body.rsplit("/", 1)[1]]["properties"], f"no body field {field}"
            _check_pointer(document, answer["content"]["application/json"]["schema"], expression)


def test_created_records_and_started_exports_link_to_what_they_made(document: dict[str, Any]) -> None:
    # GIVEN the document WHEN the links of a create or an export trigger are read
    operation_ids = {
        op["operationId"]: f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    targets: dict[tuple[str, str], set[str]] = {}
    for source, status, _, link in _links(document):
        targets.setdefault((source, status), set()).add(operation_ids[link["operationId"]])
    # THEN they lead to reading, changing and deleting that record, and to that export's job
    for collection, item in (("/members", "/members/{member_id}"), ("/products", "/products/{product_id}")):
        assert targets[(f"POST {collection}", "201")] == {f"GET {item}", f"PUT {item}", f"DELETE {item}"}
    assert targets[("POST /analytics/generate-parquet", "202")] == {"GET /analytics/jobs/{job_id}"}
