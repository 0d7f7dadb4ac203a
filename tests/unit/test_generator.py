"""The member export generator against moto in-process: schema, partitions, options, atomic publish."""

from __future__ import annotations

import importlib.util
import io
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hdcn_common import settings as settings_module
from hdcn_common.export_jobs import LOCK_ID
from hdcn_common.exports import (
    EXPORTS_PREFIX,
    ExportOptions,
    list_published,
    manifest_key,
    read_manifest,
)
from hdcn_common.member_export import export_members, prune_exports
from hdcn_common.member_parquet import (
    PII_COLUMNS,
    ExportFailed,
    items_from_dicts,
    items_to_batch,
    scan_with_backoff,
)

from backend.local.template import REPO_ROOT
from tests.unit.aws_fixtures import REGION, ExportEnv

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 25)
GENERATOR = REPO_ROOT / "backend/handler/generate_member_parquet/app.py"


def _read_export(env: ExportEnv, export_id: str) -> pa.Table:
    """Read an export back the way an analyst would: as a Hive-partitioned dataset of its files."""
    manifest = read_manifest(env.s3, env.bucket, export_id)
    assert manifest is not None
    tables = []
    for f in manifest.files:
        body = env.s3.get_object(Bucket=env.bucket, Key=f.key)["Body"].read()
        tables.append(pq.read_table(io.BytesIO(body)))
    return pa.concat_tables(tables, promote_options="permissive")


def _run_export(env: ExportEnv, export_id: str, **options: Any) -> Any:
    return export_members(
        dynamodb=env.scan_client(),
        s3=env.s3,
        bucket=env.bucket,
        members_table=env.members_table,
        export_id=export_id,
        options=ExportOptions(**options).as_dict(),
        created_at="2026-11-25T21:00:00+00:00",
        today=TODAY,
        max_buffered_rows=50,  # small buffers: several row groups and flushes even with 240 members
    )


def test_export_rows_equal_the_table_with_typed_columns(export_env: ExportEnv) -> None:
    # WHEN a full export runs
    manifest = _run_export(export_env, "20261125T210000Z-00000001")
    table = _read_export(export_env, "20261125T210000Z-00000001")
    # THEN every member is there exactly once, with typed columns
    assert manifest.rows == table.num_rows == len(export_env.members)
    assert sorted(table.column("member_id").to_pylist()) == sorted(m["member_id"] for m in export_env.members)
    schema = table.schema
    assert schema.field("geboortedatum").type == pa.date32()
    assert schema.field("ingangsdatum").type == pa.date32()
    assert schema.field("lidnummer").type == pa.int32()
    assert schema.field("bouwjaar").type == pa.int16()
    assert pa.types.is_dictionary(schema.field("regio").type)
    assert pa.types.is_dictionary(schema.field("status").type)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    # and the values survive the trip, computed columns included
    by_id = {r["member_id"]: r for r in table.to_pylist()}
    for m in export_env.members[:25]:
        row = by_id[m["member_id"]]
        born = date.fromisoformat(m["geboortedatum"])
        age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
        joined = date.fromisoformat(m["ingangsdatum"])
        years = TODAY.year - joined.year - ((TODAY.month, TODAY.day) < (joined.month, joined.day))
        assert row["geboortedatum"] == born and row["leeftijd"] == age and row["jaren_lid"] == years
        assert row["lidnummer"] == m["lidnummer"] and row["bouwjaar"] == m["bouwjaar"]
        assert row["regio"] == m["regio"] and row["kenteken"] == m["kenteken"]
        assert row["motormerk"] == m["motormerk"] and row["nieuwsbrief"] is (m["nieuwsbrief"] == "Ja")


