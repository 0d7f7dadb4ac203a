"""The recorder of the functions' AWS calls (`backend.local.aws_calls`): by function, names only."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from backend.local import aws_calls

pytestmark = pytest.mark.unit


def test_a_call_is_recorded_with_the_resource_names_and_no_item_data() -> None:
    model = boto3.client("dynamodb", region_name="eu-west-1").meta.service_model.operation_model(
        "TransactWriteItems"
    )
    params = {
        "TransactItems": [
            {"Put": {"TableName": "members", "Item": {"email": {"S": "jan@example.nl"}}}},
            {"Update": {"TableName": "keys", "Key": {"pk": {"S": "email#jan@example.nl"}}}},
        ],
        "ClientRequestToken": "t",
    }
    record = aws_calls.describe_call(model, params)
    assert record["service"] == "dynamodb" and record["operation"] == "TransactWriteItems"
    assert record["params"]["TransactItems"] == [
        {"Put": {"TableName": "members"}},
        {"Update": {"TableName": "keys"}},
    ]
    assert "jan@example.nl" not in str(record)


def test_api_gateway_calls_carry_their_method_and_path() -> None:
    model = boto3.client("apigateway", region_name="eu-west-1").meta.service_model.operation_model(
        "GetResources"
    )
    record = aws_calls.describe_call(model, {"restApiId": "abc123"})
    assert (record["method"], record["uri"]) == ("GET", "/restapis/abc123/resources")


def test_presigned_urls_are_recorded_for_the_function_on_this_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the recorder installed and a function's handler running on this thread
    log = tmp_path / aws_calls.FILE_NAME
    monkeypatch.setenv(aws_calls.ENV_VAR, str(log))  # only for this test; the hook itself stays inert
    aws_calls.install()
    s3 = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    ).client("s3")
    s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)  # no function
    aws_calls.set_function("DownloadParquetFunction")
    try:
        s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    finally:
        aws_calls.set_function(None)
    # THEN only the function's call is recorded, as a presigned GetObject of that object
    calls = aws_calls.read_calls(log)
    assert [(c["function"], c["operation"], c.get("presigned"), c["params"]) for c in calls] == [
        ("DownloadParquetFunction", "GetObject", True, {"Bucket": "b", "Key": "k"})
    ]


def test_a_dynamodb_key_is_data_and_is_not_recorded() -> None:
    model = boto3.client("dynamodb", region_name="eu-west-1").meta.service_model.operation_model("GetItem")
    record = aws_calls.describe_call(
        model, {"TableName": "keys", "Key": {"pk": {"S": "email#jan@example.nl"}}}
    )
    assert record["params"] == {"TableName": "keys"}
