"""The export routes' handlers with API Gateway events against moto: region scope, names, roles, errors."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hdcn_common import export_jobs as export_jobs_module
from hdcn_common.exports import ExportOptions, new_export_id

from backend.local.template import REPO_ROOT
from tests.unit.aws_fixtures import ExportEnv
from tests.unit.test_generator import _run_export

pytestmark = pytest.mark.unit
DOWNLOAD = REPO_ROOT / "backend/handler/download_parquet/app.py"
JOBS = REPO_ROOT / "backend/handler/export_jobs/app.py"
USERS = {
    "admin": "Members_Export,Regio_All",
    "staff": "Members_CRUD,Regio_All",
    "utrecht": "Members_Read,Regio_Utrecht",
    "utrecht-exporter": "Members_Export,Regio_Utrecht",
    "ops": "System_Logs_Read",
}


@dataclass
class LambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test"
    aws_request_id: str = "req-1"


def _load(path: Any) -> Any:
    name = f"handler_under_test_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _call(module: Any, method: str, path: str, user: str, body: Any = None, **params: str) -> tuple[int, Any]:
    """A minimal API Gateway REST proxy event with verified claims, through the real handler."""
    resource = path
    path_params = None
    for route, name in (("/analytics/download-parquet/", "filename"), ("/analytics/jobs/", "job_id")):
        if path.startswith(route) and path != route.rstrip("/"):
            resource, path_params = f"{route}{{{name}}}", {name: path.removeprefix(route)}
    event = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} or None,
        "pathParameters": path_params,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "requestId": "r",
            "authorizer": {"claims": {"cognito:username": user, "cognito:groups": USERS[user]}},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    result = module.lambda_handler(event, LambdaContext())
    return int(result["statusCode"]), json.loads(result["body"])


def _publish(env: ExportEnv, **options: Any) -> str:
    """GIVEN a published export with its job record, as the generator leaves them."""
    jobs = env.jobs()
    job = jobs.create("staff", ExportOptions(**options))
    jobs.start(job["job_id"])
    manifest = _run_export(env, job["job_id"], **options)
    regions: dict[str, int] = {}
    for f in manifest.files:
        regions[f.regio] = regions.get(f.regio, 0) + f.rows
    jobs.succeed(job["job_id"], manifest.rows, manifest.bytes, len(manifest.files), regions)
    jobs.release_lock(job["job_id"])
    return str(job["job_id"])


def test_regional_reader_gets_urls_for_their_region_only(export_env: ExportEnv) -> None:
    export_id = _publish(export_env)
    download = _load(DOWNLOAD)
    status, body = _call(download, "GET", f"/analytics/download-parquet/{export_id}", "utrecht")
    # THEN only Utrecht files, with as many rows as Utrecht has
    assert status == 200
    assert {f["regio"] for f in body["files"]} == {"Utrecht"}
    assert body["rows"] == sum(1 for m in export_env.members if m["regio"] == "Utrecht")
    assert all("Utrecht" in f["url"] for f in body["files"])
    # and on AWS (no endpoint override) the links are SigV4 on the bucket's regional virtual host,
    # never SigV2 on the global endpoint, which S3 refuses for buckets created after June 2020
    for f in body["files"]:
        assert f["url"].startswith(f"https://{export_env.bucket}.s3.eu-west-1.amazonaws.com/analytics/")
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in f["url"] and "X-Amz-Expires=300" in f["url"]
        assert "AWSAccessKeyId=" not in f["url"] and "Signature=" not in f["url"].replace(
            "X-Amz-Signature", ""
        )
    # while admin gets every region
    status, body = _call(download, "GET", "/analytics/download-parquet/latest", "admin")
    assert status == 200 and body["export_id"] == export_id
    assert body["rows"] == len(export_env.members) and len(body["files"]) == 10


def test_latest_skips_exports_without_the_callers_regions(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Export ids are UTC seconds plus randomness: two made in one second would sort by chance.
    seconds = itertools.count()
    start = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    monkeypatch.setattr(
        export_jobs_module, "new_export_id", lambda: new_export_id(start + timedelta(seconds=next(seconds)))
    )
    # GIVEN a full export, then a newer one of Limburg only
    full = _publish(export_env)
    limburg = _publish(export_env, regio="Limburg")
    download = _load(DOWNLOAD)
    # THEN 'latest' is the Limburg one for admin, the full one for Utrecht
    assert _call(download, "GET", "/analytics/download-parquet/latest", "admin")[1]["export_id"] == limburg
    assert _call(download, "GET", "/analytics/download-parquet/latest", "utrecht")[1]["export_id"] == full
    # and asking for the Limburg export by id as Utrecht reveals nothing
    assert _call(download, "GET", f"/analytics/download-parquet/{limburg}", "utrecht")[0] == 404
    # and the listing shows Utrecht only what it may read
    status, body = _call(download, "GET", "/analytics/exports", "utrecht")
    assert status == 200 and [e["export_id"] for e in body["exports"]] == [full]


@pytest.mark.parametrize("name", ["..", "latest.parquet", "export_id=1", "20261125T210000Z-0000000G", "a.b"])
def test_bad_names_are_400(export_env: ExportEnv, name: str) -> None:
    status, body = _call(_load(DOWNLOAD), "GET", f"/analytics/download-parquet/{name}", "admin")
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_unpublished_export_is_404(export_env: ExportEnv) -> None:
    # GIVEN parts of a run that never wrote its manifest
    export_env.s3.put_object(
        Bucket=export_env.bucket,
        Key="analytics/parquet/members/export_id=20261125T210000Z-000000aa/regio=Oost/part-00000.parquet",
        Body=b"partial",
    )
    status, _ = _call(
        _load(DOWNLOAD), "GET", "/analytics/download-parquet/20261125T210000Z-000000aa", "admin"
    )
    assert status == 404


def test_roles(export_env: ExportEnv) -> None:
    download, jobs = _load(DOWNLOAD), _load(JOBS)
    assert _call(download, "GET", "/analytics/exports", "ops")[0] == 403
    assert _call(jobs, "POST", "/analytics/generate-parquet", "utrecht", body={})[0] == 403
    assert _call(jobs, "GET", "/analytics/jobs", "utrecht")[0] == 403


def test_trigger_with_unstartable_generator_is_503_and_frees_the_lock(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the generator function does not exist (the invoke fails)
    monkeypatch.setenv("GENERATOR_FUNCTION_NAME", "no-such-function")
    jobs_api = _load(JOBS)
    # WHEN staff triggers an export THEN 503, the job failed with a reason, and a retry is not blocked
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    listed = _call(jobs_api, "GET", "/analytics/jobs", "staff")[1]["jobs"]
    assert listed[0]["state"] == "failed" and "could not be started" in listed[0]["error"]
    assert _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})[0] == 503
    # and a trigger with no body at all means "all defaults" (it gets as far as the invoke)
    assert _call(jobs_api, "POST", "/analytics/generate-parquet", "staff")[0] == 503


def test_job_lookup_validates_the_id(export_env: ExportEnv) -> None:
    jobs_api = _load(JOBS)
    assert _call(jobs_api, "GET", "/analytics/jobs/..", "staff")[0] == 400
    assert _call(jobs_api, "GET", "/analytics/jobs/20261125T210000Z-00000000", "staff")[0] == 404


def test_export_request_rejects_unknown_options(export_env: ExportEnv) -> None:
    jobs_api = _load(JOBS)
    assert (
        _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={"regio": "Atlantis"})[0] == 422
    )
    assert _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={"drop": "table"})[0] == 422
    # a regional exporter may not export another region
    status, _ = _call(
        jobs_api, "POST", "/analytics/generate-parquet", "utrecht-exporter", body={"regio": "Oost"}
    )
    assert status == 403


def test_regional_exporter_sees_only_their_regions_counts_and_no_other_name(export_env: ExportEnv) -> None:
    # GIVEN an export of every region that staff published
    export_id = _publish(export_env)
    jobs_api = _load(JOBS)
    utrecht_rows = sum(1 for m in export_env.members if m["regio"] == "Utrecht")
    # WHEN a Utrecht exporter reads the job, alone and in the history
    status, job = _call(jobs_api, "GET", f"/analytics/jobs/{export_id}", "utrecht-exporter")
    listed = _call(jobs_api, "GET", "/analytics/jobs", "utrecht-exporter")[1]["jobs"]
    # THEN only Utrecht's count, no total over other regions, and not who asked for it
    assert status == 200
    for view in (job, next(j for j in listed if j["job_id"] == export_id)):
        assert view["regions"] == {"Utrecht": utrecht_rows}
        assert view["rows"] == utrecht_rows
        assert view["requested_by"] is None
        assert view["bytes"] is None and view["files"] is None and view["rows_so_far"] is None
    # while a national exporter sees the whole job
    full = _call(jobs_api, "GET", f"/analytics/jobs/{export_id}", "admin")[1]
    assert full["rows"] == len(export_env.members) and len(full["regions"]) == 10
    assert full["requested_by"] == "staff"


def test_running_job_in_the_409_is_scoped_to_the_regional_caller(export_env: ExportEnv) -> None:
    # GIVEN staff's export of Oost is running
    export_env.jobs().create("staff", ExportOptions(regio="Oost"))
    jobs_api = _load(JOBS)
    # WHEN a Utrecht exporter triggers one THEN 409 naming the job, without staff's name or region
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "utrecht-exporter", body={})
    assert status == 409 and body["error"]["code"] == "export_running"
    running = body["error"]["details"]["running_job"]
    assert running["job_id"] and running["state"] == "queued"
    assert running["requested_by"] is None
    assert "regio" not in running["options"]
    # while staff (every region) is told who and what
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "admin", body={})
    assert status == 409
    assert body["error"]["details"]["running_job"]["requested_by"] == "staff"
    assert body["error"]["details"]["running_job"]["options"]["regio"] == "Oost"


def _cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": c} for c in codes],
        },
        "TransactWriteItems",
    )


def _no_generator(monkeypatch: pytest.MonkeyPatch, jobs_api: Any) -> list[str]:
    """The async invoke of the generator, recorded instead of sent."""
    invoked: list[str] = []

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            invoked.append(json.loads(kwargs["Payload"])["job_id"])
            return {"StatusCode": 202}

    monkeypatch.setattr(jobs_api, "client", lambda service: FakeLambda())
    return invoked


def test_a_replayed_export_create_returns_the_first_answer(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the create transaction commits but its answer is lost, and the same call is sent again."""
    from hdcn_common.settings import table

    from backend.local import moto_patches

    moto_patches.install()  # the local stack's DynamoDB honours ClientRequestToken, as DynamoDB does
    jobs_api = _load(JOBS)
    invoked = _no_generator(monkeypatch, jobs_api)
    client = table(export_env.jobs_table).meta.client
    real = client.transact_write_items
    replays: list[dict[str, Any]] = []

    def commit_then_replay(**kwargs: Any) -> Any:
        real(**kwargs)  # committed; the answer is lost on the way back
        replays.append(kwargs)
        return real(**kwargs)  # botocore's retry sends the identical request

    monkeypatch.setattr(client, "transact_write_items", commit_then_replay)
    # WHEN staff triggers an export
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})
    # THEN the replay carried a token of its own and answered success: 202 with the job, not 409
    assert replays and replays[0].get("ClientRequestToken") == body.get("job_id")
    assert status == 202, body
    assert body["state"] == "queued" and invoked == [body["job_id"]]
    listed = _call(jobs_api, "GET", "/analytics/jobs", "staff")[1]["jobs"]
    assert [j["job_id"] for j in listed] == [body["job_id"]]


