"""Erasure on the local stack: staff erase a member who is in two published exports; afterwards no
object version in the export bucket, no list, no search and no data export holds them.
"""

from __future__ import annotations

import io
import random
import string
import time
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from tests.integration.test_members_api import new_member

pytestmark = pytest.mark.integration
Api = Callable[..., requests.Response]


def _iban(rng: random.Random) -> str:
    """A valid Dutch IBAN no seeded member has (mod-97 check digits)."""
    bank, account = "ABNA", "".join(rng.choice(string.digits) for _ in range(10))
    digits = "".join(str(int(c, 36)) for c in f"{bank}{account}NL00")
    return f"NL{98 - int(digits) % 97:02d}{bank}{account}"


def _export(api: Api, **options: Any) -> str:
    """Start an export (waiting out one that runs) and wait for it to succeed; its id."""
    job = _wait_for_job(api, _start_export(api, **options))
    assert job["state"] == "succeeded", job
    return str(job["job_id"])


def _start_export(api: Api, **options: Any) -> str:
    deadline = time.monotonic() + 240
    while True:
        resp = api("POST", "/analytics/generate-parquet", user="staff", json=options)
        if resp.status_code == 202:
            return str(resp.json()["job_id"])
        assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
        time.sleep(1)


def _wait_for_job(api: Api, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while True:
        job: dict[str, Any] = api("GET", f"/analytics/jobs/{job_id}", user="staff").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.5)


def _versions_holding(s3: Any, bucket: str, needles: list[bytes]) -> list[str]:
    """Keys (with version ids) of every object version whose bytes or Parquet rows hold a needle."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            texts = [body]
            if v["Key"].endswith(".parquet"):
                texts.append(repr(pq.read_table(io.BytesIO(body)).to_pylist()).encode())
            if any(n in t for t in texts for n in needles):
                found.append(f"{v['Key']} ({v['VersionId']})")
    return found


def _wait_for_erasure(api: Api, member_id: str, seconds: float = 180) -> dict[str, Any]:
    """Poll GET /members/{id}/erase until the job ends (a wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        resp = api("GET", f"/members/{member_id}/erase", user="staff")
        assert resp.status_code == 200, resp.text
        erasure: dict[str, Any] = resp.json()
        if erasure["status"] in ("done", "failed"):
            return erasure
        assert time.monotonic() < deadline, erasure
        time.sleep(0.5)


def _download_member_ids(api: Api, export_id: str, user: str = "admin") -> set[str]:
    resp = api("GET", f"/analytics/download-parquet/{export_id}", user=user)
    assert resp.status_code == 200, resp.text
    ids: set[str] = set()
    for f in resp.json()["files"]:
        got = requests.get(f["url"], timeout=30)
        assert got.status_code == 200
        ids |= set(pq.read_table(io.BytesIO(got.content)).column("member_id").to_pylist())
    return ids


def test_staff_erasure_leaves_the_member_in_no_export_version_list_or_search(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    rng = random.Random()
    surname = "Wis" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))
    iban = _iban(rng)
    # GIVEN a member with their own name, email and IBAN
    created = api(
        "POST",
        "/members",
        user="staff",
        json=new_member("Utrecht", voornaam="Erika", achternaam=surname, bankrekeningnummer=iban),
    )
    assert created.status_code == 201, created.text
    member = created.json()
    member_id, email = member["member_id"], member["email"]
    stored_iban = member["bankrekeningnummer"]
    # and two published exports that hold them (a full one and one of Utrecht)
    exports = [_export(api), _export(api, regio="Utrecht")]
    for export_id in exports:
        assert member_id in _download_member_ids(api, export_id)
    # WHEN staff erase them
    resp = api("POST", f"/members/{member_id}/erase", user="staff")
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] in ("queued", "running") and resp.json()["member_id"] == member_id
    # THEN the job finishes done, having rewritten both exports
    erasure = _wait_for_erasure(api, member_id)
    assert erasure["status"] == "done", erasure
    assert erasure["exports_rewritten"] + erasure["exports_withdrawn"] >= 2
    assert erasure["exports_done"] == erasure["exports_total"] and erasure["finished_at"]
    # and no object version in the export bucket holds their id, name, email or IBAN
    s3, bucket = aws("s3"), local_stack["outputs"]["ExportBucketName"]
    needles = [v.encode() for v in (member_id, surname, email, stored_iban)]
    checked = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            texts = [body]
            if v["Key"].endswith(".parquet"):
                rows = pq.read_table(io.BytesIO(body)).to_pylist()
                texts.append(repr(rows).encode())
            for text in texts:
                for needle in needles:
                    assert needle not in text, f"{v['Key']} ({v['VersionId']}) holds the erased member"
            checked += 1
    assert checked > 0
    # and the exports still downloadable do not hold them, and are listed with the rows they have left
    listed = {e["export_id"]: e for e in api("GET", "/analytics/exports", user="admin").json()["exports"]}
    for export_id in exports:
        resp = api("GET", f"/analytics/download-parquet/{export_id}", user="admin")
        if resp.status_code == 200:
            assert member_id not in _download_member_ids(api, export_id)
            if export_id in listed:
                assert listed[export_id]["rows"] == resp.json()["rows"]
    # and no read, list, name search, email lookup or data export returns them
    assert api("GET", f"/members/{member_id}", user="staff").status_code == 404
    assert api("GET", f"/members/{member_id}/data-export", user="staff").status_code == 404
    found = api("GET", "/members", user="staff", params={"q": surname}).json()["members"]
    assert found == []
    found = api("GET", "/members", user="staff", params={"email": email}).json()["members"]
    assert found == []
    # and the access log names the erasure and its outcome, with ids only
    log = api("GET", "/audit", user="root", params={"member": member_id}).json()
    entries = log.get("entries", log.get("items", []))
    actions = {e["action"] for e in entries}
    assert {"member.erase", "member.erase.finished"} <= actions, actions
    assert surname not in repr(entries) and email not in repr(entries)
    # and asking again is a 404 (the member is gone), the erasure stays readable
    assert api("POST", f"/members/{member_id}/erase", user="staff").status_code == 404
    assert api("GET", f"/members/{member_id}/erase", user="staff-utrecht").status_code == 200
    assert api("GET", f"/members/{member_id}/erase", user="regio-utrecht").status_code == 403


