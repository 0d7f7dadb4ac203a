"""Take erased members out of every export in S3, every object version included (needs pyarrow).

For each export folder of the (versioned) bucket:

- published and holding one of the members, with a `member_id` column: its part files are
  rewritten without them under new names, then its member list and manifest (same export id);
- published but unable to say (no member list) or unable to drop rows (anonymised: no
  `member_id` column): withdrawn, every version of every object under its prefix deleted;
- not published (a dead run's leftovers, or an export pruned or withdrawn earlier, whose old
  versions the lifecycle rule would keep for days): every version deleted, unless it is the folder
  of an export running now (that one drops erased members itself before it publishes);

and after a rewrite every version under the prefix that is not a current object of the new export
(old parts, old manifests and member lists, delete markers) is deleted with its VersionId.
"""

from __future__ import annotations

import io
import json
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hdcn_common.exports import (
    EXPORTS_PREFIX,
    Manifest,
    PartFile,
    export_prefix,
    is_export_id,
    manifest_key,
    member_ids_key,
    read_manifest,
    read_member_ids,
    utc_now_iso,
)


@dataclass
class ErasureCounts:
    """Progress of one pass, as the erasure record shows it."""

    exports_total: int = 0
    exports_done: int = 0
    exports_rewritten: int = 0
    exports_withdrawn: int = 0
    versions_deleted: int = 0
    rewritten_ids: list[str] = field(default_factory=list)
    withdrawn_ids: list[str] = field(default_factory=list)
    # Exports being written during the pass: they leave out members erased before their last check,
    # but one that checked just before this erasure was written may still publish the member.
    running: set[str] = field(default_factory=set)

    def as_progress(self) -> dict[str, int]:
        return {
            "exports_total": self.exports_total,
            "exports_done": self.exports_done,
            "exports_rewritten": self.exports_rewritten,
            "exports_withdrawn": self.exports_withdrawn,
            "versions_deleted": self.versions_deleted,
        }


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool


def export_versions(s3: Any, bucket: str, prefix: str = EXPORTS_PREFIX) -> dict[str, list[ObjectVersion]]:
    """Every object version and delete marker under the exports prefix, by export id."""
    found: dict[str, list[ObjectVersion]] = defaultdict(list)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for kind, marker in (("Versions", False), ("DeleteMarkers", True)):
            for v in page.get(kind, []):
                export_id = v["Key"].removeprefix(EXPORTS_PREFIX).split("/", 1)[0].removeprefix("export_id=")
                if is_export_id(export_id):
                    found[export_id].append(
                        ObjectVersion(
                            v["Key"], str(v.get("VersionId") or "null"), bool(v["IsLatest"]), marker
                        )
                    )
    return dict(found)


def delete_versions(s3: Any, bucket: str, versions: list[ObjectVersion]) -> int:
    """Delete these versions for good (a VersionId delete removes the version, it adds no marker)."""
    for v in versions:
        if not v.key.startswith(EXPORTS_PREFIX):
            raise ValueError("refusing to delete outside the exports prefix")
        s3.delete_object(Bucket=bucket, Key=v.key, VersionId=v.version_id)
    return len(versions)


def purge_export(s3: Any, bucket: str, export_id: str) -> int:
    """Remove an export and its whole history (manifest first, so it is never half visible)."""
    prefix = export_prefix(export_id)
    versions = export_versions(s3, bucket, prefix).get(export_id, [])
    # The current manifest's versions go first: the export stops being published before anything else.
    key = manifest_key(export_id)
    versions.sort(key=lambda v: v.key != key)
    return delete_versions(s3, bucket, versions)


