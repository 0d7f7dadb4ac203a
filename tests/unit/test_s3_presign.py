"""The local S3's check of presigned links (`backend.local.s3_presign`) against botocore's presigner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from backend.local.s3_presign import check_presigned

pytestmark = pytest.mark.unit
ENDPOINT = "http://127.0.0.1:4566"
KEY = "analytics/parquet/members/export_id=20260101T000000Z-abcdef12/regio=Groningen/Drenthe/part-0.parquet"
CREDS = Credentials("testing", "testing", "testing")


def _presign(
    signature_version: str = "s3v4", key: str = KEY, expires: int = 300, at: datetime | None = None
) -> str:
    s3 = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing"
    ).client(
        "s3",
        region_name="eu-west-1",
        endpoint_url=ENDPOINT,
        config=Config(signature_version=signature_version),
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.now(UTC)):
        url: str = s3.generate_presigned_url(
            "get_object", Params={"Bucket": "exports", "Key": key}, ExpiresIn=expires
        )
    return url


def _check(url: str, now: datetime | None = None, method: str = "GET") -> str | None:
    split = urlsplit(url)
    refusal = check_presigned(method, split.netloc, split.path, split.query, {}, CREDS, now=now)
    return refusal.code if refusal else None


def test_a_sigv4_link_as_botocore_presigns_it_is_accepted() -> None:
    # GIVEN a SigV4 link from botocore (the download function's client) WHEN checked THEN accepted
    assert _check(_presign()) is None


def test_an_altered_key_is_refused() -> None:
    # GIVEN a valid link WHEN another region's file is put in its path THEN the signature no longer matches
    url = _presign()
    assert _check(
        url.replace("regio=Groningen", "regio=Utrecht").replace("regio%3DGroningen", "regio%3DUtrecht")
    ) == ("SignatureDoesNotMatch")


def test_an_altered_expiry_or_method_is_refused() -> None:
    url = _presign()
    assert _check(url.replace("X-Amz-Expires=300", "X-Amz-Expires=3600")) == "SignatureDoesNotMatch"
    assert _check(url, method="DELETE") == "SignatureDoesNotMatch"


def test_a_sigv2_link_is_refused() -> None:
    # GIVEN what botocore presigns without signature_version (SigV2) THEN S3 refuses it
    url = _presign(signature_version="s3")
    assert "Signature=" in url and "X-Amz-" not in url
    assert _check(url) == "AccessDenied"


def test_an_expired_link_is_refused_and_one_in_time_is_not() -> None:
    # GIVEN a link signed ten minutes ago, valid for five
    signed = datetime.now(UTC) - timedelta(minutes=10)
    url = _presign(at=signed)
    # THEN it was good within its five minutes and is refused after them
    assert _check(url, now=signed + timedelta(seconds=299)) is None
    assert _check(url, now=signed + timedelta(seconds=301)) == "AccessDenied"


def test_other_credentials_are_refused() -> None:
    url = _presign()
    split = urlsplit(url)
    other = Credentials("testing", "not-the-secret", "testing")
    refusal = check_presigned("GET", split.netloc, split.path, split.query, {}, other)
    assert refusal is not None and refusal.code == "SignatureDoesNotMatch"
    status, headers, body = refusal.response()
    assert status == 403 and headers["Content-Type"] == "application/xml"
    assert b"<Error><Code>SignatureDoesNotMatch</Code>" in body
