"""One settings object read from the environment the template sets, and boto3 clients made once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; adaptive mode is not worth its client-side state here.
# A retried write whose first attempt timed out on the client may have been applied: keep the
# read timeout well above what a request can take. HDCN_AWS_READ_TIMEOUT lets the local stack,
# where requests queue behind one interpreter, allow more than AWS ever needs.
# Three attempts (standard mode's jittered backoff, at most ~3 s of waiting): a short throttle is
# absorbed, a long one answers 503 well inside the function's timeout (five attempts could wait
# ~15 s and, with a cold start, run past a 20 s timeout into API Gateway's 502).
_BOTO_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=int(os.environ.get("HDCN_AWS_READ_TIMEOUT", "20")),
)
# Presigned download links: S3 refuses Signature Version 2 for buckets created after June 2020,
# and botocore's default S3 presigning is SigV2 on the global endpoint. SigV4 on the regional
# virtual-host endpoint (https://<bucket>.s3.<region>.amazonaws.com/...) is what S3 accepts;
# with AWS_ENDPOINT_URL set to an IP (the local stack), botocore keeps path style on that endpoint.
_S3_CONFIG = _BOTO_CONFIG.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))


@dataclass(frozen=True)
class Settings:
    """What a function needs to know about its stack; names match the template's Globals."""

    stage: str
    version: str
    stack_name: str
    members_table: str
    member_keys_table: str
    products_table: str
    export_jobs_table: str
    export_bucket: str
    user_pool_id: str
    audit_table: str
    user_pool_client_id: str
    exports_to_keep: int
    generator_function: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            stage=env.get("STAGE", "prod"),
            version=env.get("APP_VERSION", "0.0.0"),
            stack_name=env.get("STACK_NAME", "webshop-backend"),
            members_table=env.get("MEMBERS_TABLE", ""),
            member_keys_table=env.get("MEMBER_KEYS_TABLE", ""),
            products_table=env.get("PRODUCTS_TABLE", ""),
            export_jobs_table=env.get("EXPORT_JOBS_TABLE", ""),
            export_bucket=env.get("EXPORT_BUCKET", ""),
            user_pool_id=env.get("USER_POOL_ID", ""),
            audit_table=env.get("AUDIT_TABLE", ""),
            user_pool_client_id=env.get("USER_POOL_CLIENT_ID", ""),
            exports_to_keep=int(env.get("EXPORTS_TO_KEEP", "10")),
            generator_function=env.get("GENERATOR_FUNCTION_NAME", ""),
        )


@cache
def settings() -> Settings:
    """The process's settings (read once, as a Lambda execution environment would)."""
    return Settings.from_env()


@cache
def client(service: str) -> Any:
    """A boto3 client per service per process; the endpoint comes from AWS_ENDPOINT_URL* if set."""
    return boto3.session.Session().client(service, config=_S3_CONFIG if service == "s3" else _BOTO_CONFIG)


@cache
def table(name: str) -> Any:
    """A DynamoDB Table resource per table per process."""
    return boto3.session.Session().resource("dynamodb", config=_BOTO_CONFIG).Table(name)
