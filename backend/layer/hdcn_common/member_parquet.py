"""Members table → typed Arrow batches → Parquet files partitioned by regio, memory bounded.

The generator's engine (pyarrow and boto3 only; no pandas: it costs more import time
than it saves). Scan pages are parsed by Arrow's JSON reader instead of botocore's shape-walking
parser (which costs about fifteen times as much CPU per row), converted column by
column into an Arrow `RecordBatch` without a Python loop over rows, split by regio and buffered until a row
group is worth writing; buffers are bounded by a row count, so memory does not grow
with the member count.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from hdcn_common.member_fields import (
    EMPTY_TOKENS,
    FIELD_BY_NAME,
    FIELDS,
    PII_FIELDS,
    FieldSpec,
    Kind,
    ReadState,
    read_value,
)

UNKNOWN_REGIO = "Onbekend"
THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

_DICT = pa.dictionary(pa.int32(), pa.string())
_TS = pa.timestamp("us", tz="UTC")
# Small numbers fit 16 bits; identifiers and versions get 32.
_INT_TYPES = {"lidnummer": pa.int32(), "version": pa.int32()}
_ARROW_TYPES = {
    Kind.TEXT: pa.string(),
    Kind.ENUM: _DICT,
    Kind.DATE: pa.date32(),
    Kind.YESNO: pa.bool_(),
    Kind.TIMESTAMP: _TS,
}
# Computed from a date column, placed right after it: (name, source).
_COMPUTED = {"geboortedatum": "leeftijd", "ingangsdatum": "jaren_lid"}


def _columns() -> list[tuple[str, pa.DataType, str]]:
    """(column, Arrow type, kind) for every catalogue field, plus the computed ages."""
    cols: list[tuple[str, pa.DataType, str]] = []
    for spec in FIELDS:
        typ = _INT_TYPES.get(spec.name, pa.int16()) if spec.kind is Kind.INTEGER else _ARROW_TYPES[spec.kind]
        cols.append((spec.name, typ, spec.kind.value))
        if spec.name in _COMPUTED:
            cols.append((_COMPUTED[spec.name], pa.int16(), "computed"))
    return cols


# Derived from the field catalogue (hdcn_common.member_fields): a field added there is exported.
COLUMNS: list[tuple[str, pa.DataType, str]] = _columns()

# Direct identifiers and contact data: never in an anonymized export (leeftijd stays, the birth date goes).
PII_COLUMNS = PII_FIELDS


def export_schema(anonymize: bool = False) -> pa.Schema:
    """The Arrow schema of an export's files (what a reader gets back)."""
    return pa.schema([(n, t) for n, t, _ in COLUMNS if not (anonymize and n in PII_COLUMNS)])


class ExportFailed(Exception):
    """An export could not finish; `reason` is readable and safe to store in the job."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ conversion
# A DynamoDB attribute value as JSON: {"S": ...}, {"N": ...}, {"BOOL": ...} or {"NULL": true}.
_ATTRIBUTE_VALUE = pa.struct(
    [("S", pa.string()), ("N", pa.string()), ("BOOL", pa.bool_()), ("NULL", pa.bool_())]
)
_SOURCE_COLUMNS = [name for name, _, kind in COLUMNS if kind != "computed"]
# What Arrow's JSON reader extracts from a Scan response; other attributes and types are skipped.
SCAN_PAGE_SCHEMA = pa.schema(
    [
        ("Items", pa.list_(pa.struct([(name, _ATTRIBUTE_VALUE) for name in _SOURCE_COLUMNS]))),
        ("LastEvaluatedKey", pa.struct([("member_id", pa.struct([("S", pa.string())]))])),
    ]
)
_EMPTY_ITEMS = pa.nulls(0, SCAN_PAGE_SCHEMA.field("Items").type.value_type)  # pa.array() would import pandas


def parse_scan_page(body: bytes) -> tuple[pa.StructArray, dict[str, Any] | None]:
    """A Scan response body → (items as one Arrow struct array, LastEvaluatedKey or None).

    Arrow's C++ JSON reader does in a few microseconds a row what json.loads plus a
    Python loop over 30 attributes does in about eighty.
    """
    table = pj.read_json(
        pa.BufferReader(body),
        read_options=pj.ReadOptions(block_size=len(body) + 64, use_threads=False),
        parse_options=pj.ParseOptions(explicit_schema=SCAN_PAGE_SCHEMA, unexpected_field_behavior="ignore"),
    )
    lists = table.column("Items").combine_chunks()
    items = lists.flatten() if len(lists) and lists.null_count < len(lists) else _EMPTY_ITEMS
    key = table.column("LastEvaluatedKey").to_pylist()[0] if table.num_rows else None
    if key and key.get("member_id") and key["member_id"].get("S") is not None:
        return items, {"member_id": {"S": key["member_id"]["S"]}}
    return items, None


def items_from_dicts(items: list[dict[str, Any]]) -> pa.StructArray:
    """DynamoDB-JSON items (dicts) → the struct array a Scan page gives (for tests and tools)."""
    parsed, _ = parse_scan_page(json.dumps({"Items": items}).encode())
    return parsed


def _attr(items: pa.StructArray, name: str, kind: str) -> pa.Array:
    return pc.struct_field(items, [name, kind])


def member_id_column(items: pa.StructArray) -> pa.Array:
    """The member ids of a Scan page (before any anonymising)."""
    return _attr(items, "member_id", "S")


_EMPTY_TOKENS = pa.array(sorted(EMPTY_TOKENS), pa.string())


def _raw_text(items: pa.StructArray, name: str) -> pa.Array:
    """A field's stored text (a number stored where text belongs kept as its text), placeholders as null."""
    raw = pc.coalesce(_attr(items, name, "S"), _attr(items, name, "N"))
    placeholder = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(raw)), value_set=_EMPTY_TOKENS)
    return pc.if_else(pc.fill_null(placeholder, False), pa.scalar(None, pa.string()), raw)


