"""Access tokens as JWTs (RFC 7519, HS256 through PyJWT), decoded strictly.

PyJWT's base64url decoder, like Python's, skips characters outside the alphabet and accepts
padding and non-zero trailing bits, so `<token>!!`, `<token>==` or a changed last character can
decode to the same signature bytes. A token is therefore accepted only in its one canonical
encoding: three segments of the base64url alphabet, each re-encoding to exactly itself.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "org", "jti"]
# Far above any token we issue (~250 characters); refuses oversized input before any work.
MAX_TOKEN_CHARS = 4096
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class TokenInvalid(Exception):
    """Not a token this issuer signed, or not in its canonical encoding."""


class TokenExpired(TokenInvalid):
    """Signed by this issuer, but past its `exp`."""


def _is_canonical_segment(segment: str) -> bool:
    if not _SEGMENT.fullmatch(segment):
        return False
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (ValueError, binascii.Error):
        return False
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == segment


def encode(claims: dict[str, Any], key: bytes) -> str:
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def expired(exp: int) -> bool:
    """PyJWT's rule without leeway: a token is expired from its `exp` second on."""
    return exp <= time.time()


def decode(token: str, key: bytes) -> dict[str, Any]:
    """The claims of a canonical, correctly signed, unexpired HS256 token with every required claim."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenInvalid
    segments = token.split(".")
    if len(segments) != 3 or not all(_is_canonical_segment(s) for s in segments):
        raise TokenInvalid
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS}, leeway=0
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired from None
    except jwt.InvalidTokenError:
        raise TokenInvalid from None
    if not all(isinstance(claims[c], str) and claims[c] for c in ("sub", "org", "jti")):
        raise TokenInvalid
    return claims
