"""The three ways to export the Members table, each run as `python exporters.py <approach>` alone.

Environment: MEMBERS_TABLE, EXPORT_BUCKET, AWS_ENDPOINT_URL_DYNAMODB (the replay server),
AWS_ENDPOINT_URL_S3 (moto). Prints one JSON line: rows and bytes written.
Imports happen inside each function so a process only pays for its own approach.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any


def export_with_generator(segments: int | None = None) -> dict[str, Any]:
    """This project's generator: raw Scan pages → Arrow batches → partitioned Parquet → manifest."""
    import boto3
    from botocore.config import Config
    from hdcn_common.member_export import export_members
    from hdcn_common.member_parquet import install_raw_scan

    dynamodb = boto3.client("dynamodb", config=Config(retries={"max_attempts": 3, "mode": "standard"}))
    install_raw_scan(dynamodb)
    manifest = export_members(
        dynamodb=dynamodb,
        s3=boto3.client("s3"),
        bucket=os.environ["EXPORT_BUCKET"],
        members_table=os.environ["MEMBERS_TABLE"],
        export_id="20261125T000000Z-0000be0c",
        options={},
        created_at="2026-11-25T00:00:00+00:00",
        segments=segments,
    )
    return {"rows": manifest.rows, "bytes": manifest.bytes, "files": len(manifest.files)}


def export_replaced() -> dict[str, Any]:
    """The approach the generator replaces: resource scan, DataFrame of everything, to_parquet, one put."""
    import io

    import boto3
    import pandas as pd

    table = boto3.resource("dynamodb").Table(os.environ["MEMBERS_TABLE"])
    items: list[dict[str, Any]] = []
    resp = table.scan()
    items.extend(resp["Items"])
    while "LastEvaluatedKey" in resp:
        resp = table.scan(ExclusiveStartKey=resp["LastEvaluatedKey"])
        items.extend(resp["Items"])
    frame = pd.DataFrame(items)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    body = buffer.getvalue()
    boto3.client("s3").put_object(
        Bucket=os.environ["EXPORT_BUCKET"], Key="replaced/members.parquet", Body=body
    )
    return {"rows": len(frame), "bytes": len(body), "files": 1}


def export_with_awswrangler() -> dict[str, Any]:
    """awswrangler: read_items (full scan) → DataFrame → s3.to_parquet (its own venv: pyarrow<26)."""
    import awswrangler as wr
    import boto3
    import pandas as pd

    wr.config.dynamodb_endpoint_url = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    wr.config.s3_endpoint_url = os.environ["AWS_ENDPOINT_URL_S3"]
    # chunked: awswrangler's one-shot concat of the pages fails when a number column's decimal
    # precision differs between pages (decimal128(4, 0) vs (5, 0)); pandas concatenates them fine.
    chunks = wr.dynamodb.read_items(
        table_name=os.environ["MEMBERS_TABLE"], allow_full_scan=True, chunked=True
    )
    frame = pd.concat(list(chunks), ignore_index=True)
    key = "awswrangler/members.parquet"
    wr.s3.to_parquet(frame, path=f"s3://{os.environ['EXPORT_BUCKET']}/{key}")
    size = boto3.client("s3").head_object(Bucket=os.environ["EXPORT_BUCKET"], Key=key)["ContentLength"]
    return {"rows": len(frame), "bytes": int(size), "files": 1}


APPROACHES: dict[str, Callable[[], dict[str, Any]]] = {
    "generator": export_with_generator,
    # The generator forced to 4 parallel scan segments (it chooses them itself from 250k members).
    "generator-4seg": lambda: export_with_generator(segments=4),
    "replaced": export_replaced,
    "awswrangler": export_with_awswrangler,
}


def peak_rss_mb() -> float:
    """This process's own high-water RSS (VmHWM).

    Not getrusage's ru_maxrss: Linux carries the parent's RSS at (v)fork over exec into
    the child's maxrss, so a benchmark parent holding 100k members inflates it.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


if __name__ == "__main__":
    result = APPROACHES[sys.argv[1]]()
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