def _python_fallback(values: pa.Array, spec: FieldSpec, typ: pa.DataType) -> pa.Array:
    """Per-value conversion with the catalogue's tolerant reader, for what Arrow's kernels cannot take."""
    out = []
    for v in values.to_pylist():
        result = read_value(spec, v)
        ok = result.state in (ReadState.OK, ReadState.NORMALISABLE) and not isinstance(result.value, str)
        out.append(result.value if ok else None)
    return pa.array(out, type=typ if typ != _TS else None).cast(typ, safe=False)


def _numbers(values: pa.Array, spec: FieldSpec, typ: pa.DataType) -> pa.Array:
    """Stored numbers (as numbers or text) → integers; a value that is not one is null (and counted)."""
    try:
        return values.cast(pa.int64()).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _python_fallback(values, spec, pa.int64()).cast(typ, safe=False)


def _dates(values: pa.Array, spec: FieldSpec) -> pa.Array:
    """ISO dates by Arrow (checked by formatting back: strptime is lenient), other forms by the reader."""
    parsed = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), values)
    iso = pc.if_else(pc.fill_null(exact, False), parsed, pa.scalar(None, parsed.type)).cast(pa.date32())
    rest = pc.and_(pc.is_null(iso), pc.is_valid(values))
    if not pc.any(rest).as_py():
        return iso
    other = _python_fallback(pc.if_else(rest, values, pa.scalar(None, pa.string())), spec, pa.date32())
    return pc.coalesce(iso, other)


def _yesno(text: pa.Array) -> pa.Array:
    """`Ja`/`Nee` (and the usual spellings) → booleans; anything else null."""
    folded = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    yes = pc.is_in(folded, value_set=pa.array(["ja", "j", "yes", "true", "1"]))
    no = pc.is_in(folded, value_set=pa.array(["nee", "n", "no", "false", "0"]))
    return pc.if_else(yes, True, pc.if_else(no, False, pa.scalar(None, pa.bool_())))


