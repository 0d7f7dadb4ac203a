"""A tiny DynamoDB endpoint that replays Scan pages of seeded members, fast enough for 100k+ members.

moto scans about 400 thirty-attribute members a second (its JSON serialiser), which
would make the exporters wait on moto rather than work. This server answers `Scan`
(with `Limit`-free 1 MB pages, `ExclusiveStartKey` and parallel `Segment`s) and
`DescribeTable` with pages built once, in DynamoDB's wire format, from the same
deterministic seed members the local stack uses. The exporters' CPU is then their own.
"""

from __future__ import annotations

import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from backend.local.seed import generate_members

PAGE_BYTES = 1024 * 1024  # DynamoDB returns at most 1 MB of items per Scan page


@dataclass
class ScanPages:
    """Pre-encoded Scan responses over `count` members."""

    table: str
    count: int
    pages: list[list[str]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)  # last key of each page
    index_of_key: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, table: str, count: int) -> ScanPages:
        serializer = TypeSerializer()
        built = cls(table, count)
        page: list[str] = []
        size = 0
        last: dict[str, Any] = {}
        for member in generate_members(count):
            item = {k: serializer.serialize(v) for k, v in member.items()}
            encoded = json.dumps(item, separators=(",", ":"))
            if page and size + len(encoded) > PAGE_BYTES:
                built._close_page(page, last)
                page, size = [], 0
            page.append(encoded)
            size += len(encoded)
            last = {"member_id": item["member_id"]}
        if page:
            built._close_page(page, last)
        return built

    def _close_page(self, page: list[str], last: dict[str, Any]) -> None:
        self.index_of_key[last["member_id"]["S"]] = len(self.pages)
        self.pages.append(page)
        self.keys.append(last)

    def response(self, request: dict[str, Any]) -> bytes:
        """The Scan page after ExclusiveStartKey, for the request's segment."""
        segment = int(request.get("Segment", 0))
        total = int(request.get("TotalSegments", 1))
        start = request.get("ExclusiveStartKey")
        index = self.index_of_key[start["member_id"]["S"]] + total if start else segment
        if index >= len(self.pages):
            return b'{"Items":[],"Count":0,"ScannedCount":0}'
        items = self.pages[index]
        body = f'{{"Items":[{",".join(items)}],"Count":{len(items)},"ScannedCount":{len(items)}'
        if index + total < len(self.pages):
            body += f',"LastEvaluatedKey":{json.dumps(self.keys[index])}'
        return (body + "}").encode()

    def describe(self) -> bytes:
        return json.dumps(
            {
                "Table": {
                    "TableName": self.table,
                    "TableStatus": "ACTIVE",
                    "ItemCount": self.count,
                    "KeySchema": [{"AttributeName": "member_id", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "member_id", "AttributeType": "S"}],
                }
            }
        ).encode()


def serve_replay(pages: ScanPages, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve `pages` as a DynamoDB endpoint in daemon threads; the server's port is its address."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            request = json.loads(body or b"{}")
            if target == "Scan":
                out, status = pages.response(request), 200
            elif target == "DescribeTable":
                out, status = pages.describe(), 200
            else:
                out, status = b'{"__type":"UnknownOperationException"}', 400
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("x-amz-crc32", str(zlib.crc32(out)))
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="replay-dynamodb", daemon=True).start()
    return server
