"""The local API Gateway (every template route, as REST proxy events) and the local Lambda endpoint.

`ApiGateway` serves what `MyApi` would: it matches a request to a template route,
applies the Cognito authorizer to non-public routes, builds the API Gateway REST proxy
event and runs the route's function. Unknown paths and methods answer 403
`MissingAuthenticationToken`, as API Gateway does. `LambdaEndpoint` implements the
Lambda `Invoke` call for the functions of the stack (boto3 reaches it through
`AWS_ENDPOINT_URL_LAMBDA`), running `Event` invocations in a child process.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from backend.local.authorizer import CognitoAuthorizer, TokenRejected, claims_for_event
from backend.local.runtime import LocalRuntime
from backend.local.template import Route

log = logging.getLogger("hdcn.gateway")
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # API Gateway's own payload limit


def _gateway_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """A gateway response shaped like the template's GatewayResponses."""
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    return status, {"Content-Type": "application/json"}, body


class ApiGateway:
    """Routes, authorizer and proxy events of MyApi."""

    def __init__(
        self,
        routes: list[Route],
        runtime: LocalRuntime,
        authorizer: CognitoAuthorizer,
        stage: str,
        api_id: str,
    ) -> None:
        self.routes = routes
        self.runtime = runtime
        self.authorizer = authorizer
        self.stage = stage
        self.api_id = api_id

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            m = route.pattern.match(path)
            if m:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        """One request through the gateway; returns status, headers and body."""
        split = urlsplit(raw_path)
        path = split.path or "/"
        found = self.match(method, path)
        if found is None:
            return _gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        route, path_params = found
        if len(body) > API_GATEWAY_MAX_BODY:
            return _gateway_error(413, "REQUEST_TOO_LARGE", "Request Too Large")
        authorizer: dict[str, Any] | None = None
        if not route.public:
            auth_header = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            try:
                claims = self.authorizer.verify(auth_header)
            except TokenRejected as why:
                log.info("401 %s %s: token rejected (%s)", method, route.path, why)
                return _gateway_error(401, "UNAUTHORIZED", "Unauthorized")
            authorizer = {"claims": claims_for_event(claims)}
        event = self._event(
            route, method, path, split.query, headers, body, path_params, authorizer, source_ip
        )
        try:
            result = self.runtime.invoke(route.function, event)
        except Exception:
            # A handler crash is a 502 from API Gateway; the traceback stays in the gateway log.
            log.exception("function %s raised", route.function)
            return _gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
        return self._response(result)

    def _event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        path_params: dict[str, str],
        authorizer: dict[str, Any] | None,
        source_ip: str,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True) if query else {}
        multi_headers: dict[str, list[str]] = {}
        for k, v in headers.items():
            multi_headers.setdefault(k, []).append(v)
        try:
            text_body: str | None = body.decode("utf-8") if body else None
            is_b64 = False
        except UnicodeDecodeError:
            # Not text: API Gateway hands such bodies over base64-encoded.
            text_body, is_b64 = base64.b64encode(body).decode(), True
        request_id = str(uuid.uuid4())
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "requestTimeEpoch": int(time.time() * 1000),
                "accountId": self.runtime.account_id,
                "apiId": self.api_id,
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
                "authorizer": authorizer,
            },
            "body": text_body,
            "isBase64Encoded": is_b64,
        }

    @staticmethod
    def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(result, dict) or "statusCode" not in result:
            return _gateway_error(502, "INTEGRATION_FAILURE", "Internal server error")
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers[k] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return int(result["statusCode"]), headers, body


