"""Cognito login for the console: username and password against the pool's InitiateAuth.

Every sign-in step the pool can ask for is handled here: a first sign-in with a temporary
password (NEW_PASSWORD_REQUIRED), setting up an authenticator app (MFA_SETUP) and its
six-digit code at later sign-ins (SOFTWARE_TOKEN_MFA). A step is a `Challenge` the login
page answers; the result is `Tokens` or the next `Challenge`.

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
from urllib.parse import quote

import boto3
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Refresh this long before the ID token expires, so no API call carries an expired token.
REFRESH_MARGIN_SECONDS = 300
# The challenges the console answers (any other is reported as "challenge").
NEW_PASSWORD = "NEW_PASSWORD_REQUIRED"  # noqa: S105 - a challenge name, not a password
MFA_SETUP = "MFA_SETUP"
TOTP_CODE = "SOFTWARE_TOKEN_MFA"
HANDLED_CHALLENGES = frozenset({NEW_PASSWORD, MFA_SETUP, TOTP_CODE})
# The pool's password rules (template.yaml UserPool Policies), shown before a new password is typed.
PASSWORD_MIN_LENGTH = 12
TOTP_ISSUER = "H-DCN"


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


@dataclass(frozen=True)
class Challenge:
    """A sign-in step Cognito asks for before it hands out tokens.

    `session` is Cognito's opaque step token (valid a few minutes); it lives only in the
    server-side session state, never in the page or the URL. `secret` is the authenticator
    key during MFA_SETUP, shown once as text and as a QR code.
    """

    name: str
    session: str
    username: str
    secret: str = ""

    def otpauth_uri(self) -> str:
        """The key as an otpauth:// URI (what an authenticator app reads from a QR code)."""
        label = quote(f"{TOTP_ISSUER}:{self.username}")
        return f"otpauth://totp/{label}?secret={self.secret}&issuer={quote(TOTP_ISSUER)}"


