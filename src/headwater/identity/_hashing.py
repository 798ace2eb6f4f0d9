"""Client-secret hashes.

Client secrets are random 256-bit values (`p8e-` + 32 random bytes), never passwords a person chose.
A slow KDF protects low-entropy passwords against offline guessing; against a 256-bit secret it
adds nothing (2^256 guesses stay out of reach at any speed) and only turns the token endpoint into a
lever to burn the server's CPU (PBKDF2 at ~50 ms a guess was 20 guesses/s per core). New secrets are
therefore stored as a salted HMAC-SHA256 (`hmac-sha256$salt$digest`, about a microsecond).
`pbkdf2$` hashes written by earlier versions still verify, and are replaced after one good exchange.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

FAST_SCHEME = "hmac-sha256"
LEGACY_SCHEME = "pbkdf2"
# The hash of a client that has no secret (the CLI's local token clients): no input verifies.
NO_SECRET = "none$"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utf8(secret: str) -> bytes:
    # surrogatepass: a lone surrogate from a JSON body is a wrong secret, not an encoding error.
    return secret.encode("utf-8", "surrogatepass")


def hash_secret(secret: str) -> str:
    """The stored form of a new (random, high-entropy) client secret."""
    salt = secrets.token_bytes(16)
    return f"{FAST_SCHEME}${_b64(salt)}${_b64(hmac.new(salt, _utf8(secret), hashlib.sha256).digest())}"


def pbkdf2_hash(secret: str, *, rounds: int = 120_000) -> str:
    """The hash scheme of earlier versions (kept to test that such stored hashes still verify)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", _utf8(secret), salt, rounds)
    return f"{LEGACY_SCHEME}${rounds}${_b64(salt)}${_b64(digest)}"


# Verified in place of a missing or unusable hash, so an unknown client id, a revoked client or a
# local client costs the same as a known one with a wrong secret. Its secret is never known.
_DUMMY = hash_secret(secrets.token_urlsafe(32))


def _verify_fast(secret: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        expected = _unb64(digest)
        candidate = hmac.new(_unb64(salt), _utf8(secret), hashlib.sha256).digest()
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(candidate, expected)


def _verify_pbkdf2(secret: str, stored: str) -> bool:
    try:
        _, rounds, salt, digest = stored.split("$")
        expected = _unb64(digest)
        candidate = hashlib.pbkdf2_hmac("sha256", _utf8(secret), _unb64(salt), int(rounds))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(candidate, expected)


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches `stored`; None or a hash of no known scheme never matches."""
    scheme = stored.split("$", 1)[0] if stored else ""
    if stored and scheme == FAST_SCHEME:
        return _verify_fast(secret, stored)
    if stored and scheme == LEGACY_SCHEME:
        return _verify_pbkdf2(secret, stored)
    _verify_fast(secret, _DUMMY)
    return False


def is_current(stored: str) -> bool:
    """False for a hash that should be replaced by the current scheme after a good exchange."""
    return stored.startswith(FAST_SCHEME + "$")