def test_files_are_zstd_hive_partitioned_by_regio(export_env: ExportEnv) -> None:
    manifest = _run_export(export_env, "20261125T210000Z-00000002")
    for f in manifest.files:
        # GIVEN each published file THEN its key follows the layout and its regio matches its rows
        assert f.key.startswith(f"{EXPORTS_PREFIX}export_id=20261125T210000Z-00000002/regio=")
        assert f.key.endswith(".parquet")
        body = export_env.s3.get_object(Bucket=export_env.bucket, Key=f.key)["Body"].read()
        meta = pq.ParquetFile(io.BytesIO(body)).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert set(pq.read_table(io.BytesIO(body)).column("regio").to_pylist()) == {f.regio}
    # Groningen/Drenthe holds a slash: it is URI-encoded in the key and decoded by dataset readers
    gd = [f for f in manifest.files if f.regio == "Groningen/Drenthe"]
    assert gd and "regio=Groningen%2FDrenthe/" in gd[0].key
    paths = [f.key.split("export_id=20261125T210000Z-00000002/")[1] for f in gd]
    assert ds.partitioning(pa.schema([("regio", pa.string())]), flavor="hive").discover is not None
    assert paths[0].startswith("regio=Groningen%2FDrenthe")


def test_options_active_only_and_regio_filter_rows(export_env: ExportEnv) -> None:
    # WHEN exporting active Utrecht members only
    _run_export(export_env, "20261125T210000Z-00000003", active_only=True, regio="Utrecht")
    table = _read_export(export_env, "20261125T210000Z-00000003")
    expected = {
        m["member_id"] for m in export_env.members if m["status"] == "Actief" and m["regio"] == "Utrecht"
    }
    # THEN exactly those rows are exported
    assert set(table.column("member_id").to_pylist()) == expected and expected


def test_anonymized_export_holds_no_pii(export_env: ExportEnv) -> None:
    _run_export(export_env, "20261125T210000Z-00000004", anonymize=True)
    manifest = read_manifest(export_env.s3, export_env.bucket, "20261125T210000Z-00000004")
    assert manifest is not None
    pii_values = set()
    for m in export_env.members:
        pii_values |= {m["achternaam"], m["email"], m["telefoon"], m["straat"], m["bankrekeningnummer"]}
        pii_values |= {m["kenteken"], m["voornaam"], m["member_id"]}
    pii_values.discard("")
    for f in manifest.files:
        raw = export_env.s3.get_object(Bucket=export_env.bucket, Key=f.key)["Body"].read()
        table = pq.read_table(io.BytesIO(raw))
        # THEN no PII column, and no PII value anywhere in the file's bytes or cells
        assert not (set(table.column_names) & PII_COLUMNS)
        cells = {str(v) for col in table.columns for v in col.to_pylist()}
        assert not (cells & pii_values)
        for value in ("@example.nl", "NL", "MZ-"):
            assert value.encode() not in raw or value == "NL"
        assert "leeftijd" in table.column_names


def test_failed_run_publishes_nothing_and_keeps_previous(export_env: ExportEnv) -> None:
    # GIVEN a published export
    _run_export(export_env, "20261125T210000Z-0000000a")

    # WHEN the next run fails after parts were uploaded (S3 refuses the manifest)
    class ManifestRefusingS3:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def put_object(self, **kwargs: Any) -> Any:
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        export_members(
            dynamodb=export_env.scan_client(),
            s3=ManifestRefusingS3(export_env.s3),
            bucket=export_env.bucket,
            members_table=export_env.members_table,
            export_id="20261125T210000Z-0000000b",
            options={},
            created_at="x",
            max_buffered_rows=50,
        )
    # THEN no object of the failed export remains and the previous one is still the published one
    listed = export_env.s3.list_objects_v2(
        Bucket=export_env.bucket, Prefix=f"{EXPORTS_PREFIX}export_id=20261125T210000Z-0000000b/"
    )
    assert listed.get("KeyCount", 0) == 0
    assert list_published(export_env.s3, export_env.bucket) == ["20261125T210000Z-0000000a"]


def test_prune_keeps_the_newest_and_drops_dead_runs(export_env: ExportEnv) -> None:
    for n in range(1, 4):
        _run_export(export_env, f"20261125T21000{n}Z-0000000c")
    # GIVEN a folder left by a killed run (parts, no manifest)
    export_env.s3.put_object(
        Bucket=export_env.bucket,
        Key=f"{EXPORTS_PREFIX}export_id=20261125T205959Z-deadbeef/regio=Oost/part-00000.parquet",
        Body=b"x",
    )
    # WHEN pruning keeps 2
    removed = prune_exports(export_env.s3, export_env.bucket, keep=2, current="20261125T210003Z-0000000c")
    # THEN the oldest export and the dead folder are gone
    assert sorted(removed) == ["20261125T205959Z-deadbeef", "20261125T210001Z-0000000c"]
    assert list_published(export_env.s3, export_env.bucket) == [
        "20261125T210003Z-0000000c",
        "20261125T210002Z-0000000c",
    ]


