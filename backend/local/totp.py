"""RFC 6238 time-based one-time codes (what an authenticator app shows), in the standard library.

Used by the local stack (its TOTP demo user, `hdcn token`) and by the tests; the console
itself never computes a code (the person's app does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def totp_code(secret: str, at: float | None = None) -> str:
    """The six-digit code of a base32 `secret` at time `at` (now by default); HMAC-SHA1, 30 s steps."""
    padded = secret.upper() + "=" * (-len(secret) % 8)
    key = base64.b32decode(padded, casefold=True)
    counter = int((time.time() if at is None else at) // STEP_SECONDS)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)