def password_problems(password: str) -> list[str]:
    """The pool's rules a new password breaks, as rule keys (checked before Cognito is asked)."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append("length")
    if not any(c.isupper() for c in password):
        problems.append("upper")
    if not any(c.islower() for c in password):
        problems.append("lower")
    if not any(c.isdigit() for c in password):
        problems.append("digit")
    return problems


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
    revoked = "refresh token has been revoked" in text or "invalid refresh" in text
    if code == "NotAuthorizedException" and revoked:
        # A global sign-out (ours, or the API's after a change of groups) or another pool's token.
        return LoginError("revoked", "Your access has changed or was revoked; sign in again.")
    if code == "NotAuthorizedException" and "refresh token has expired" in text:
        return LoginError("expired", "Your session has expired; sign in again.")
    if code == "NotAuthorizedException" and "temporary password has expired" in text:
        return LoginError(
            "temporary_expired", "The temporary password has expired; ask an administrator for a new one."
        )
    if code == "NotAuthorizedException" and "session" in text:
        # The step's session is a few minutes valid (or already used): start again.
        return LoginError("step_expired", "This sign-in step took too long; sign in again.")
    if code == "NotAuthorizedException" and "disabled" in text:
        return LoginError("disabled", "This account is disabled. Ask an administrator to enable it.")
    if code == "NotAuthorizedException" and "attempts exceeded" in text:
        return LoginError("locked", "Too many failed attempts: this account is locked for a while.")
    if code in ("NotAuthorizedException", "UserNotFoundException"):
        return LoginError("wrong_password", "Wrong username or password.")
    if code == "PasswordResetRequiredException":
        return LoginError("reset_required", "This account needs a password reset by an administrator.")
    if code == "InvalidPasswordException":
        return LoginError("weak_password", "The new password does not meet the rules.")
    if code in ("CodeMismatchException", "EnableSoftwareTokenMFAException", "ExpiredCodeException"):
        return LoginError("wrong_code", "That code is not right; type the current code from the app.")
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

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One Cognito call with the console's error handling."""
        if not self.settings.client_id:
            raise LoginError("misconfigured", "The console has no user pool client id (HDCN_CLIENT_ID).")
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as err:
            raise _login_error(err) from None
        except BotoCoreError:
            raise LoginError("unreachable", "The login service cannot be reached; retry shortly.") from None
        return result

    def _outcome(self, result: dict[str, Any], username: str) -> Tokens | Challenge:
        """Tokens, or the next step the console can answer."""
        if "AuthenticationResult" in result:
            return self._tokens(result["AuthenticationResult"], username)
        name = str(result.get("ChallengeName", ""))
        if name not in HANDLED_CHALLENGES:
            raise LoginError("challenge", f"This account needs {name or 'a step'}; ask an administrator.")
        params = result.get("ChallengeParameters") or {}
        # Cognito names the user in the step (USER_ID_FOR_SRP); keep what was typed otherwise.
        who = str(params.get("USER_ID_FOR_SRP") or username)
        step = Challenge(name=name, session=str(result.get("Session", "")), username=who)
        if name == MFA_SETUP:
            return self._associate(step)
        return step

    def _associate(self, step: Challenge) -> Challenge:
        """A new authenticator key for the user (MFA_SETUP), with the session to verify it."""
        result = self._call("associate_software_token", Session=step.session)
        session = str(result.get("Session") or step.session)
        return replace(step, secret=str(result["SecretCode"]), session=session)

    def _tokens(self, auth: dict[str, Any], username: str) -> Tokens:
        claims = id_token_claims(auth["IdToken"])
        return Tokens(
            id_token=auth["IdToken"],
            access_token=auth.get("AccessToken", ""),
            refresh_token=auth.get("RefreshToken", ""),
            expires_at=_expiry(claims, auth),
            username=str(claims.get("cognito:username") or username),
        )

    def _respond(self, step: Challenge, responses: dict[str, str]) -> Tokens | Challenge:
        result = self._call(
            "respond_to_auth_challenge",
            ClientId=self.settings.client_id,
            ChallengeName=step.name,
            Session=step.session,
            ChallengeResponses={"USERNAME": step.username, **responses},
        )
        return self._outcome(result, step.username)

    def start(self, username: str, password: str) -> Tokens | Challenge:
        """Sign in: tokens, or the first step (new password, authenticator) still to do."""
        if not username or not password:
            raise LoginError("wrong_password", "Enter a username and a password.")
        result = self._call(
            "initiate_auth",
            ClientId=self.settings.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return self._outcome(result, username)

    def login(self, username: str, password: str) -> Tokens:
        """Sign in where no step is expected (scripts, tests); raises LoginError otherwise."""
        outcome = self.start(username, password)
        if isinstance(outcome, Challenge):
            raise LoginError("challenge", f"This account needs {outcome.name}; sign in with the console.")
        return outcome

    def new_password(self, step: Challenge, password: str) -> Tokens | Challenge:
        """Answer NEW_PASSWORD_REQUIRED (a first sign-in with a temporary password)."""
        if password_problems(password):
            raise LoginError("weak_password", "The new password does not meet the rules.")
        return self._respond(step, {"NEW_PASSWORD": password})

    def verify_setup(self, step: Challenge, code: str) -> Tokens | Challenge:
        """Answer MFA_SETUP: check the app's first code, then make TOTP the user's MFA."""
        code = code.strip()
        if not (code.isdigit() and len(code) == 6):
            raise LoginError("wrong_code", "Type the six digits the app shows.")
        result = self._call("verify_software_token", Session=step.session, UserCode=code)
        if result.get("Status") != "SUCCESS":
            raise LoginError("wrong_code", "That code is not right; type the current code from the app.")
        outcome = self._respond(replace(step, session=str(result.get("Session") or step.session)), {})
        if isinstance(outcome, Tokens):
            # Without a preference Cognito would ask for setup again at the next sign-in.
            self._call(
                "set_user_mfa_preference",
                AccessToken=outcome.access_token,
                SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
            )
        return outcome

    def totp(self, step: Challenge, code: str) -> Tokens | Challenge:
        """Answer SOFTWARE_TOKEN_MFA with the authenticator app's current code."""
        code = code.strip()
        if not (code.isdigit() and len(code) == 6):
            raise LoginError("wrong_code", "Type the six digits the app shows.")
        return self._respond(step, {"SOFTWARE_TOKEN_MFA_CODE": code})

    def refresh(self, tokens: Tokens) -> Tokens:
        """New ID and access tokens from the refresh token (which Cognito does not rotate here)."""
        if not tokens.refresh_token:
            raise LoginError("expired", "Your session has expired; sign in again.")
        result = self._call(
            "initiate_auth",
            ClientId=self.settings.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens.refresh_token},
        )
        if "AuthenticationResult" not in result:
            raise LoginError("expired", "Your session has expired; sign in again.")
        auth: dict[str, Any] = result["AuthenticationResult"]
        claims = id_token_claims(auth["IdToken"])
        return replace(
            tokens,
            id_token=auth["IdToken"],
            access_token=auth.get("AccessToken", tokens.access_token),
            refresh_token=auth.get("RefreshToken") or tokens.refresh_token,
            expires_at=_expiry(claims, auth),
        )

    def sign_out_everywhere(self, tokens: Tokens) -> None:
        """Cognito GlobalSignOut: every refresh token of the user is revoked (all browsers)."""
        if tokens.access_token:
            self._call("global_sign_out", AccessToken=tokens.access_token)

    def resume(self, username: str, refresh_token: str) -> Tokens:
        """Fresh tokens for a session kept in the session cookie (REFRESH_TOKEN_AUTH)."""
        tokens = self.refresh(
            Tokens(id_token="", access_token="", refresh_token=refresh_token, expires_at=0, username=username)
        )
        # The ID token names the user; the cookie's name is only a fallback.
        named = id_token_claims(tokens.id_token).get("cognito:username")
        return replace(tokens, username=str(named or username))


def _expiry(claims: dict[str, Any], auth: dict[str, Any]) -> float:
    """When the ID token expires: its `exp` claim, else now + ExpiresIn."""
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return float(exp)
    return time.time() + float(auth.get("ExpiresIn", 3600))
