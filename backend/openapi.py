"""One OpenAPI 3 document of the whole API, generated from the code.

Every function of `template.yaml` with `Api` events is loaded as the local runtime
loads it; each module's Powertools resolver (`app`) describes its own routes from the
pydantic models it validates with, and this merges them. On top it adds what the
resolvers cannot know: the API's one error shape for every error status, and the
Cognito authorizer on every route the template does not mark public.

`python -m backend.openapi` writes `openapi.json` at the repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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
