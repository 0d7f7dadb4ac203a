"""Cognito login for the console: username and password against the pool's InitiateAuth.

The same code serves the local pool (moto, `HDCN_COGNITO_ENDPOINT` set) and a real one
(endpoint unset: boto3 uses the regional Cognito endpoint). InitiateAuth is an
unauthenticated call, so the client is unsigned: the console never holds AWS credentials.
The ID token's groups are read without verifying the signature, only to choose which
pages to show; the API verifies every token and enforces every permission.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

import boto3
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Refresh this long before the ID token expires, so no API call carries an expired token.
REFRESH_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class CognitoSettings:
    """Where the user pool is (from the environment `hdcn local up` or a deployment sets)."""

    region: str
    user_pool_id: str
    client_id: str
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls) -> CognitoSettings:
        env = os.environ
        return cls(
            region=env.get("HDCN_REGION", "eu-west-1"),
            user_pool_id=env.get("HDCN_USER_POOL_ID", ""),
            client_id=env.get("HDCN_CLIENT_ID", ""),
            endpoint_url=env.get("HDCN_COGNITO_ENDPOINT") or None,
        )


@dataclass(frozen=True)
class Tokens:
    """A signed-in user's Cognito tokens."""

    id_token: str
    access_token: str
    refresh_token: str
    expires_at: float
    username: str

    @property
    def groups(self) -> frozenset[str]:
        return groups_from_token(self.id_token)

    def needs_refresh(self, now: float | None = None) -> bool:
        """True when the ID token expires within the refresh margin."""
        return (now if now is not None else time.time()) >= self.expires_at - REFRESH_MARGIN_SECONDS


class LoginError(Exception):
    """A login or refresh that failed, with a message fit to show the user."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def id_token_claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified: only for choosing pages, never for a permission decision."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims


def groups_from_token(token: str) -> frozenset[str]:
    """The `cognito:groups` claim (a list in an ID token) as a set."""
    raw = id_token_claims(token).get("cognito:groups") or []
    if isinstance(raw, str):
        raw = [g for g in raw.replace(",", " ").split() if g]
    return frozenset(str(g) for g in raw)


def _login_error(err: ClientError) -> LoginError:
    """Cognito's error as a plain message; Cognito's own text is never shown."""
    code = err.response.get("Error", {}).get("Code", "")
    text = str(err.response.get("Error", {}).get("Message", "")).lower()
    if code == "NotAuthorizedException" and "disabled" in text:
        return LoginError("locked", "This account is disabled. Ask an administrator to enable it.")
    if code == "NotAuthorizedException" and "attempts exceeded" in text:
        return LoginError("locked", "Too many failed attempts: this account is locked for a while.")
    if code in ("NotAuthorizedException", "UserNotFoundException"):
        return LoginError("wrong_password", "Wrong username or password.")
    if code == "PasswordResetRequiredException":
        return LoginError("reset_required", "This account needs a password reset by an administrator.")
    if code == "UserNotConfirmedException":
        return LoginError("locked", "This account is not confirmed yet.")
    if code in ("TooManyRequestsException", "LimitExceededException"):
        return LoginError("throttled", "Too many login attempts right now; wait a minute and retry.")
    if code in ("ResourceNotFoundException", "InvalidParameterException"):
        return LoginError("misconfigured", "The console's user pool settings are wrong (client id or pool).")
    return LoginError("unavailable", "Login is unavailable right now; retry shortly.")


class CognitoLogin:
    """InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH) with an unsigned client."""

    def __init__(self, settings: CognitoSettings, client: Any = None) -> None:
        self.settings = settings
        self.client = client or boto3.client(
            "cognito-idp",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            config=Config(
                signature_version=UNSIGNED,
                connect_timeout=5,
                read_timeout=15,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def _initiate(self, flow: str, params: dict[str, str]) -> dict[str, Any]:
        if not self.settings.client_id:
            raise LoginError("misconfigured", "The console has no user pool client id (HDCN_CLIENT_ID).")
        try:
            result: dict[str, Any] = self.client.initiate_auth(
                ClientId=self.settings.client_id, AuthFlow=flow, AuthParameters=params
            )
        except ClientError as err:
            raise _login_error(err) from None
        except BotoCoreError:
            raise LoginError("unreachable", "The login service cannot be reached; retry shortly.") from None
        if "AuthenticationResult" not in result:
            # A challenge (new password, MFA) the console does not handle.
            name = str(result.get("ChallengeName", "a challenge"))
            raise LoginError("challenge", f"This account needs {name}; finish it outside the console.")
        auth: dict[str, Any] = result["AuthenticationResult"]
        return auth

    def login(self, username: str, password: str) -> Tokens:
        """Sign in; raises LoginError with a message for the user."""
        if not username or not password:
            raise LoginError("wrong_password", "Enter a username and a password.")
        auth = self._initiate("USER_PASSWORD_AUTH", {"USERNAME": username, "PASSWORD": password})
        claims = id_token_claims(auth["IdToken"])
        return Tokens(
            id_token=auth["IdToken"],
            access_token=auth.get("AccessToken", ""),
            refresh_token=auth.get("RefreshToken", ""),
            expires_at=_expiry(claims, auth),
            username=str(claims.get("cognito:username") or username),
        )

    def refresh(self, tokens: Tokens) -> Tokens:
        """New ID and access tokens from the refresh token (which Cognito does not rotate here)."""
        if not tokens.refresh_token:
            raise LoginError("expired", "Your session has expired; sign in again.")
        auth = self._initiate("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": tokens.refresh_token})
        claims = id_token_claims(auth["IdToken"])
        return replace(
            tokens,
            id_token=auth["IdToken"],
            access_token=auth.get("AccessToken", tokens.access_token),
            refresh_token=auth.get("RefreshToken") or tokens.refresh_token,
            expires_at=_expiry(claims, auth),
        )


def _expiry(claims: dict[str, Any], auth: dict[str, Any]) -> float:
    """When the ID token expires: its `exp` claim, else now + ExpiresIn."""
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return float(exp)
    return time.time() + float(auth.get("ExpiresIn", 3600))