def test_retention_dry_run_by_hand_reports_ids_only_and_erases_nothing(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    import json

    import boto3

    # GIVEN a member who left (Opgezegd) today: not yet due
    created = api("POST", "/members", user="staff", json=new_member("Utrecht", status="Opgezegd"))
    assert created.status_code == 201, created.text
    member_id = created.json()["member_id"]
    # WHEN the retention job is invoked by hand (the local stack runs no schedules), as a dry run
    lam = boto3.client(
        "lambda",
        endpoint_url=local_stack["lambda_endpoint"],
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    out = lam.invoke(
        FunctionName=local_stack["outputs"]["GenerateMemberParquetFunctionName"],
        Payload=json.dumps({"retention": {"apply": False}}).encode(),
    )
    result = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, result
    assert result["retention"]["mode"] == "dry-run"
    # THEN a report lies under reports/retention/ with ids and counts, no names
    s3, bucket = aws("s3"), local_stack["outputs"]["ExportBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="reports/retention/")["Contents"]]
    report = json.loads(s3.get_object(Bucket=bucket, Key=sorted(keys)[-1])["Body"].read())
    assert report["mode"] == "dry-run" and member_id not in report["due"]
    assert set(report) >= {"due", "cannot_tell", "erased", "exports_removed", "cutoff"}
    assert "@" not in json.dumps(report)
    # and nothing was erased
    assert api("GET", f"/members/{member_id}", user="staff").status_code == 200


def test_erasure_while_an_export_runs_leaves_the_member_in_no_version(
    api: Api, aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # GIVEN a member, and an export started just before their erasure (it may read them first)
    surname = "Ras" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    created = api("POST", "/members", user="staff", json=new_member("Utrecht", achternaam=surname))
    assert created.status_code == 201, created.text
    member_id, email = created.json()["member_id"], created.json()["email"]
    job_id = _start_export(api)
    # WHEN staff erase them while the export runs
    resp = api("POST", f"/members/{member_id}/erase", user="staff")
    assert resp.status_code == 202, resp.text
    # THEN whichever finishes first, once both have, no object version holds them
    job = _wait_for_job(api, job_id)
    erasure = _wait_for_erasure(api, member_id)
    assert erasure["status"] == "done", erasure
    s3, bucket = aws("s3"), local_stack["outputs"]["ExportBucketName"]
    assert _versions_holding(s3, bucket, [member_id.encode(), surname.encode(), email.encode()]) == []
    # and the export, if it published, is downloadable without them
    if job["state"] == "succeeded":
        assert member_id not in _download_member_ids(api, job_id)
