"""The local stack's saver: every S3 version and delete marker, private files, loud failures."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from backend.local.persistence import DATA_DIR, SAVING_DIR, LocalData
from tests.unit.aws_fixtures import REGION, create_template_resources

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _versions(s3: Any, bucket: str) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is a delete marker, is latest) of everything in the bucket, in S3's order."""
    listing = s3.list_object_versions(Bucket=bucket)
    rows = [(v["Key"], v["VersionId"], False, v["IsLatest"]) for v in listing.get("Versions", [])]
    rows += [(m["Key"], m["VersionId"], True, m["IsLatest"]) for m in listing.get("DeleteMarkers", [])]
    return sorted(rows)


def _pruned_bucket(s3: Any, bucket: str) -> str:
    """GIVEN what export pruning leaves: versions, then delete markers over them; the first version's id."""
    first = s3.put_object(
        Bucket=bucket, Key="analytics/parquet/members/export_id=a/_manifest.json", Body=b"v1"
    )
    s3.put_object(Bucket=bucket, Key="analytics/parquet/members/export_id=a/_manifest.json", Body=b"v2")
    s3.delete_object(Bucket=bucket, Key="analytics/parquet/members/export_id=a/_manifest.json")
    s3.put_object(
        Bucket=bucket, Key="analytics/parquet/members/export_id=a/regio=Oost/part-0.parquet", Body=b"P"
    )
    s3.delete_object(Bucket=bucket, Key="analytics/parquet/members/export_id=a/regio=Oost/part-0.parquet")
    s3.delete_object(Bucket=bucket, Key="analytics/parquet/members/export_id=a/regio=Oost/part-0.parquet")
    s3.put_object(
        Bucket=bucket,
        Key="analytics/parquet/members/export_id=b/_manifest.json",
        Body=b"{}",
        ContentType="application/json",
    )
    return str(first["VersionId"])


def test_every_version_and_delete_marker_survives_a_save_and_restore(
    template_resources: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = template_resources["ExportBucket"]
    first_version = _pruned_bucket(s3, bucket)
    members = boto3.resource("dynamodb", region_name=REGION).Table(template_resources["MembersTable"])
    members.put_item(Item={"member_id": "m-1", "regio": "Oost", "lidnummer": 7, "version": 3})
    before = _versions(s3, bucket)

    # WHEN the data is saved (the autosave died here on FakeDeleteMarker before)
    state_dir = tmp_path / "state"
    LocalData(state_dir, template_resources, DEFAULT_ACCOUNT_ID, REGION).save()

    # THEN the state folder and everything in it is private to this user
    assert _mode(state_dir) == 0o700
    saved = [p for p in (state_dir / DATA_DIR).rglob("*")]
    assert saved and all(_mode(p) == (0o700 if p.is_dir() else 0o600) for p in saved)
    assert not (state_dir / SAVING_DIR).exists()

    # WHEN it is restored into a newly deployed stack (new physical names)
    fresh = create_template_resources(monkeypatch)
    data = LocalData(state_dir, fresh, DEFAULT_ACCOUNT_ID, REGION)
    assert data.exists()
    data.restore()

    # THEN the bucket has the same history: versions, delete markers, ids, which is latest
    assert _versions(s3, fresh["ExportBucket"]) == before
    got = s3.get_object(
        Bucket=fresh["ExportBucket"], Key="analytics/parquet/members/export_id=b/_manifest.json"
    )
    assert got["Body"].read() == b"{}" and got["ContentType"] == "application/json"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(
            Bucket=fresh["ExportBucket"], Key="analytics/parquet/members/export_id=a/_manifest.json"
        )
    body = s3.get_object(
        Bucket=fresh["ExportBucket"],
        Key="analytics/parquet/members/export_id=a/_manifest.json",
        VersionId=first_version,
    )["Body"]
    assert body.read() == b"v1"
    # and the tables
    table = boto3.resource("dynamodb", region_name=REGION).Table(fresh["MembersTable"])
    assert table.get_item(Key={"member_id": "m-1"})["Item"]["version"] == 3


def test_a_kill_between_the_renames_of_a_save_keeps_the_complete_copy(
    template_resources: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a complete save, then a kill that left it renamed to data.old and the new one half-written
    data = LocalData(tmp_path, template_resources, DEFAULT_ACCOUNT_ID, REGION)
    data.save()
    (tmp_path / DATA_DIR).rename(tmp_path / "data.old")
    (tmp_path / SAVING_DIR / "dynamodb").mkdir(parents=True)
    # WHEN the next start looks for saved data THEN the complete copy is found and the rest removed
    assert data.exists()
    assert (tmp_path / DATA_DIR / "manifest.json").exists()
    assert not (tmp_path / SAVING_DIR).exists() and not (tmp_path / "data.old").exists()


def test_a_failed_save_is_logged_told_and_retried(
    template_resources: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a saver whose first save fails
    data = LocalData(tmp_path, template_resources, DEFAULT_ACCOUNT_ID, REGION)
    real_save = data.save
    calls: list[str] = []
    recovered = threading.Event()

    def flaky_save() -> dict[str, int]:
        calls.append("save")
        if len(calls) == 1:
            raise AttributeError("'FakeDeleteMarker' object has no attribute 'value'")
        counts = real_save()
        recovered.set()
        return counts

    data.save = flaky_save  # type: ignore[method-assign]
    told: list[str] = []
    stop = threading.Event()
    # WHEN the autosave runs
    with caplog.at_level(logging.ERROR, logger="hdcn.persistence"):
        thread = data.autosave(0.01, stop, tell=told.append)
        assert recovered.wait(30), "the autosave did not retry after its failure"
        stop.set()
        thread.join(30)
    # THEN the failure was logged at ERROR, the operator was told, and the thread kept saving
    assert any("FAILED" in r.getMessage() for r in caplog.records)
    assert told[0].startswith("WARNING: saving the local data failed: AttributeError")
    assert "saving the local data works again" in told
    assert (tmp_path / DATA_DIR / "manifest.json").exists()


def test_the_save_at_stop_says_when_it_never_succeeded(
    template_resources: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a saver that cannot save WHEN the stack stops THEN it says so and reports failure
    data = LocalData(tmp_path, template_resources, DEFAULT_ACCOUNT_ID, REGION)

    def broken() -> dict[str, int]:
        raise OSError("disk full")

    data.save = broken  # type: ignore[method-assign]
    told: list[str] = []
    assert data.save_at_stop(told.append, pause=0) is False
    assert told[-1].startswith("ERROR: the data could not be saved at stop")