def drop_members_from_part(s3: Any, bucket: str, key: str, member_ids: frozenset[str]) -> pa.Table | None:
    """The part without these members' rows, or None when it holds none of them."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    keep = pc.invert(pc.is_in(table.column("member_id"), value_set=pa.array(sorted(member_ids), pa.string())))
    keep = pc.fill_null(keep, True)
    if pc.all(keep).as_py():
        return None
    return table.filter(keep)


def _put_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> int:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue()
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/vnd.apache.parquet")
    return len(data)


def rewrite_export(
    s3: Any, bucket: str, manifest: Manifest, member_ids: frozenset[str], ids: frozenset[str]
) -> bool:
    """Write the export again without `member_ids` (same id, new part names); False if it vanished."""
    tag = secrets.token_hex(4)
    files: list[PartFile] = []
    for f in manifest.files:
        table = drop_members_from_part(s3, bucket, f.key, member_ids)
        if table is None:
            files.append(f)
            continue
        if table.num_rows == 0:
            continue  # the part held only erased members
        new_key = f.key.removesuffix(".parquet") + f"-e{tag}.parquet"
        files.append(
            PartFile(
                key=new_key,
                regio=f.regio,
                rows=table.num_rows,
                bytes=_put_parquet(s3, bucket, new_key, table),
            )
        )
    new = Manifest(
        export_id=manifest.export_id,
        created_at=manifest.created_at,
        completed_at=manifest.completed_at,
        options=manifest.options,
        rows=sum(f.rows for f in files),
        bytes=sum(f.bytes for f in files),
        columns=manifest.columns,
        files=files,
        schema_version=manifest.schema_version,
        unconverted=manifest.unconverted,
    )
    # Pruned or withdrawn while we read it: publishing it again would bring it back.
    if read_manifest(s3, bucket, manifest.export_id) is None:
        return False
    s3.put_object(
        Bucket=bucket,
        Key=member_ids_key(manifest.export_id),
        Body=json.dumps(sorted(ids - member_ids)).encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=bucket,
        Key=manifest_key(manifest.export_id),
        Body=new.to_json().encode(),
        ContentType="application/json",
    )
    return True


def erase_from_exports(
    s3: Any,
    bucket: str,
    member_ids: frozenset[str],
    *,
    is_running: Callable[[str], bool] = lambda export_id: False,
    on_progress: Callable[[ErasureCounts], None] = lambda counts: None,
    counts: ErasureCounts | None = None,
    only: frozenset[str] | None = None,
) -> ErasureCounts:
    """Rewrite or withdraw every export holding `member_ids`, then delete every old version.

    Exports being written now are left in `counts.running` (not done): the caller waits for them
    and passes them as `only` with the same `counts` once they have finished.
    """
    counts = counts if counts is not None else ErasureCounts()
    by_export = export_versions(s3, bucket)
    if only is None:
        counts.exports_total = len(by_export)
    on_progress(counts)
    for export_id in sorted(by_export):
        if only is not None and export_id not in only:
            continue
        if is_running(export_id):
            counts.running.add(export_id)
            continue
        counts.running.discard(export_id)
        counts.versions_deleted += _erase_from_one(
            s3, bucket, export_id, by_export[export_id], member_ids, counts
        )
        counts.exports_done += 1
        on_progress(counts)
    for gone in (only or frozenset()) - set(by_export):
        # Finished with nothing left in the bucket (a failed run cleans up after itself).
        counts.running.discard(gone)
        counts.exports_done += 1
    return counts


def _erase_from_one(
    s3: Any,
    bucket: str,
    export_id: str,
    versions: list[ObjectVersion],
    member_ids: frozenset[str],
    counts: ErasureCounts,
) -> int:
    manifest = read_manifest(s3, bucket, export_id)
    if manifest is None:
        # Not downloadable, but its old versions may still hold the member: remove them all.
        return delete_versions(s3, bucket, versions)
    ids = read_member_ids(s3, bucket, export_id)
    if ids is not None and not (ids & member_ids):
        # Current files do not hold them; older versions (an earlier state of this export) might.
        stale = [v for v in versions if not v.is_latest]
        return delete_versions(s3, bucket, stale)
    if ids is None or "member_id" not in manifest.columns:
        counts.exports_withdrawn += 1
        counts.withdrawn_ids.append(export_id)
        return purge_export(s3, bucket, export_id)
    if not rewrite_export(s3, bucket, manifest, member_ids, ids):
        counts.exports_withdrawn += 1
        counts.withdrawn_ids.append(export_id)
        return purge_export(s3, bucket, export_id)
    counts.exports_rewritten += 1
    counts.rewritten_ids.append(export_id)
    # Everything except the current objects of the rewritten export goes, every version of it.
    current = read_manifest(s3, bucket, export_id)
    keep_keys = {manifest_key(export_id), member_ids_key(export_id)} | {
        f.key for f in (current.files if current else [])
    }
    after = export_versions(s3, bucket, export_prefix(export_id)).get(export_id, [])
    old = [v for v in after if not (v.is_latest and not v.delete_marker and v.key in keep_keys)]
    return delete_versions(s3, bucket, old)


def drop_erased_before_publish(
    s3: Any, bucket: str, files: list[PartFile], member_ids: list[str], erased: frozenset[str]
) -> tuple[list[PartFile], list[str]]:
    """For an export about to publish: rewrite its parts without members erased since it began.

    The parts are not published yet, so they are rewritten in place and their first versions deleted.
    """
    hit = erased & frozenset(member_ids)
    if not hit:
        return files, member_ids
    kept: list[PartFile] = []
    for f in files:
        old_versions = [
            ObjectVersion(v["Key"], str(v["VersionId"]), bool(v["IsLatest"]), False)
            for v in s3.list_object_versions(Bucket=bucket, Prefix=f.key).get("Versions", [])
            if v["Key"] == f.key
        ]
        table = drop_members_from_part(s3, bucket, f.key, hit)
        if table is None:
            kept.append(f)
            continue
        if table.num_rows:
            size = _put_parquet(s3, bucket, f.key, table)
            kept.append(PartFile(key=f.key, regio=f.regio, rows=table.num_rows, bytes=size))
        delete_versions(s3, bucket, old_versions)
    return kept, [m for m in member_ids if m not in hit]


def now_iso() -> str:
    return utc_now_iso()