def test_bad_values_become_nulls_not_failures() -> None:
    # GIVEN items with a malformed date, a non-integer number and a missing regio
    items = [
        {"member_id": {"S": "a"}, "geboortedatum": {"S": "31-02-1970"}, "bouwjaar": {"N": "1999.5"}},
        {
            "member_id": {"S": "b"},
            "ingangsdatum": {"NULL": True},
            "lidnummer": {"N": "7"},
            "regio": {"S": "Oost"},
        },
    ]
    unconverted: Counter[str] = Counter()
    batch = items_to_batch(items_from_dicts(items), TODAY, unconverted=unconverted)
    # THEN the batch is built with nulls where the data is bad, and each lost value is counted
    assert batch.column("geboortedatum").to_pylist() == [None, None]
    assert batch.column("leeftijd").to_pylist() == [None, None]
    assert batch.column("bouwjaar").to_pylist() == [None, None]
    assert batch.column("lidnummer").to_pylist() == [None, 7]
    assert unconverted == {"geboortedatum": 1, "bouwjaar": 1}


def test_throttled_scan_is_retried_then_gives_a_readable_failure() -> None:
    from botocore.exceptions import ClientError

    calls: list[str] = []

    class Throttling:
        def __init__(self, failures: int) -> None:
            self.failures = failures

        def scan(self, **_: Any) -> dict[str, Any]:
            calls.append("scan")
            if len(calls) <= self.failures:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Scan")
            return {"RawItems": []}

    beats: list[int] = []
    # GIVEN a table that throttles 3 times WHEN scanned THEN the page arrives, heartbeating while waiting
    page = scan_with_backoff(Throttling(3), {}, on_wait=lambda: beats.append(1), sleep=lambda s: None)
    assert page == {"RawItems": []} and len(beats) == 3
    # GIVEN one that never stops THEN the failure is readable
    calls.clear()
    with pytest.raises(ExportFailed, match="throttling"):
        scan_with_backoff(Throttling(99), {}, on_wait=lambda: None, sleep=lambda s: None, max_attempts=4)


