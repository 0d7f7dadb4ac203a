"""A fault-injecting proxy between the functions and the local AWS endpoint (for failure tests).

`hdcn local up --fault-proxy-port N` points the functions' AWS_ENDPOINT_URL at this
proxy instead of moto. It forwards every call unchanged until a rule says otherwise:
`POST /__faults` with `[{"service": "dynamodb", "operation": "Scan", "error": "throttle",
"count": 10}]` makes the next ten DynamoDB Scans fail as AWS fails them when throttling
(so botocore's own retries are exercised first); `"error": "delay", "seconds": 3` holds
matching calls for that long and then forwards them (a slow dependency, or a request
kept in flight while a test stops the stack); `"error": "lost-answer"` forwards the call (it is
applied) and then answers a 500 as if the answer was lost, so botocore sends it again.
Rules match on the SigV4 credential scope's service and, for JSON protocols, the
`X-Amz-Target` operation (for S3, the HTTP method). `DELETE /__faults` clears them;
`GET /__faults` shows hits.

The same rules reach the local Lambda runtime: `{"service": "lambda", "operation": "Invoke",
"error": "delay", "seconds": 60}` holds the start of the next asynchronous invocation (after
its 202) for that long, as an image cold start or Lambda's event queue can.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_ERRORS: dict[str, dict[str, tuple[int, str, str]]] = {
    # service → error → (status, content type, body)
    "dynamodb": {
        "throttle": (
            400,
            "application/x-amz-json-1.0",
            '{"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
            ' "message": "Rate of requests exceeds the allowed throughput."}',
        ),
        "unavailable": (
            503,
            "application/x-amz-json-1.0",
            '{"__type": "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",'
            ' "message": "Service unavailable"}',
        ),
        "lost-answer": (
            500,
            "application/x-amz-json-1.0",
            '{"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",'
            ' "message": "Internal server error"}',
        ),
    },
    "s3": {
        "throttle": (
            503,
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        ),
        "unavailable": (
            500,
            "application/xml",
            "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
        ),
    },
}


@dataclass
class FaultRule:
    """Fail `count` matching calls (-1: all) with `error`."""

    service: str
    error: str = "throttle"
    operation: str | None = None
    count: int = -1
    seconds: float = 0.0
    hits: int = 0

    def matches(self, service: str, operation: str) -> bool:
        return (
            self.service == service
            and (self.operation is None or self.operation == operation)
            and (self.count < 0 or self.hits < self.count)
        )


def _service_and_operation(method: str, headers: dict[str, str]) -> tuple[str, str]:
    auth = headers.get("authorization", "")
    service = ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else ""
    target = headers.get("x-amz-target", "")
    return service, (target.rsplit(".", 1)[-1] if target else method)


class FaultProxy:
    """Forwards to `upstream` unless a rule injects a failure."""

    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self.rules: list[FaultRule] = []
        self.lock = threading.Lock()

    def inject(self, method: str, headers: dict[str, str]) -> FaultRule | None:
        """The rule that applies to this call (counted as a hit), if any."""
        return self.match(*_service_and_operation(method, headers))

    def match(self, service: str, operation: str) -> FaultRule | None:
        """The rule for `service`/`operation` (counted as a hit), if any; also used by the local runtime."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(service, operation):
                    rule.hits += 1
                    return FaultRule(**asdict(rule))
        return None

    @staticmethod
    def error(rule: FaultRule) -> tuple[int, str, str]:
        """Status, content type and body of the failure AWS would answer for `rule`."""
        by_error = _ERRORS.get(rule.service, _ERRORS["dynamodb"])
        return by_error.get(rule.error, by_error["throttle"])

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/__faults"):
                self._control(body)
                return
            headers = {k: v for k, v in self.headers.items()}
            rule = proxy.inject(self.command, {k.lower(): v for k, v in headers.items()})
            if rule is not None and rule.error == "delay":
                time.sleep(rule.seconds)
            elif rule is not None and rule.error == "lost-answer":
                proxy.forward(self.command, self.path, headers, body)  # applied; its answer never arrives
                status, ctype, text = proxy.error(rule)
                self._reply(
                    status, [("Content-Type", ctype), ("x-amzn-ErrorType", "injected")], text.encode()
                )
                return
            elif rule is not None:
                status, ctype, text = proxy.error(rule)
                self._reply(
                    status, [("Content-Type", ctype), ("x-amzn-ErrorType", "injected")], text.encode()
                )
                return
            status, out_headers, out = proxy.forward(self.command, self.path, headers, body)
            self._reply(status, out_headers, out)

        def _control(self, body: bytes) -> None:
            with proxy.lock:
                if self.command == "POST":
                    proxy.rules = [FaultRule(**r) for r in json.loads(body or b"[]")]
                elif self.command == "DELETE":
                    proxy.rules = []
                listing = [asdict(r) for r in proxy.rules]
            self._reply(200, [("Content-Type", "application/json")], json.dumps(listing).encode())

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def serve_fault_proxy(upstream: str, host: str, port: int) -> ThreadingHTTPServer:
    """Start the proxy in a daemon thread."""
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer((host, port), _handler(proxy))
    server.fault_proxy = proxy  # type: ignore[attr-defined]  # the runtime reads the same rules
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"faults-{port}", daemon=True).start()
    return server
