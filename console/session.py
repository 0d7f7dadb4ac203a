"""A console session that survives a reload, a deep link and a restart, behind an HttpOnly cookie.

After a sign-in the console seals the user's Cognito refresh token and username into a cookie
with authenticated encryption (AES-256-GCM, key derived from `HDCN_SESSION_SECRET`): the server
keeps no session records, so a restarted console or a second container reads the same cookie.
The browser never sees a token: the cookie is HttpOnly (no page script can read it), SameSite=
Strict and Path=/, Secure over HTTPS.

A Streamlit script cannot set a cookie (it talks to the browser over a websocket), so the script
issues a **ticket**: a random, single-use name for the sealed value, valid for `TICKET_SECONDS`.
The page posts the ticket to `ROUTE` (a same-origin fetch from an `st.iframe`); that route, served
by the same process (`console/server.py`), answers with the Set-Cookie. A ticket is not a token:
it names a cookie value the server holds for a minute and is gone once used. The same route
expires the cookie at sign-out (a ticket naming no value). Cross-site requests are refused: POST
only, the Origin must be this host, and the ticket is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LOG = logging.getLogger(__name__)

COOKIE_NAME = "hdcn_session"
ROUTE = "/_hdcn/session"
SECRET_ENV = "HDCN_SESSION_SECRET"  # noqa: S105 - the variable's name
SECURE_ENV = "HDCN_COOKIE_SECURE"
MAX_AGE_ENV = "HDCN_SESSION_MAX_AGE"
# The app client's RefreshTokenValidity (template.yaml: 1 day): a session cannot outlive its token.
DEFAULT_MAX_AGE_SECONDS = 86_400
# Long enough for the page to post the ticket right after the run that issued it, short enough
# that a ticket seen in the page is worthless soon after.
TICKET_SECONDS = 60
# A weak secret would let anyone forge nothing (AES-GCM needs the key) but guess the key: 32+ chars.
MIN_SECRET_LENGTH = 32
# Browsers drop cookies over 4096 bytes (name, value and attributes): checked in the unit tests.
COOKIE_LIMIT = 4096
_VERSION = "v1"
_AAD = f"{COOKIE_NAME} {_VERSION}".encode()
_NONCE_BYTES = 12


@dataclass(frozen=True)
class SessionRecord:
    """What the cookie holds: whose session, their refresh token, when they signed in."""

    username: str
    refresh_token: str
    signed_in_at: float


class SessionCodec:
    """Seal a `SessionRecord` into a cookie value and open it again (AES-256-GCM)."""

    def __init__(self, secret: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"{SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters")
        # HKDF makes a 256-bit key of any long secret (a pasted passphrase or random base64).
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hdcn console session").derive(
            secret.encode()
        )
        self._aead = AESGCM(key)
        self.max_age = max_age

    @classmethod
    def from_env(cls) -> SessionCodec:
        """The codec for this console: the key from the environment, else one for this process only."""
        secret = os.environ.get(SECRET_ENV, "")
        try:
            max_age = int(os.environ.get(MAX_AGE_ENV) or DEFAULT_MAX_AGE_SECONDS)
        except ValueError:
            max_age = DEFAULT_MAX_AGE_SECONDS
        if not secret:
            # Sessions then survive reloads but not a restart; say so once in the console's log.
            LOG.warning("%s is not set: console sessions end when the console restarts", SECRET_ENV)
            secret = secrets.token_urlsafe(48)
        return cls(secret, max_age)

    def seal(self, record: SessionRecord) -> str:
        payload = json.dumps(
            {"u": record.username, "r": record.refresh_token, "t": int(record.signed_in_at)},
            separators=(",", ":"),
        ).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload, _AAD)
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str, now: float | None = None) -> SessionRecord | None:
        """The record, or None for a cookie that was altered, sealed with another key, or too old."""
        version, _, body = value.partition(".")
        if version != _VERSION or not body:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            payload = json.loads(self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD))
            record = SessionRecord(str(payload["u"]), str(payload["r"]), float(payload["t"]))
        except (InvalidTag, ValueError, binascii.Error, KeyError, TypeError):
            return None
        # The cookie's Max-Age is the browser's promise; the age inside the sealed value is ours.
        current = time.time() if now is None else now
        if not record.username or not record.refresh_token or current - record.signed_in_at > self.max_age:
            return None
        return record


@dataclass(frozen=True)
class Redeemed:
    """A redeemed ticket: the cookie value to set, or None to expire the cookie."""

    cookie: str | None
    max_age: int


class TicketBook:
    """Single-use, short-lived tickets naming a cookie value (one book per console process)."""

    def __init__(self, lifetime: float = TICKET_SECONDS) -> None:
        self.lifetime = lifetime
        self._open: dict[str, tuple[Redeemed, float]] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, cookie: str | None, max_age: int, now: float | None = None) -> str:
        current = time.time() if now is None else now
        ticket = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_old(current)
            self._open[ticket] = (Redeemed(cookie, max_age), current + self.lifetime)
        return ticket

    def redeem(self, ticket: str, now: float | None = None) -> Redeemed | None:
        """What the ticket names, once: None when unknown, used or expired."""
        current = time.time() if now is None else now
        with self._lock:
            entry = self._open.pop(ticket, None)
            if entry is None or entry[1] < current:
                return None
            self._used[ticket] = current
        return entry[0]

    def was_redeemed(self, ticket: str) -> bool:
        """True once the page has posted the ticket (the script then stops posting it)."""
        with self._lock:
            return ticket in self._used

    def _forget_old(self, now: float) -> None:
        for ticket in [t for t, (_, expires) in self._open.items() if expires < now]:
            del self._open[ticket]
        for ticket in [t for t, used in self._used.items() if used + self.lifetime < now]:
            del self._used[ticket]


TICKETS = TicketBook()


def cookie_is_secure(request: Request) -> bool:
    """Secure when the console is served over HTTPS (directly, behind a proxy, or said so)."""
    if os.environ.get(SECURE_ENV, "").lower() in ("1", "true", "yes"):
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _same_origin(request: Request) -> bool:
    """The request comes from a page of this console (Origin names this host; fetch metadata agrees)."""
    origin = request.headers.get("origin", "")
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    if not origin or not host or urlsplit(origin).netloc.lower() != host.split(",")[0].strip().lower():
        return False
    # Browsers that send fetch metadata say whether the request crossed sites; trust only same-origin.
    site = request.headers.get("sec-fetch-site")
    return site in (None, "same-origin")


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def session_cookie(request: Request) -> Response:
    """POST {"ticket": ...}: set (or expire) the session cookie the ticket names."""
    if not _same_origin(request):
        return _error(403, "cross_origin", "Only the console's own pages may do this.")
    try:
        body: Any = json.loads(await request.body())
    except ValueError:
        return _error(400, "bad_request", 'Send a JSON body {"ticket": "..."}.')
    ticket = body.get("ticket") if isinstance(body, dict) else None
    if not isinstance(ticket, str) or not ticket or len(ticket) > 100:
        return _error(400, "bad_request", 'Send a JSON body {"ticket": "..."}.')
    redeemed = TICKETS.redeem(ticket)
    if redeemed is None:
        return _error(403, "ticket_invalid", "This ticket is unknown, used or expired.")
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    secure = cookie_is_secure(request)
    if redeemed.cookie is None:
        response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")
    else:
        response.set_cookie(
            COOKIE_NAME,
            redeemed.cookie,
            max_age=redeemed.max_age,
            path="/",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
    return response


def session_routes() -> list[Route]:
    """The console's own HTTP routes (beside Streamlit's), for `st.App(routes=...)`."""
    return [Route(ROUTE, session_cookie, methods=["POST"])]


def _js_string(text: str) -> str:
    """`text` as a JavaScript string literal that cannot end the surrounding <script>."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def poster_html(ticket: str) -> str:
    """The page snippet that posts a ticket to `ROUTE` (same origin, so the cookie is first-party)."""
    return (
        "<script>fetch(" + _js_string(ROUTE) + ',{method:"POST",credentials:"same-origin",'
        'headers:{"Content-Type":"application/json"},body:JSON.stringify({ticket:'
        + _js_string(ticket)
        + "})});</script>"
    )
