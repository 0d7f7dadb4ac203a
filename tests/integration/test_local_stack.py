"""The local stack as a new user meets it: health, stack resources, the Cognito authorizer."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import moto
import pytest
import requests

from tests.conftest import reset_nieuw

pytestmark = pytest.mark.integration

# A route that needs a token and exists from the foundation on.
PROTECTED = "/analytics/exports"


def test_health_answers_through_gateway_and_handler(api: Callable[..., requests.Response]) -> None:
    resp = api("GET", "/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["stage"] == "prod" and body["version"]


def test_stack_resources_are_all_created(aws: Callable[[str], Any]) -> None:
    # GIVEN the local stack WHEN CloudFormation lists webshop-backend's resources THEN all are CREATE_COMPLETE
    resources = aws("cloudformation").describe_stack_resources(StackName="webshop-backend")["StackResources"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["ResourceType"], []).append(r)
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources)
    assert all(r.get("LogicalResourceId") for r in resources)
    for needed in (
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Lambda::LayerVersion",
        "AWS::ApiGateway::RestApi",
        "AWS::Cognito::UserPool",
    ):
        assert needed in by_type, needed
    functions = {r["LogicalResourceId"] for r in by_type["AWS::Lambda::Function"]}
    assert {"HealthFunction", "GenerateMemberParquetFunction", "DownloadParquetFunction"} <= functions


def test_generator_is_deployed_as_an_image_function(
    aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    cfg = aws("lambda").get_function_configuration(
        FunctionName=local_stack["outputs"]["GenerateMemberParquetFunctionName"]
    )
    assert cfg["PackageType"] == "Image"
    assert cfg["MemorySize"] == 1024 and cfg["Timeout"] == 300


def test_bucket_and_tables_carry_the_template_settings(
    aws: Callable[[str], Any], local_stack: dict[str, Any]
) -> None:
    # GIVEN the deployed stack (moto's CloudFormation drops these; the deploy applies them)
    out = local_stack["outputs"]
    s3, ddb = aws("s3"), aws("dynamodb")
    bucket = out["ExportBucketName"]
    # THEN the export bucket is versioned, private, owner-only and expires old exports
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls"))
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Filter"] == {"Prefix": "analytics/parquet/"} and rule["Expiration"]["Days"] > 0
    # and export jobs expire by TTL, and members can be restored to a point in time
    ttl = ddb.describe_time_to_live(TableName=out["ExportJobsTableName"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    pitr = ddb.describe_continuous_backups(TableName=out["MembersTableName"])["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_rest_api_has_the_template_routes(aws: Callable[[str], Any], local_stack: dict[str, Any]) -> None:
    items = aws("apigateway").get_resources(restApiId=local_stack["outputs"]["RestApiId"])["items"]
    methods = {(m, i["path"]) for i in items for m in i.get("resourceMethods", {})}
    assert ("GET", "/health") in methods


def test_protected_route_without_token_is_401(api: Callable[..., requests.Response]) -> None:
    resp = api("GET", PROTECTED)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "UNAUTHORIZED"


def test_token_with_altered_signature_is_401(
    api: Callable[..., requests.Response], id_token: Callable[[str], str]
) -> None:
    header, payload, signature = id_token("admin").split(".")
    flipped = "A" if signature[10] != "A" else "B"
    forged = ".".join([header, payload, signature[:10] + flipped + signature[11:]])
    assert api("GET", PROTECTED, headers={"Authorization": forged}).status_code == 401


def test_token_with_edited_groups_is_401(
    api: Callable[..., requests.Response], id_token: Callable[[str], str]
) -> None:
    header, _payload, signature = id_token("regio-utrecht").split(".")
    claims = jwt.decode(id_token("regio-utrecht"), options={"verify_signature": False})
    claims["cognito:groups"] = ["System_CRUD"]
    new_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert (
        api("GET", PROTECTED, headers={"Authorization": f"{header}.{new_payload}.{signature}"}).status_code
        == 401
    )


def _moto_signing_key() -> dict[str, Any]:
    # moto signs every pool's tokens with one key shipped in its package (kid "dummy").
    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    key: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return key


def test_expired_token_is_401(api: Callable[..., requests.Response], id_token: Callable[[str], str]) -> None:
    # GIVEN a correctly signed ID token of the pool whose exp has passed
    claims = jwt.decode(id_token("admin"), options={"verify_signature": False})
    claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
    key = jwt.PyJWK(_moto_signing_key())
    expired = jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": "dummy"})
    # WHEN it is presented THEN the authorizer refuses it
    assert api("GET", PROTECTED, headers={"Authorization": expired}).status_code == 401
    # and the same claims with a fresh exp pass, so it is the expiry that was refused
    claims["iat"], claims["exp"] = int(time.time()), int(time.time()) + 600
    fresh = jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": "dummy"})
    assert api("GET", PROTECTED, headers={"Authorization": fresh}).status_code != 401


def test_token_for_another_client_is_401(
    api: Callable[..., requests.Response], id_token: Callable[[str], str]
) -> None:
    claims = jwt.decode(id_token("admin"), options={"verify_signature": False})
    claims["aud"] = "some-other-client"
    token = jwt.encode(
        claims, jwt.PyJWK(_moto_signing_key()).key, algorithm="RS256", headers={"kid": "dummy"}
    )
    assert api("GET", PROTECTED, headers={"Authorization": token}).status_code == 401


def test_access_token_is_not_accepted_as_id_token(
    api: Callable[..., requests.Response], local_stack: dict[str, Any], aws: Callable[[str], Any]
) -> None:
    res = aws("cognito-idp").initiate_auth(
        ClientId=local_stack["outputs"]["UserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "admin", "PASSWORD": local_stack["demo_password"]},
    )
    access = res["AuthenticationResult"]["AccessToken"]
    assert api("GET", PROTECTED, headers={"Authorization": access}).status_code == 401


@pytest.mark.parametrize("user", ["admin", "totp"])
def test_token_from_hdcn_token_is_accepted(
    api: Callable[..., requests.Response], local_stack: dict[str, Any], user: str
) -> None:
    # `totp` signs in with a six-digit code: hdcn token computes it from the key in the state file
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "token",
            "--user",
            user,
            "--state-dir",
            local_stack["state_dir"],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = out.stdout.strip()
    assert api("GET", PROTECTED, headers={"Authorization": token}).status_code == 200


def test_hdcn_token_says_nieuw_must_choose_a_password_first(local_stack: dict[str, Any]) -> None:
    import subprocess
    import sys

    temporary = reset_nieuw(local_stack)
    out = subprocess.run(
        [
            sys.executable,
            *("-m", "console.cli", "token", "--user", "nieuw", "--password", temporary),
            *("--state-dir", local_stack["state_dir"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "NEW_PASSWORD_REQUIRED" in out.stderr
    assert temporary not in out.stderr + out.stdout  # no password echoed


def test_unknown_route_is_refused_like_api_gateway(api: Callable[..., requests.Response]) -> None:
    resp = api("GET", "/no/such/route")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"


def test_console_serves_its_page(local_stack: dict[str, Any]) -> None:
    deadline = time.time() + 60
    while True:
        try:
            resp = requests.get(f"{local_stack['console_url']}/_stcore/health", timeout=5)
            if resp.status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.time() < deadline, "console did not come up"
        time.sleep(0.5)
    assert resp.text == "ok"


def test_token_signed_by_another_key_is_401(
    api: Callable[..., requests.Response], id_token: Callable[[str], str]
) -> None:
    # GIVEN the admin's claims re-signed with a key of our own, under moto's key id
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = jwt.decode(id_token("admin"), options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "dummy"})
    # THEN the authorizer refuses it
    assert api("GET", PROTECTED, headers={"Authorization": token}).status_code == 401


def test_token_of_another_user_pool_is_401(
    api: Callable[..., requests.Response], id_token: Callable[[str], str]
) -> None:
    # moto signs every pool with the same key, so only the issuer tells pools apart: it must be checked.
    claims = jwt.decode(id_token("admin"), options={"verify_signature": False})
    claims["iss"] = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_someotherpool"
    token = jwt.encode(
        claims, jwt.PyJWK(_moto_signing_key()).key, algorithm="RS256", headers={"kid": "dummy"}
    )
    assert api("GET", PROTECTED, headers={"Authorization": token}).status_code == 401


def test_unsigned_token_is_401(api: Callable[..., requests.Response], id_token: Callable[[str], str]) -> None:
    claims = jwt.decode(id_token("admin"), options={"verify_signature": False})
    token = jwt.encode(claims, "", algorithm="none")
    assert api("GET", PROTECTED, headers={"Authorization": token}).status_code == 401