class LambdaEndpoint:
    """The Lambda `Invoke` API for the stack's functions; other Lambda calls go to `upstream` (moto).

    boto3 sends every Lambda call to `AWS_ENDPOINT_URL_LAMBDA`, so `GetFunction` and the
    like (the ops health checks read them) are forwarded to moto, as the one Lambda
    endpoint of AWS answers both.
    """

    def __init__(self, runtime: LocalRuntime, upstream: str | None = None) -> None:
        self.runtime = runtime
        self.upstream = upstream

    def forward(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Pass a non-Invoke Lambda call to moto unchanged."""
        assert self.upstream is not None
        keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")}
        req = urllib.request.Request(  # noqa: S310 - the loopback moto endpoint
            self.upstream + raw_path, data=body or None, method=method, headers=keep
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - see above
                return int(resp.status), dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return int(err.code), dict(err.headers.items()), err.read()

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path
        json_type = {"Content-Type": "application/json"}
        if method == "GET" and path == "/local/invocations":
            listing = [i.as_dict() for i in self.runtime.invocations.values()]
            return 200, json_type, json.dumps(listing).encode()
        parts = path.strip("/").split("/")
        is_invoke = (
            method == "POST" and len(parts) == 4 and parts[0] == "2015-03-31" and parts[3] == "invocations"
        )
        if not is_invoke and self.upstream:
            return self.forward(method, raw_path, headers, body)
        if not is_invoke:
            return 404, json_type, b'{"Type": "User", "message": "Unknown operation"}'
        try:
            logical_id = self.runtime.logical_id(unquote(parts[2]))
        except KeyError:
            msg = {"Type": "User", "message": f"Function not found: {unquote(parts[2])}"}
            return (
                404,
                {**json_type, "x-amzn-ErrorType": "ResourceNotFoundException"},
                json.dumps(msg).encode(),
            )
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return (
                400,
                {**json_type, "x-amzn-ErrorType": "InvalidRequestContentException"},
                b'{"message": "bad JSON"}',
            )
        kind = next(
            (v for k, v in headers.items() if k.lower() == "x-amz-invocation-type"), "RequestResponse"
        )
        if kind == "DryRun":
            return 204, {}, b""
        if kind == "Event":
            request_id = self.runtime.invoke_async(logical_id, event)
            return 202, {"x-amzn-RequestId": request_id}, b""
        try:
            result = self.runtime.invoke(logical_id, event)
        except Exception as err:
            log.exception("function %s raised", logical_id)
            # A worker's failure carries Lambda's own error type (Sandbox.Timedout, Runtime.OutOfMemory, ...).
            kind = getattr(err, "kind", type(err).__name__)
            payload = {"errorMessage": getattr(err, "message", str(err)), "errorType": kind}
            return 200, {**json_type, "X-Amz-Function-Error": "Unhandled"}, json.dumps(payload).encode()
        return 200, json_type, json.dumps(result).encode()


def _body_length(header: str | None) -> tuple[int, tuple[int, dict[str, str], bytes] | None]:
    """The request body's length from Content-Length, or the gateway's refusal of the header.

    API Gateway answers a Content-Length that is not a number with 400 and one above its
    10 MB payload limit with 413, before reading the body.
    """
    if header is None or header.strip() == "":
        return 0, None
    text = header.strip()
    if not text.isascii() or not text.isdigit():
        return 0, _gateway_error(400, "BAD_REQUEST", "Invalid Content-Length")
    text = text.lstrip("0") or "0"
    # Compare digit counts first: int() of a 100,000-digit header is itself slow.
    if len(text) > len(str(API_GATEWAY_MAX_BODY)) or int(text) > API_GATEWAY_MAX_BODY:
        return 0, _gateway_error(413, "REQUEST_TOO_LARGE", "Request Too Large")
    return int(text), None


def _make_handler(app: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hdcn-local"

        def _serve(self) -> None:
            length, refusal = _body_length(self.headers.get("Content-Length"))
            server = self.server
            assert isinstance(server, LocalServer)
            if refusal is not None:
                # The body cannot be read (or must not be): answer and close, as API Gateway does,
                # instead of a ValueError/MemoryError that drops the connection.
                self.close_connection = True
                status, out_headers, out = refusal
                out_headers["Connection"] = "close"
                self._reply(status, out_headers, out)
                return
            body = self.rfile.read(length) if length else b""
            if not server.enter():
                # Stopping: a request on a kept-alive connection is refused with a retry hint,
                # never half-run after the data was saved.
                self.close_connection = True
                status, out_headers, out = _gateway_error(
                    503, "SERVICE_UNAVAILABLE", "The local stack is stopping; retry shortly."
                )
                out_headers["Retry-After"] = "5"
                out_headers["Connection"] = "close"
            else:
                try:
                    status, out_headers, out = self._dispatch(body)
                finally:
                    server.leave()
            self._reply(status, out_headers, out)

        def _reply(self, status: int, out_headers: dict[str, str], out: bytes) -> None:
            self.send_response(
                status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            )
            for k, v in out_headers.items():
                if k.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        def _dispatch(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
            headers = {k: v for k, v in self.headers.items()}
            if isinstance(app, ApiGateway):
                return app.handle(self.command, self.path, headers, body, self.client_address[0])
            return app.handle(self.command, self.path, headers, body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, ...) gets API Gateway's answer for a route it does
            # not have (403 MissingAuthenticationToken), not http.server's HTML 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            # The request line only: query strings may carry search terms (names), so no full URL.
            log.info("%s %s %s", self.command, urlsplit(self.path).path, args[1] if len(args) > 1 else "")

    return Handler


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server that can stop gracefully: no new requests, the running ones finish."""

    # socketserver's listen backlog of 5 resets connections when dozens of clients connect at
    # once; API Gateway accepts them all (and throttles with 429 rather than resets).
    request_queue_size = 128
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._state = threading.Condition()
        self._active = 0
        self._draining = False

    def enter(self) -> bool:
        """Count a request in; False once draining (checked and counted atomically)."""
        with self._state:
            if self._draining:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._state:
            self._active -= 1
            self._state.notify_all()

    def drain(self, timeout: float) -> int:
        """Stop accepting, refuse new requests, wait for those running; returns how many still run."""
        with self._state:
            self._draining = True
        self.shutdown()
        # Closing the listening socket makes new connections fail at once instead of hanging.
        self.server_close()
        with self._state:
            self._state.wait_for(lambda: self._active == 0, timeout)
            return self._active


def serve(app: ApiGateway | LambdaEndpoint, host: str, port: int) -> LocalServer:
    """Start serving `app` on host:port in a daemon thread."""
    server = LocalServer((host, port), _make_handler(app))
    threading.Thread(target=server.serve_forever, name=f"serve-{port}", daemon=True).start()
    return server
