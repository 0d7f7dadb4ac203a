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
