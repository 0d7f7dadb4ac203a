"""Console export preview speed: a 100k-member export chosen, decoded and drawn; filter redraws.

Run: `.venv/bin/python -m benchmarks.console.run_console_benchmark [--members 100000] [--repeat 5]`.

The export is written the way the generator writes it (its own `items_to_batch`, one zstd
Parquet file per region) and served by a small local HTTP server in the API's shapes, so
the console's real code path runs: API read, presigned-style download, pyarrow read,
pandas frame, filters, charts, and Streamlit's serialisation of every element (AppTest
runs the script in this process; the browser's drawing is not included).
Targets (issue 5): preview within 2 s of choosing a downloaded export; a filter change
redraws within 0.5 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "backend" / "layer")]

import jwt  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from boto3.dynamodb.types import TypeSerializer  # noqa: E402

from backend.local.seed import generate_members  # noqa: E402

EXPORTS = ("20261125T100000Z-0000aaaa", "20261124T100000Z-0000bbbb")


def build_export(members: int) -> dict[str, bytes]:
    """One export's files by regio, typed and compressed as the generator writes them."""
    from hdcn_common.member_parquet import items_from_dicts, items_to_batch

    ser = TypeSerializer()
    batches = []
    chunk: list[dict[str, Any]] = []
    for m in generate_members(members):
        chunk.append({k: ser.serialize(v) for k, v in m.items()})
        if len(chunk) == 5000:
            batches.append(items_to_batch(items_from_dicts(chunk), date(2026, 11, 25)))
            chunk = []
    if chunk:
        batches.append(items_to_batch(items_from_dicts(chunk), date(2026, 11, 25)))
    table = pa.Table.from_batches(batches)
    files: dict[str, bytes] = {}
    regios = table.column("regio").combine_chunks().dictionary_decode()
    for regio in sorted(set(regios.to_pylist())):
        part = table.filter(pa.compute.equal(regios, regio))
        buf = io.BytesIO()
        pq.write_table(part, buf, compression="zstd")
        files[regio] = buf.getvalue()
    return files


def serve(files: dict[str, bytes], rows: int) -> tuple[ThreadingHTTPServer, str]:
    """The three API routes the Exports page reads, plus the files behind the 'presigned' URLs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
            if self.path.startswith("/files/"):
                data = files[self.path.split("/")[-1].replace("%2F", "/")]
            elif self.path.startswith("/analytics/exports"):
                data = json.dumps(
                    {
                        "exports": [
                            {
                                "export_id": e,
                                "created_at": f"{e[:4]}-{e[4:6]}-{e[6:8]}T10:00:00+00:00",
                                "rows": rows,
                            }
                            for e in EXPORTS
                        ]
                    }
                ).encode()
            elif self.path.startswith("/analytics/download-parquet/"):
                export_id = self.path.rsplit("/", 1)[-1]
                data = json.dumps(
                    {
                        "export_id": export_id,
                        "files": [
                            {
                                "regio": r,
                                "name": f"{export_id}/regio={r}",
                                "url": f"{base}/files/{r.replace('/', '%2F')}",
                            }
                            for r in files
                        ],
                    }
                ).encode()
            else:
                data = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        out.append(time.perf_counter() - started)
    return out


def cycle(values: list[Any]) -> Iterator[Any]:
    while True:
        yield from values


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    files = build_export(args.members)
    print(
        f"built {args.members:,} members in {len(files)} files "
        f"({sum(map(len, files.values())) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    server, base = serve(files, args.members)
    os.environ["HDCN_API_URL"] = base

    from console import exports_view as ev

    parts = [(r, b) for r, b in files.items()]
    results: dict[str, list[float]] = {}
    results["read_parts (pyarrow, bytes to table)"] = timed(lambda: ev.read_parts(parts), args.repeat)
    table = ev.read_parts(parts)
    results["to_frame (table to pandas + search key)"] = timed(lambda: ev.to_frame(table), args.repeat)
    frame = ev.to_frame(table)
    results["apply_filters regio=Utrecht"] = timed(
        lambda: ev.apply_filters(frame, ev.Filters(regios=("Utrecht",))), args.repeat
    )
    results["apply_filters search 'jansen'"] = timed(
        lambda: ev.apply_filters(frame, ev.Filters(search="jansen")), args.repeat
    )
    results["chart data (4 aggregates)"] = timed(
        lambda: (
            ev.counts_by(frame, "regio"),
            ev.counts_by(frame, "status"),
            ev.age_distribution(frame),
            ev.joins_per_year(frame),
        ),
        args.repeat,
    )

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from console.auth import Tokens

    token = jwt.encode(
        {"cognito:username": "admin", "cognito:groups": ["Members_Export", "Regio_All"]},
        "benchmark-key-not-a-secret-0123456789",
        algorithm="HS256",
    )
    at = AppTest.from_file(str(REPO / "console" / "streamlit_app.py"), default_timeout=300)
    at.session_state["tokens"] = Tokens(token, "", "", time.time() + 3600, "admin")
    started = time.perf_counter()
    at.run()  # the Overview, which downloads and decodes the latest export for its counts
    results["sign-in page Overview: download + decode + draw (once)"] = [time.perf_counter() - started]
    assert not at.exception, at.exception
    at.switch_page("app_pages/exports.py")
    started = time.perf_counter()
    at.run()
    results["then Exports: draw (once)"] = [time.perf_counter() - started]
    assert not at.exception, at.exception
    # The second export downloaded too, so both are "downloaded" from here on.
    at.selectbox(key="export_id").select(EXPORTS[1]).run()
    at.selectbox(key="export_id").select(EXPORTS[0]).run()

    def choose_downloaded() -> None:
        # Bytes are in st.cache_data; the decoded frames are dropped, so choosing decodes anew.
        from console import ui

        ui.decoded_frame.clear()
        current = at.selectbox(key="export_id").value
        at.selectbox(key="export_id").select(EXPORTS[1] if current == EXPORTS[0] else EXPORTS[0]).run()

    results["choose a downloaded export: decode + draw"] = timed(choose_downloaded, args.repeat)
    results["choose an export decoded before: draw"] = timed(
        lambda: (
            at.selectbox(key="export_id")
            .select(EXPORTS[1] if at.selectbox(key="export_id").value == EXPORTS[0] else EXPORTS[0])
            .run()
        ),
        args.repeat,
    )
    regios = cycle([["Utrecht"], ["Oost", "Limburg"], []])
    results["filter change: regio"] = timed(
        lambda: at.multiselect(key="flt_regio").set_value(next(regios)).run(), args.repeat
    )
    terms = cycle(["jansen", "de vries", "12", ""])
    results["filter change: search"] = timed(
        lambda: at.text_input(key="flt_search").input(next(terms)).run(), args.repeat
    )
    statuses = cycle([["Actief"], ["Opgezegd", "Geschorst"], []])
    results["filter change: status"] = timed(
        lambda: at.multiselect(key="flt_status").set_value(next(statuses)).run(), args.repeat
    )
    assert not at.exception, at.exception
    st.cache_data.clear()
    server.shutdown()

    print(f"\n{args.members:,} members, {os.cpu_count()} CPUs, median of {args.repeat} (first visit: once)\n")
    print("| step | median s | max s |")
    print("|---|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.3f} | {max(values):.3f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"members": args.members, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