def _load_generator() -> Any:
    name = f"generator_under_test_{uuid.uuid4().hex[:6]}"
    spec = importlib.util.spec_from_file_location(name, GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class _Context:
    function_name: str = "generator"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:generator"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def test_handler_runs_a_queued_job_to_succeeded(export_env: ExportEnv) -> None:
    # GIVEN a queued job holding the lock
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    # WHEN the generator handles it
    result = _load_generator().lambda_handler({"job_id": job["job_id"]}, _Context())
    # THEN the job succeeded with counts, the export is published and the lock is free
    assert result["state"] == "succeeded"
    done = jobs.get(job["job_id"])
    assert done is not None and done["state"] == "succeeded"
    assert int(done["rows"]) == len(export_env.members) and int(done["bytes"]) > 0
    assert sum(int(v) for v in done["regions"].values()) == len(export_env.members)
    assert export_env.s3.head_object(Bucket=export_env.bucket, Key=manifest_key(job["job_id"]))
    assert jobs.table.get_item(Key={"job_id": LOCK_ID}).get("Item") is None
    # and the access log names the export made, for whom, with its count and no member data
    audit = boto3.resource("dynamodb", region_name=REGION).Table(settings_module.settings().audit_table)
    made = [e for e in audit.scan()["Items"] if e["action"] == "export.generated"]
    assert [(e["actor"], e["target"], int(e["rows"])) for e in made] == [
        ("staff", job["job_id"], len(export_env.members))
    ]


def test_an_export_the_access_log_cannot_name_is_withdrawn(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a queued job and an access log that cannot be written
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    monkeypatch.setenv("AUDIT_TABLE", "no-such-audit-table")
    settings_module.settings.cache_clear()
    # WHEN the generator runs it
    result = _load_generator().lambda_handler({"job_id": job["job_id"]}, _Context())
    # THEN the job failed and its export was withdrawn: nothing is published that the log does not name
    assert result["state"] == "failed"
    failed = jobs.get(job["job_id"])
    assert (
        failed is not None and failed["state"] == "failed" and "no export was published" in failed["error"]
    ), failed
    assert list_published(export_env.s3, export_env.bucket) == [], failed["error"]


def test_schedule_event_queues_its_own_job(export_env: ExportEnv) -> None:
    # WHEN EventBridge's scheduled event arrives (no job id)
    result = _load_generator().lambda_handler({"source": "aws.events", "detail": {}}, _Context())
    # THEN a schedule job ran to the end
    assert result["state"] == "succeeded"
    job = export_env.jobs().get(result["job_id"])
    assert job is not None and job["trigger"] == "schedule" and job["requested_by"] == "schedule"


def test_handler_marks_job_failed_with_reason_and_publishes_nothing(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a queued job and a bucket that does not exist (S3 refuses every part)
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    monkeypatch.setenv("EXPORT_BUCKET", "no-such-bucket-here")
    settings_module.settings.cache_clear()
    # WHEN the generator runs it
    result = _load_generator().lambda_handler({"job_id": job["job_id"]}, _Context())
    # THEN the job failed with a readable reason that quotes no AWS message
    assert result["state"] == "failed"
    failed = jobs.get(job["job_id"])
    assert failed is not None and failed["state"] == "failed"
    assert "no export was published" in failed["error"]
    assert list_published(export_env.s3, export_env.bucket) == []


def test_handler_stopped_from_outside_fails_its_job_and_lets_the_stop_through(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a queued job, and a stop (as a signal handler raises it) arriving during an S3 upload
    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    generator = _load_generator()

    class Stopped(BaseException):
        pass

    def stopped_upload(*args: Any, **kwargs: Any) -> None:
        raise Stopped

    real_client = generator.client

    def client(service: str) -> Any:
        made = real_client(service)
        if service == "s3":
            monkeypatch.setattr(made, "put_object", stopped_upload)
        return made

    monkeypatch.setattr(generator, "client", client)
    # WHEN the generator runs it THEN the stop is not swallowed
    with pytest.raises(Stopped):
        generator.lambda_handler({"job_id": job["job_id"]}, _Context())
    # AND the job failed, saying it was stopped; nothing is published and the lock is free
    failed = jobs.get(job["job_id"])
    assert failed is not None and failed["state"] == "failed"
    assert "stopped (Stopped)" in failed["error"]
    assert list_published(export_env.s3, export_env.bucket) == []
    assert jobs.create("staff", ExportOptions())["state"] == "queued"


def test_heartbeat_thread_beats_and_stops_a_run_whose_job_was_failed(export_env: ExportEnv) -> None:
    import time

    from hdcn_common.export_jobs import JobNotActive

    jobs = export_env.jobs()
    job = jobs.create("staff", ExportOptions())
    jobs.start(job["job_id"])
    beat = _load_generator().Heartbeat(jobs, job["job_id"], every=0.05)
    beat.start()
    try:
        # GIVEN a running export that reported 42 rows WHEN the thread beats THEN the job shows them
        beat.progress(42)
        deadline = time.monotonic() + 10
        while int(jobs.get(job["job_id"], reconcile=False)["rows_so_far"]) != 42:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # WHEN a reader marks the job failed (it looked dead) THEN the run is told to stop at its next page
        jobs.fail(job["job_id"], "looked dead")
        while not beat.cancelled:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(JobNotActive):
            beat.progress(43)
    finally:
        beat.stop()


def test_handler_keeps_only_the_newest_exports(export_env: ExportEnv) -> None:
    # GIVEN EXPORTS_TO_KEEP=2 WHEN three exports run one after another
    jobs, generator, ids = export_env.jobs(), _load_generator(), []
    for _ in range(3):
        job = jobs.create("staff", ExportOptions(regio="Oost"))
        ids.append(job["job_id"])
        assert generator.lambda_handler({"job_id": job["job_id"]}, _Context())["state"] == "succeeded"
    # THEN the two newest (ids sort by time, then at random within one second) stay published
    kept = sorted(ids, reverse=True)[:2]
    assert list_published(export_env.s3, export_env.bucket) == kept
    # and the pruned one's job still tells its story
    oldest = jobs.get(min(ids))
    assert oldest is not None and oldest["state"] == "succeeded"
