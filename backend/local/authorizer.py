"""The Cognito user-pool authorizer's checks, done against the local pool's JWKS.

As API Gateway's `COGNITO_USER_POOLS` authorizer without OAuth scopes: the token in
the `Authorization` header must be an ID token of this pool and app client, signed
by a key of the pool's JWKS, and not expired. On success its claims are what the
function sees in `requestContext.authorizer.claims` (strings; groups comma-joined).
"""

from __future__ import annotations

from typing import Any

import jwt


class TokenRejected(Exception):
    """Why a token was refused (for the gateway's log, never for the client)."""


class CognitoAuthorizer:
    """Verifies ID tokens of one user pool and app client."""

    def __init__(self, endpoint: str, region: str, user_pool_id: str, client_id: str) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_id = client_id
        # moto serves the pool's JWKS at /<pool>/.well-known/jwks.json on its endpoint.
        self._jwks = jwt.PyJWKClient(
            f"{endpoint.rstrip('/')}/{user_pool_id}/.well-known/jwks.json", cache_keys=True, lifespan=3600
        )
        # Fetch the keys now, while the endpoint is idle: a first fetch under load could time out
        # and turn valid tokens into 401s. (moto's JWKS never changes while the stack runs.)
        self._jwks.get_jwk_set()

    def verify(self, header_value: str | None) -> dict[str, Any]:
        """Claims of a valid ID token, or TokenRejected."""
        if not header_value:
            raise TokenRejected("no token")
        token = header_value.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
                leeway=0,
            )
        except (jwt.PyJWTError, ValueError) as err:
            raise TokenRejected(type(err).__name__) from err
        if claims.get("token_use") != "id":
            raise TokenRejected("not an ID token")
        return claims


def claims_for_event(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as a REST API passes them to the function: every value a string."""
    out: dict[str, str] = {}
    for key, value in claims.items():
        out[key] = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return out