def _timestamps(values: pa.Array, spec: FieldSpec) -> pa.Array:
    """Naive ISO text (the club's form, UTC) or text with an offset → UTC timestamps."""
    try:
        naive = pc.strptime(values, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
        if naive.null_count == values.null_count:
            return pc.assume_timezone(naive, "UTC").cast(_TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return _python_fallback(values, spec, _TS)


def _completed_years(since: pa.Array, today: date) -> pa.Array:
    """Whole years from each date to `today` (age, years of membership); null stays null."""
    years = pc.subtract(pa.scalar(today.year, pa.int64()), pc.year(since))
    since_md = pc.add(pc.multiply(pc.month(since), 100), pc.day(since))
    not_yet = pc.greater(since_md, pa.scalar(today.month * 100 + today.day, pa.int64()))
    return pc.subtract(years, pc.cast(not_yet, pa.int64())).cast(pa.int16())


def items_to_batch(
    items: pa.StructArray,
    today: date,
    anonymize: bool = False,
    unconverted: Counter[str] | None = None,
) -> pa.RecordBatch:
    """Scan items (a struct array from parse_scan_page) → one typed RecordBatch of the export schema.

    Every value is kept in its column's type; a stored value that does not convert (a date
    `31-02-1990`, a lidnummer `12a`) becomes null and is counted per column in `unconverted`,
    so the job can report it. Placeholders such as `NA` and empty text are null, not counted.
    """
    arrays: dict[str, pa.Array] = {}
    for name, typ, kind in COLUMNS:
        if kind == "computed":
            continue
        spec = FIELD_BY_NAME[name]
        text = _raw_text(items, name)
        if kind == Kind.TEXT:
            value = text
        elif kind == Kind.ENUM:
            value = text.dictionary_encode()
        elif kind == Kind.INTEGER:
            value = _numbers(text, spec, typ)
        elif kind == Kind.YESNO:
            value = pc.coalesce(_yesno(text), _attr(items, name, "BOOL"))
        elif kind == Kind.DATE:
            value = _dates(text, spec)
        else:
            value = _timestamps(text, spec)
        arrays[name] = value
        if unconverted is not None and kind not in (Kind.TEXT, Kind.ENUM):
            lost = pc.sum(pc.and_(pc.is_valid(text), pc.is_null(value))).as_py() or 0
            if lost:
                unconverted[name] += lost
    arrays["leeftijd"] = _completed_years(arrays["geboortedatum"], today)
    arrays["jaren_lid"] = _completed_years(arrays["ingangsdatum"], today)
    schema = export_schema(anonymize)
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in schema], schema=schema)


# ------------------------------------------------------------------ scanning
def keep_raw_scan_items(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore `before-parse` hook: hand Scan's items over as an Arrow struct array.

    botocore's own parser walks every attribute through the service model; for a full
    table export that was most of the CPU. Error responses are left to botocore.
    """
    if response_dict.get("status_code") != 200:
        return
    items, last_key = parse_scan_page(response_dict["body"])
    customized_response_dict["RawItems"] = items
    customized_response_dict["Count"] = len(items)
    if last_key:
        customized_response_dict["LastEvaluatedKey"] = last_key
    response_dict["body"] = b"{}"


def install_raw_scan(dynamodb_client: Any) -> None:
    """Make this client's Scan return `RawItems` (use a client of its own: all its Scans change)."""
    dynamodb_client.meta.events.register(
        "before-parse.dynamodb.Scan", keep_raw_scan_items, unique_id="hdcn-raw-scan"
    )


@dataclass
class ScanRequest:
    """Which members to read."""

    table: str
    active_only: bool = False
    regio: str | None = None
    segments: int = 1
    page_size: int | None = None

    def base_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.table}
        # A record wiped by an erasure (ErasureMode wipe) keeps only ids and membership dates: it is
        # no longer anyone's data to export.
        conditions, names, values = ["attribute_not_exists(#erased)"], {"#erased": "erased_at"}, {}
        if self.active_only:
            conditions.append("#st = :actief")
            names["#st"], values[":actief"] = "status", {"S": "Actief"}
        if self.regio:
            conditions.append("#rg = :regio")
            names["#rg"], values[":regio"] = "regio", {"S": self.regio}
        kwargs.update(FilterExpression=" AND ".join(conditions), ExpressionAttributeNames=names)
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if self.page_size:
            kwargs["Limit"] = self.page_size
        return kwargs


def scan_with_backoff(
    dynamodb: Any,
    kwargs: dict[str, Any],
    on_wait: Callable[[], None],
    max_attempts: int = 10,
    base_delay: float = 0.2,
    max_delay: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """One Scan page, retried with full-jitter backoff while DynamoDB throttles.

    botocore's standard retry mode retries first; this loop outlasts longer throttling
    and calls `on_wait` (the job heartbeat) between attempts so a patient run is not
    mistaken for a dead one.
    """
    for attempt in range(max_attempts):
        try:
            page: dict[str, Any] = dynamodb.scan(**kwargs)
            return page
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code not in THROTTLE_CODES:
                raise
            if attempt == max_attempts - 1:
                break
        on_wait()
        sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))
    raise ExportFailed("the Members table kept throttling the export scan; try again later")