@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError"])
def test_a_conflict_or_throttle_is_not_an_export_already_running(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    from hdcn_common.settings import table

    jobs_api = _load(JOBS)
    invoked = _no_generator(monkeypatch, jobs_api)
    client = table(export_env.jobs_table).meta.client
    real = client.transact_write_items
    calls: list[int] = []

    def cancelled_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise _cancelled(reason, "None")
        return real(**kwargs)

    # GIVEN DynamoDB cancels the first transaction for a conflict or throttling (nothing holds the lock)
    monkeypatch.setattr(client, "transact_write_items", cancelled_once)
    # WHEN staff triggers an export THEN it is queued on the next attempt, not refused as running
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})
    assert status == 202, body
    assert invoked == [body["job_id"]]

    # GIVEN every attempt is cancelled that way THEN 503 "try again", never 409 export_running
    def always_cancelled(**kwargs: Any) -> Any:
        raise _cancelled("None", reason)

    monkeypatch.setattr(client, "transact_write_items", always_cancelled)
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})
    assert status == 503 and body["error"]["code"] == "service_unavailable", body


def test_a_transaction_still_in_progress_is_asked_again_with_the_same_token(
    export_env: ExportEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdcn_common.settings import table

    jobs_api = _load(JOBS)
    invoked = _no_generator(monkeypatch, jobs_api)
    client = table(export_env.jobs_table).meta.client
    real = client.transact_write_items
    tokens: list[str] = []

    def in_progress_once(**kwargs: Any) -> Any:
        tokens.append(kwargs["ClientRequestToken"])
        if len(tokens) == 1:
            raise ClientError(
                {"Error": {"Code": "TransactionInProgressException", "Message": "in progress"}},
                "TransactWriteItems",
            )
        return real(**kwargs)

    # GIVEN DynamoDB still applying the first attempt of the transaction
    monkeypatch.setattr(client, "transact_write_items", in_progress_once)
    status, body = _call(jobs_api, "POST", "/analytics/generate-parquet", "staff", body={})
    # THEN the same job is asked for again with the same token (not a second job), and queued
    assert status == 202, body
    assert tokens == [body["job_id"], body["job_id"]] and invoked == [body["job_id"]]
