"""Minimal API Gateway proxy events for unit tests, routed as the template routes them (Powertools style)."""

from __future__ import annotations

import json
from typing import Any

from backend.local.runtime import LambdaContext, load_handler
from backend.local.template import functions, load_template, routes


def call_api(
    method: str,
    path: str,
    groups: str | None,
    body: Any = None,
    *,
    username: str = "tester",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Run the template's function for `method path` as a caller in `groups` (None: no token)."""
    template = load_template()
    for route in routes(template):
        match = route.pattern.match(path)
        if route.method == method and match:
            break
    else:
        raise AssertionError(f"no template route for {method} {path}")
    claims = {"cognito:username": username, "cognito:groups": groups} if groups is not None else None
    event = {
        "httpMethod": method,
        "path": path,
        "resource": route.path,
        "pathParameters": match.groupdict() or None,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "queryStringParameters": query or None,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"authorizer": {"claims": claims} if claims else {}, "requestId": "r1"},
    }
    handler = load_handler(functions(template)[route.function])
    ctx = LambdaContext(
        route.function, 512, f"arn:aws:lambda:eu-west-1:123456789012:function:{route.function}", "r1", 9e12
    )
    res = handler(event, ctx)
    return res["statusCode"], json.loads(res["body"]) if res.get("body") else None
