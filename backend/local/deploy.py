"""Deploy `template.yaml` as the `webshop-backend` stack into the local AWS (moto server).

The same steps `sam deploy` takes, offline: package the code to (local) S3, run the
SAM transform, create the stack in CloudFormation, read its outputs. Demo users are
added to the local user pool only; nothing here ever talks to real AWS.
"""

from __future__ import annotations

import functools
import io
import json
import secrets
import string
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from backend.local.resource_props import BUCKET_TYPE, TABLE_TYPE, apply_template_properties
from backend.local.template import REPO_ROOT, load_template, transform_template
from backend.local.totp import totp_code

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "webshop-backend"
ARTIFACT_BUCKET = "hdcn-local-artifacts"
IMAGE_REPOSITORY = "hdcn-parquet-generator"
DEMO_PASSWORD = "Hdcn-local-demo1"  # noqa: S105 - the local stack's published demo password

# Demo users of the local pool, with their Cognito groups (roles).
DEMO_USERS: dict[str, tuple[str, ...]] = {
    "admin": ("Members_Export", "Regio_All"),
    "regio-utrecht": ("Members_Read", "Regio_Utrecht"),
    "staff": ("Members_CRUD", "Products_CRUD", "Regio_All"),
    "staff-utrecht": ("Members_CRUD", "Regio_Utrecht"),
    "ops": ("System_Logs_Read",),
    "root": ("System_CRUD",),
    "beheer": ("System_User_Management",),
}
# Users for trying the sign-in steps: `nieuw` has a temporary password (a new one each start,
# printed by `hdcn local up`) and must choose its own; `totp` signs in with the demo password
# and a six-digit code (`hdcn token --user totp` computes it from the key in the state file).
NEW_USER = "nieuw"
TOTP_USER = "totp"
SIGN_IN_USERS: dict[str, tuple[str, ...]] = {
    NEW_USER: ("Members_Read", "Regio_Utrecht"),
    TOTP_USER: ("Members_Read", "Regio_Utrecht"),
}


@dataclass
class LocalStack:
    """What a running local stack exposes: endpoint, stack outputs, function names."""

    endpoint: str
    outputs: dict[str, str]
    physical_ids: dict[str, str] = field(default_factory=dict)
    # Per sign-in user what it needs beyond the demo password: temporary_password, totp_secret.
    sign_ins: dict[str, dict[str, str]] = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client for the local endpoint with throwaway credentials (one per service and endpoint).

    Clients are thread-safe and hold no state of the stack, and making one reads botocore's
    service model (~45 ms): a deploy makes six, and the unit tests deploy dozens of times.
    """
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
    )


def _zip_dir(path: Path) -> bytes:
    """Zip a code folder as `sam package` would (no caches); made again only when a file changed."""
    files = sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    signature = tuple((f.as_posix(), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _zip_files(path, signature)


@functools.lru_cache(maxsize=16)
def _zip_files(path: Path, signature: tuple[tuple[str, int, int], ...]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                zf.write(file, file.relative_to(path).as_posix())
    return buf.getvalue()


def package_template(endpoint: str) -> dict[str, Any]:
    """Upload code folders to the local artifact bucket and point the template at them."""
    s3 = aws_client("s3", endpoint)
    s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    template = load_template()
    for lid, res in template["Resources"].items():
        props = res.get("Properties", {})
        key_name = {
            "AWS::Serverless::Function": "CodeUri",
            "AWS::Serverless::LayerVersion": "ContentUri",
        }.get(res["Type"])
        if key_name and isinstance(props.get(key_name), str):
            s3.put_object(
                Bucket=ARTIFACT_BUCKET, Key=f"{lid}.zip", Body=_zip_dir(REPO_ROOT / props[key_name])
            )
            props[key_name] = {"Bucket": ARTIFACT_BUCKET, "Key": f"{lid}.zip"}
    return template


def deploy(endpoint: str, parameters: dict[str, str] | None = None, demo_users: bool = True) -> LocalStack:
    """Create the stack from the template and return its outputs; demo users included.

    `parameters` are the template's parameter overrides (the adoption parameters, say), as
    `sam deploy --parameter-overrides` would pass them.
    """
    # ECR repository lives outside the stack (the image must exist before the function).
    ecr = aws_client("ecr", endpoint)
    ecr.create_repository(repositoryName=IMAGE_REPOSITORY, imageScanningConfiguration={"scanOnPush": True})

    template = transform_template(package_template(endpoint), REGION)
    cfn = aws_client("cloudformation", endpoint)
    cfn.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        Tags=[{"Key": "project", "Value": "hdcn"}],
    )
    stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"local stack ended {stack['StackStatus']}: {stack.get('StackStatusReason', '')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = cfn.describe_stack_resources(StackName=STACK_NAME)["StackResources"]
    # moto lists resources it skipped (a false Condition, say) as rows without a logical id.
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources if "LogicalResourceId" in r
    }
    # moto's CloudFormation drops some table and bucket properties (TTL, PITR, public-access
    # block, lifecycle, ...): apply them as the template sets them.
    made = {
        lid: physical[lid]
        for lid, r in template["Resources"].items()
        if r["Type"] in (TABLE_TYPE, BUCKET_TYPE) and physical.get(lid)
    }
    apply_template_properties(template, made, aws_client("dynamodb", endpoint), aws_client("s3", endpoint))
    local = LocalStack(endpoint=endpoint, outputs=outputs, physical_ids=physical)
    if demo_users:
        create_demo_users(local)
    return local


def create_demo_users(local: LocalStack) -> None:
    """Demo users in the local pool, one per role, all with the demo password; and the sign-in users."""
    idp = aws_client("cognito-idp", local.endpoint)
    pool = local.outputs["UserPoolId"]
    for user, groups in {**DEMO_USERS, **SIGN_IN_USERS}.items():
        idp.admin_create_user(
            UserPoolId=pool,
            Username=user,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": f"{user}@demo.h-dcn.local"}],
        )
        if user != NEW_USER:
            idp.admin_set_user_password(
                UserPoolId=pool, Username=user, Password=DEMO_PASSWORD, Permanent=True
            )
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=user, GroupName=group)
    temporary = temporary_password()
    idp.admin_set_user_password(UserPoolId=pool, Username=NEW_USER, Password=temporary, Permanent=False)
    local.sign_ins[NEW_USER] = {"temporary_password": temporary}
    local.sign_ins[TOTP_USER] = {
        "totp_secret": enable_totp(idp, local.outputs["UserPoolClientId"], TOTP_USER)
    }


def temporary_password() -> str:
    """A random password that meets the pool's rules (12+ characters, upper, lower, digit)."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(13))
    return f"Tmp-{body}7a"


def enable_totp(idp: Any, client_id: str, user: str) -> str:
    """Set up an authenticator for `user` as the person would (associate, verify, prefer); its key.

    moto shares one key among all users and checks codes only with
    MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true (set by `hdcn local up`).
    """
    auth = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": DEMO_PASSWORD},
    )["AuthenticationResult"]
    secret = str(idp.associate_software_token(AccessToken=auth["AccessToken"])["SecretCode"])
    idp.verify_software_token(AccessToken=auth["AccessToken"], UserCode=totp_code(secret))
    idp.set_user_mfa_preference(
        AccessToken=auth["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return secret
