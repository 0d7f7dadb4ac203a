"""Member exports in S3: ids, key layout, the manifest that publishes an export, and its readers.

Layout (Hive-style, readable by Athena, DuckDB and pyarrow datasets as it is)::

    analytics/parquet/members/export_id=<id>/regio=<regio>/part-00000.parquet
    analytics/parquet/members/export_id=<id>/_manifest.json

The manifest is written last and is what publishes an export: readers (list, download)
only consider exports whose manifest exists, so a failed or killed run leaves nothing
visible. Dataset readers skip it (names starting with `_` are not data files).
Only boto3 and the standard library here: the generator image imports this module.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

EXPORT_KIND = "member-export"
EXPORTS_PREFIX = "analytics/parquet/members/"
MANIFEST_NAME = "_manifest.json"
SCHEMA_VERSION = 1
# Sortable by time, so "newest" is a string comparison: 20261125T210512Z-1a2b3c4d.
EXPORT_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
_MANIFEST_KEY_RE = re.compile(r"^analytics/parquet/members/export_id=([^/]+)/_manifest\.json$")


def new_export_id(now: datetime | None = None) -> str:
    """A new export (and job) id: UTC time plus randomness."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def is_export_id(value: str) -> bool:
    return bool(EXPORT_ID_RE.fullmatch(value))


def export_prefix(export_id: str) -> str:
    """Every object of one export lives under this prefix."""
    if not is_export_id(export_id):
        raise ValueError("not an export id")
    return f"{EXPORTS_PREFIX}export_id={export_id}/"


def regio_segment(regio: str) -> str:
    """`regio=<value>` with the value URI-encoded (`Groningen/Drenthe` holds a slash)."""
    return f"regio={quote(regio, safe='')}"


def part_key(export_id: str, regio: str, number: int) -> str:
    return f"{export_prefix(export_id)}{regio_segment(regio)}/part-{number:05d}.parquet"


def manifest_key(export_id: str) -> str:
    return f"{export_prefix(export_id)}{MANIFEST_NAME}"


MEMBER_IDS_NAME = "_member_ids.json"


def member_ids_key(export_id: str) -> str:
    """Which members an export holds (for a member's data request); never handed out as a download."""
    return f"{export_prefix(export_id)}{MEMBER_IDS_NAME}"


def read_member_ids(s3: Any, bucket: str, export_id: str) -> frozenset[str] | None:
    """The member ids an export holds, or None for an export written before these lists existed."""
    try:
        body = s3.get_object(Bucket=bucket, Key=member_ids_key(export_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return frozenset(json.loads(body))


def regio_from_key(key: str) -> str | None:
    """The decoded regio partition of a part key, if it has one."""
    for segment in key.split("/"):
        if segment.startswith("regio="):
            return unquote(segment.removeprefix("regio="))
    return None


@dataclass(frozen=True)
class ExportOptions:
    """What a member export contains (the POST body and the job record carry these)."""

    active_only: bool = False
    regio: str | None = None
    anonymize: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ExportOptions:
        raw = raw or {}
        regio = raw.get("regio")
        return cls(
            active_only=bool(raw.get("active_only", False)),
            regio=str(regio) if regio else None,
            anonymize=bool(raw.get("anonymize", False)),
        )


@dataclass
class PartFile:
    """One published Parquet file."""

    key: str
    regio: str
    rows: int
    bytes: int


@dataclass
class Manifest:
    """The last object an export writes; its existence publishes the export."""

    export_id: str
    created_at: str
    completed_at: str
    options: dict[str, Any]
    rows: int
    bytes: int
    columns: list[str]
    files: list[PartFile] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    # Per column, stored values that did not convert to its type (null in the file); counts only.
    unconverted: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str | builtins.bytes) -> Manifest:
        raw = json.loads(text)
        files = [PartFile(**f) for f in raw.pop("files", [])]
        return cls(files=files, **raw)

    def files_for(self, regions: frozenset[str]) -> list[PartFile]:
        """The files a caller with `regions` may read."""
        return [f for f in self.files if f.regio in regions]


def list_published(s3: Any, bucket: str) -> list[str]:
    """Ids of every published export (a manifest exists), newest first."""
    ids: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EXPORTS_PREFIX):
        for obj in page.get("Contents", []):
            m = _MANIFEST_KEY_RE.fullmatch(obj["Key"])
            if m and is_export_id(m.group(1)):
                ids.append(m.group(1))
    return sorted(ids, reverse=True)


def list_export_dirs(s3: Any, bucket: str) -> list[str]:
    """Ids of every export folder, published or not (for pruning leftovers of dead runs)."""
    ids: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=EXPORTS_PREFIX, Delimiter="/"):
        for cp in page.get("CommonPrefixes", []):
            name = cp["Prefix"].removeprefix(EXPORTS_PREFIX).rstrip("/").removeprefix("export_id=")
            if is_export_id(name):
                ids.append(name)
    return sorted(ids, reverse=True)


def read_manifest(s3: Any, bucket: str, export_id: str) -> Manifest | None:
    """The manifest of a published export, or None when it is not published."""
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(export_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest.from_json(body)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every current object under `prefix` (versioned bucket: old versions expire by lifecycle)."""
    if not prefix.startswith(EXPORTS_PREFIX) or prefix == EXPORTS_PREFIX:
        raise ValueError("refusing to delete outside one export's prefix")
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
