"""One member export end to end: scan → Parquet parts in S3 → manifest (publish) → prune old exports.

The job bookkeeping stays with the caller (the generator's handler); this module
only needs boto3 clients, so the benchmark runs exactly this code.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hdcn_common.export_erasure import drop_erased_before_publish
from hdcn_common.exports import (
    Manifest,
    PartFile,
    delete_prefix,
    export_prefix,
    list_export_dirs,
    list_published,
    manifest_key,
    member_ids_key,
    part_key,
    utc_now_iso,
)
from hdcn_common.member_parquet import (
    ExportFailed,
    PartitionedWriter,
    ScanRequest,
    export_schema,
    items_to_batch,
    member_id_column,
    scan_pages,
)

log = logging.getLogger(__name__)
# One segment reads ~5-10k members/s in Lambda, so 250k members take under a minute of the 300 s
# budget; parallel segments earn their extra memory (~30 MB: threads, pages in flight) only above that.
PARALLEL_FROM_ITEMS = 250_000
PARALLEL_SEGMENTS = 4
# Rows buffered across all regio files before row groups are written: bounds memory whatever the
# member count (measured: peak RSS 108 MB at 10k members, 113 MB at 100k), at ~8% larger files
# than 32k-row buffers give.
MAX_BUFFERED_ROWS = 8_192
MIN_REMAINING_SECONDS = 15.0  # stop and fail cleanly before Lambda's timeout would kill the run


@dataclass
class ExportResult:
    manifest: Manifest
    pruned: list[str]


def choose_segments(dynamodb: Any, table: str) -> int:
    """Parallel scan segments for a large table (DescribeTable's item count is approximate, fine here)."""
    count = int(dynamodb.describe_table(TableName=table)["Table"].get("ItemCount", 0))
    return PARALLEL_SEGMENTS if count >= PARALLEL_FROM_ITEMS else 1


def export_members(
    *,
    dynamodb: Any,
    s3: Any,
    bucket: str,
    members_table: str,
    export_id: str,
    options: dict[str, Any],
    created_at: str,
    today: date | None = None,
    progress: Callable[[int], None] = lambda rows: None,
    remaining_seconds: Callable[[], float] = lambda: float("inf"),
    segments: int | None = None,
    max_buffered_rows: int = MAX_BUFFERED_ROWS,
    erased_since: Callable[[], frozenset[str]] | None = None,
) -> Manifest:
    """Write one export and publish it with its manifest; on any failure delete what was written."""
    today = today or date.today()
    anonymize = bool(options.get("anonymize"))
    request = ScanRequest(
        table=members_table,
        active_only=bool(options.get("active_only")),
        regio=options.get("regio") or None,
        segments=segments if segments is not None else choose_segments(dynamodb, members_table),
    )
    files: list[PartFile] = []

    def publish(path: Path, regio: str, number: int) -> None:
        key = part_key(export_id, regio, number)
        # One PutObject per part from the file on disk: parts stay far below the 5 GB single-put limit,
        # and s3transfer's thread pool (upload_file) costs tens of MB of RSS for nothing here.
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")
        files.append(PartFile(key=key, regio=regio, rows=0, bytes=path.stat().st_size))

    writer = PartitionedWriter(
        schema=export_schema(anonymize), publish=publish, max_buffered_rows=max_buffered_rows
    )
    rows = 0
    unconverted: Counter[str] = Counter()
    # Which members the export holds, for a member's data request (an anonymised export too).
    member_ids: list[str] = []

    def still_alive() -> None:
        # Heartbeat while the scan waits out throttling, with the rows written so far.
        progress(rows)

    try:
        for items in scan_pages(dynamodb, request, on_wait=still_alive):
            if remaining_seconds() < MIN_REMAINING_SECONDS:
                raise ExportFailed("the export ran out of time before the scan finished")
            if len(items):
                writer.write(items_to_batch(items, today, anonymize, unconverted))
                member_ids.extend(str(i) for i in member_id_column(items).drop_null().to_pylist())
                rows += len(items)
            progress(rows)
        parts = writer.close()
        # Rows per file are known once a file is closed; parts and files are in the same order.
        for f, p in zip(files, parts, strict=True):
            f.rows = p.rows
        if erased_since is not None:
            # A member erased while this export ran may be in what it read: leave them out before
            # publishing (the erase job skips an export that is still being written).
            erased = erased_since() & frozenset(member_ids)
            if erased and anonymize:
                raise ExportFailed("a member was erased while this export ran; run the export again")
            if erased:
                files, member_ids = drop_erased_before_publish(s3, bucket, files, member_ids, erased)
                rows = sum(f.rows for f in files)
        manifest = Manifest(
            export_id=export_id,
            created_at=created_at,
            completed_at=utc_now_iso(),
            options=dict(options),
            rows=rows,
            bytes=sum(f.bytes for f in files),
            columns=export_schema(anonymize).names,
            files=files,
            unconverted=dict(sorted(unconverted.items())),
        )
        s3.put_object(
            Bucket=bucket,
            Key=member_ids_key(export_id),
            Body=json.dumps(member_ids).encode(),
            ContentType="application/json",
        )
        # The manifest goes last: until it exists, no reader sees this export.
        s3.put_object(
            Bucket=bucket,
            Key=manifest_key(export_id),
            Body=manifest.to_json().encode(),
            ContentType="application/json",
        )
        return manifest
    except BaseException:
        writer.abort()
        discard_export(s3, bucket, export_id)
        raise


def discard_export(s3: Any, bucket: str, export_id: str) -> None:
    """Remove every object of an export (its manifest first, so it is never half visible)."""
    try:
        s3.delete_object(Bucket=bucket, Key=manifest_key(export_id))
        delete_prefix(s3, bucket, export_prefix(export_id))
    except Exception:
        # Cleanup is best effort: leftovers are invisible (no manifest) and pruned by the next run.
        log.warning("could not delete the parts of a failed export", extra={"export_id": export_id})


def prune_exports(s3: Any, bucket: str, keep: int, current: str) -> list[str]:
    """Keep the newest `keep` published exports; delete older ones and folders of dead runs.

    Called while holding the export lock, so no other run is writing a folder now.
    """
    published = list_published(s3, bucket)
    keep_ids = set(published[: max(1, keep)]) | {current}
    removed = []
    for export_id in list_export_dirs(s3, bucket):
        if export_id in keep_ids:
            continue
        s3.delete_object(Bucket=bucket, Key=manifest_key(export_id))
        delete_prefix(s3, bucket, export_prefix(export_id))
        removed.append(export_id)
    return removed


def elapsed(since: float) -> float:
    return round(time.perf_counter() - since, 3)
