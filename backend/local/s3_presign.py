"""The local S3 checks presigned links as S3 does, before moto serves the object.

moto serves a presigned GET whatever its signature or expiry, so a link S3 refuses
(Signature Version 2, a key altered after signing, an expired link) would download
locally and fail only on AWS. Here every query-signed request to the in-process moto
S3 is checked first: SigV2 links are refused (S3 refuses them for buckets created
after June 2020), and a SigV4 link's signature is recomputed with botocore's own
presigner (`S3SigV4QueryAuth`) from the local stack's credentials, at the time and
for the expiry the link names. A refusal is S3's 403 XML error. Requests signed in
the Authorization header (every boto3 call) are left to moto as before.
"""

from __future__ import annotations

import functools
import hmac
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # S3's limit for a SigV4 presigned URL
_installed = False


@dataclass(frozen=True)
class Refusal:
    """Why S3 would refuse a presigned request: its error code and message."""

    code: str
    message: str

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """S3's error shape (403, application/xml)."""
        request_id = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
        )
        return 403, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()


def local_credentials() -> Credentials:
    """The credentials the local stack signs with (its environment; moto's fixed test keys)."""
    return Credentials(
        os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        os.environ.get("AWS_SESSION_TOKEN") or None,
    )


def is_query_signed(raw_query: str) -> bool:
    """Whether the query string carries a presigned signature (SigV4 or SigV2)."""
    names = {name for name, _ in parse_qsl(raw_query, keep_blank_values=True)}
    return "X-Amz-Signature" in names or "Signature" in names


def check_presigned(
    method: str,
    host: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    credentials: Credentials,
    now: datetime | None = None,
) -> Refusal | None:
    """None if S3 would accept this query-signed request; else why it refuses it.

    `raw_path` and `raw_query` are as received (still percent-encoded): the signature covers
    exactly those bytes, so nothing is decoded and re-encoded before the comparison.
    """
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if "Signature" in params or "AWSAccessKeyId" in params:
        return Refusal(
            "AccessDenied",
            "Signature Version 2 is not supported for this bucket; use AWS4-HMAC-SHA256 (SigV4).",
        )
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return Refusal("AccessDenied", "Only the AWS4-HMAC-SHA256 algorithm is supported.")
    scope = params.get("X-Amz-Credential", "").split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        return Refusal("AuthorizationQueryParametersError", "X-Amz-Credential is malformed.")
    access_key, day, region = scope[0], scope[1], scope[2]
    if not hmac.compare_digest(access_key, credentials.access_key):
        return Refusal(
            "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        )
    try:
        signed_at = datetime.strptime(params.get("X-Amz-Date", ""), SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        return Refusal("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed.")
    if not 1 <= expires <= MAX_EXPIRES_SECONDS or params["X-Amz-Date"][:8] != day:
        return Refusal(
            "AuthorizationQueryParametersError", "X-Amz-Expires or the credential date is invalid."
        )
    if (now or datetime.now(UTC)) > signed_at + timedelta(seconds=expires):
        return Refusal("AccessDenied", "Request has expired")
    # Recompute the signature as botocore's presigner computes it, at the link's own time.
    unsigned_query = "&".join(p for p in raw_query.split("&") if not p.startswith("X-Amz-Signature="))
    signed_names = params.get("X-Amz-SignedHeaders", "host").split(";")
    lower = {k.lower(): v for k, v in headers.items()}
    signed_headers = {name: (host if name == "host" else lower.get(name, "")) for name in signed_names}
    request = AWSRequest(
        method=method, url=f"http://{host}{raw_path}?{unsigned_query}", headers=signed_headers
    )
    request.context["timestamp"] = params["X-Amz-Date"]
    signer = S3SigV4QueryAuth(credentials, "s3", region, expires=expires)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        return Refusal(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None


def _raw_path_and_query(request: Any) -> tuple[str, str]:
    """The request target as the client sent it (werkzeug keeps it in RAW_URI / REQUEST_URI)."""
    environ = getattr(request, "environ", {}) or {}
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        split = urlsplit(raw)
        return split.path, split.query
    split = urlsplit(request.url)
    return split.path, split.query


def install() -> None:
    """Check query-signed object requests in moto's S3 (idempotent; call before the server starts)."""
    global _installed
    if _installed:
        return
    from moto.s3.responses import S3Response

    original = S3Response.key_response

    @functools.wraps(original)
    def key_response_checking_presigned_links(
        self: Any, request: Any, full_url: str, headers: dict[str, Any]
    ) -> Any:
        path, query = _raw_path_and_query(request)
        if "Authorization" not in request.headers and is_query_signed(query):
            refusal = check_presigned(
                request.method,
                request.headers.get("Host", ""),
                path,
                query,
                dict(request.headers),
                local_credentials(),
            )
            if refusal is not None:
                return refusal.response()
        return original(self, request, full_url, headers)

    S3Response.key_response = key_response_checking_presigned_links  # type: ignore[method-assign]
    _installed = True