def scan_pages(dynamodb: Any, request: ScanRequest, on_wait: Callable[[], None]) -> Iterator[pa.StructArray]:
    """Pages of raw items; with several segments, read in parallel into a bounded queue."""
    base = request.base_kwargs()
    if request.segments <= 1:
        start: dict[str, Any] | None = None
        while True:
            kwargs = dict(base, ExclusiveStartKey=start) if start else base
            page = scan_with_backoff(dynamodb, kwargs, on_wait)
            yield page.get("RawItems", _EMPTY_ITEMS)
            start = page.get("LastEvaluatedKey")
            if not start:
                return
    # Bounded: at most two pages per segment wait in memory, whatever the table size.
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2 * request.segments)
    stop = threading.Event()

    def read_segment(segment: int) -> None:
        try:
            start_key: dict[str, Any] | None = None
            while not stop.is_set():
                kwargs = dict(base, Segment=segment, TotalSegments=request.segments)
                if start_key:
                    kwargs["ExclusiveStartKey"] = start_key
                page = scan_with_backoff(dynamodb, kwargs, on_wait)
                pages.put(("page", page.get("RawItems", _EMPTY_ITEMS)))
                start_key = page.get("LastEvaluatedKey")
                if not start_key:
                    break
            pages.put(("done", None))
        except BaseException as err:
            pages.put(("error", err))

    with ThreadPoolExecutor(max_workers=request.segments, thread_name_prefix="scan") as pool:
        for s in range(request.segments):
            pool.submit(read_segment, s)
        done = 0
        try:
            while done < request.segments:
                kind, payload = pages.get()
                if kind == "page":
                    yield payload
                elif kind == "done":
                    done += 1
                else:
                    raise payload
        finally:
            stop.set()
            # Drain so no reader stays blocked on a full queue.
            while done < request.segments:
                try:
                    kind, _ = pages.get(timeout=30)
                except queue.Empty:
                    break
                if kind in ("done", "error"):
                    done += 1


# ------------------------------------------------------------------ writing
@dataclass
class _Part:
    regio: str
    number: int
    path: Path
    writer: pq.ParquetWriter
    rows: int = 0


@dataclass
class WrittenPart:
    """A finished part file (uploaded by the caller's `publish` callback)."""

    regio: str
    number: int
    rows: int
    bytes: int


@dataclass
class PartitionedWriter:
    """Batches → one Parquet file series per regio, row groups flushed from bounded buffers."""

    schema: pa.Schema
    publish: Callable[[Path, str, int], None]
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="export-")))
    max_buffered_rows: int = 8_192
    rows_per_part: int = 1_000_000
    compression: str = "zstd"
    parts: list[WrittenPart] = field(default_factory=list)
    _buffers: dict[str, list[pa.RecordBatch]] = field(default_factory=dict)
    _buffered: int = 0
    _open: dict[str, _Part] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)
    _files: int = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Add rows; they land in their regio's file once buffers are full or at close()."""
        if batch.num_rows == 0:
            return
        regio = pc.fill_null(batch.column("regio").cast(pa.string()), UNKNOWN_REGIO)
        for value in pc.unique(regio).to_pylist():
            part = batch.filter(pc.equal(regio, value))
            self._buffers.setdefault(value, []).append(part)
            self._buffered += part.num_rows
        if self._buffered >= self.max_buffered_rows:
            self._flush_all()

    def _flush_all(self) -> None:
        for regio in list(self._buffers):
            self._flush(regio)
        self._buffered = 0

    def _flush(self, regio: str) -> None:
        batches = self._buffers.pop(regio, [])
        if not batches:
            return
        table = pa.Table.from_batches(batches, schema=self.schema)
        part = self._open.get(regio)
        if part is None:
            number = self._numbers.get(regio, 0)
            self._numbers[regio] = number + 1
            self._files += 1
            path = self.workdir / f"{self._files:05d}.parquet"
            writer = pq.ParquetWriter(path, self.schema, compression=self.compression)
            part = self._open[regio] = _Part(regio, number, path, writer)
        part.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        part.rows += table.num_rows
        if part.rows >= self.rows_per_part:
            self._close(regio)

    def _close(self, regio: str) -> None:
        part = self._open.pop(regio)
        part.writer.close()
        size = part.path.stat().st_size
        self.publish(part.path, part.regio, part.number)
        part.path.unlink(missing_ok=True)
        self.parts.append(WrittenPart(part.regio, part.number, part.rows, size))

    def close(self) -> list[WrittenPart]:
        """Flush and finish every file; returns the parts in publish order."""
        self._flush_all()
        for regio in list(self._open):
            self._close(regio)
        self._remove_workdir()
        return self.parts

    def abort(self) -> None:
        """Drop local files (what was already published is the caller's to delete)."""
        for part in self._open.values():
            # The file is deleted next anyway; a writer that cannot close must not hide the real error.
            with contextlib.suppress(Exception):
                part.writer.close()
            part.path.unlink(missing_ok=True)
        self._open.clear()
        self._buffers.clear()
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        for p in self.workdir.glob("*"):
            p.unlink(missing_ok=True)
        if self.workdir.exists():
            self.workdir.rmdir()
