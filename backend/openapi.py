"""One OpenAPI 3 document of the whole API, generated from the code.

Every function of `template.yaml` with `Api` events is loaded as the local runtime
loads it; each module's Powertools resolver (`app`) describes its own routes from the
pydantic models it validates with, and this merges them. On top it adds what the
resolvers cannot know: the API's one error shape for every error status, the
Cognito authorizer on every route the template does not mark public, and the links
(which answer names the resource a following request is about) that a stateful
client or test follows.

`python -m backend.openapi` writes `openapi.json` at the repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

from backend.local.runtime import load_handler
from backend.local.template import REPO_ROOT, Route, functions, load_template, routes

OUTPUT = REPO_ROOT / "openapi.json"
SECURITY_SCHEME = "CognitoAuthorizer"
ERROR_SCHEMA = "ErrorResponse"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# What each error status means; every one is answered in the same shape (hdcn_common.api).
ERROR_STATUSES = {
    "400": "Malformed request (bad JSON, bad cursor, bad encoding)",
    "401": "No valid ID token",
    "403": "The caller's roles do not allow this",
    "404": "No such resource (or not one the caller may see)",
    "409": "Conflict: a stale version or a value already in use",
    "413": "Request body too large",
    "415": "Request body is not JSON",
    "422": "Request failed validation",
    "429": "Too many requests",
    "503": "A backing service is busy or unavailable; retry later",
}


class Link(NamedTuple):
    """An OpenAPI link: a `status` answer of `source` gives the parameters (and body fields) of `target`."""

    source: str  # "POST /members"
    status: str
    name: str
    target: str  # "GET /members/{member_id}"
    parameters: dict[str, str]  # "<in>.<name>" of a target parameter -> runtime expression
    body: dict[str, str] | None = None  # target body fields -> runtime expression


def _record_links(collection: str, id_name: str, noun: str) -> list[Link]:
    """Create, read, list, change, delete of a versioned record: each answer leads to the record it shows."""
    item = f"{collection}/{{{id_name}}}"
    this = {f"path.{id_name}": f"$response.body#/{id_name}"}
    # The version that was read, as If-Match (an ETag-style string) and as the body's `version`.
    as_read = {**this, "header.if-match": '"{$response.body#/version}"'}
    version = {"version": "$response.body#/version"}
    follow = [
        (f"Get{noun}", f"GET {item}", this, None),
        (f"Update{noun}", f"PUT {item}", as_read, version),
        (f"Delete{noun}", f"DELETE {item}", as_read, None),
    ]
    answers = {f"POST {collection}": "201", f"GET {item}": "200", f"PUT {item}": "200"}
    links = [
        Link(source, status, name, target, parameters, body)
        for source, status in answers.items()
        for name, target, parameters, body in follow
        if source != target or not source.startswith("GET ")  # reading again what was just read adds nothing
    ]
    # A list leads to reading its first entry.
    first = {f"path.{id_name}": f"$response.body#/{collection.strip('/')}/0/{id_name}"}
    links.append(Link(f"GET {collection}", "200", f"GetFirst{noun}", f"GET {item}", first))
    return links


LINKS: list[Link] = [
    *_record_links("/members", "member_id", "Member"),
    *_record_links("/products", "product_id", "Product"),
    Link(
        "POST /analytics/generate-parquet",
        "202",
        "GetJob",
        "GET /analytics/jobs/{job_id}",
        {"path.job_id": "$response.body#/job_id"},
    ),
    # One export runs at a time: the 409 names the running job, which can be followed.
    Link(
        "POST /analytics/generate-parquet",
        "409",
        "GetRunningJob",
        "GET /analytics/jobs/{job_id}",
        {"path.job_id": "$response.body#/error/details/running_job/job_id"},
    ),
    Link(
        "GET /analytics/jobs",
        "200",
        "GetFirstJob",
        "GET /analytics/jobs/{job_id}",
        {"path.job_id": "$response.body#/jobs/0/job_id"},
    ),
    Link(
        "GET /analytics/exports",
        "200",
        "DownloadFirstExport",
        "GET /analytics/download-parquet/{filename}",
        {"path.filename": "$response.body#/exports/0/export_id"},
    ),
]


def _operation(paths: dict[str, Any], key: str) -> dict[str, Any]:
    """The operation of "METHOD /path" in the document's paths."""
    method, path = key.split(" ", 1)
    operation: dict[str, Any] = paths[path][method.lower()]
    return operation


def _add_links(paths: dict[str, Any]) -> None:
    """Put every link of LINKS on its source answer, naming the target by its operationId."""
    for link in LINKS:
        definition: dict[str, Any] = {
            "operationId": _operation(paths, link.target)["operationId"],
            "parameters": dict(link.parameters),
        }
        if link.body is not None:
            definition["requestBody"] = dict(link.body)
        answer = _operation(paths, link.source)["responses"][link.status]
        answer.setdefault("links", {})[link.name] = definition


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"description": "Where and why, when there is more to say"},
                },
            }
        },
    }


def _module_app(logical_id: str) -> Any:
    """The Powertools resolver of a function's handler module."""
    spec = functions(load_template())[logical_id]
    load_handler(spec)
    return sys.modules[f"hdcn_fn_{logical_id}"].app


def _fix_operation(operation: dict[str, Any], route: Route) -> None:
    """Error responses in the API's shape, 204 without a 200, the authorizer on protected routes."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "204" in responses:
        responses.pop("200", None)
        responses["204"] = {"description": responses["204"].get("description", "No content")}
    error_ref = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for status, description in ERROR_STATUSES.items():
        if status == "401" and route.public:
            continue
        responses[status] = {"description": description, "content": error_ref}
    if route.public:
        operation["security"] = []
    else:
        operation["security"] = [{SECURITY_SCHEME: []}]


def build_document() -> dict[str, Any]:
    """The merged OpenAPI document of every route in the template."""
    template = load_template()
    all_routes = routes(template)
    by_key = {(r.method.lower(), r.path): r for r in all_routes}
    version = str(template["Globals"]["Function"]["Environment"]["Variables"].get("APP_VERSION", "0.0.0"))
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for logical_id in dict.fromkeys(r.function for r in all_routes):
        app = _module_app(logical_id)
        doc = app.get_openapi_schema(title="H-DCN webshop-backend", version=version).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                route = by_key.get((method, path))
                if method not in HTTP_METHODS or route is None or route.function != logical_id:
                    # A route the code has but the template does not give this function is not on MyApi.
                    continue
                _fix_operation(operation, route)
                paths.setdefault(path, {})[method] = operation
        schemas.update(doc.get("components", {}).get("schemas", {}))
    # Powertools' own validation error schemas are replaced by the API's error shape.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[ERROR_SCHEMA] = _error_schema()
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "H-DCN webshop-backend",
            "version": version,
            "description": "Member administration, webshop catalogue, member exports and operations (MyApi).",
        },
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {
            "schemas": {k: schemas[k] for k in sorted(schemas)},
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "A Cognito ID token of the stack's user pool (no `Bearer` prefix)",
                    "x-amazon-apigateway-authtype": "cognito_user_pools",
                }
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    """The document as committed: stable key order, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the API's OpenAPI document.")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render(build_document()), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
