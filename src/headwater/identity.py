"""Headwater as its own token issuer: API credentials per org and signed, expiring bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from headwater.errors import GatewayError
from headwater.store import Store

_TOKEN_PREFIX = "hw1"
_PBKDF2_ROUNDS = 120_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2${_PBKDF2_ROUNDS}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), _unb64(salt), int(rounds))
    return hmac.compare_digest(candidate, _unb64(digest))


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API client (also the `x-api-key`) and its org."""

    client_id: str
    org: str


@dataclass(frozen=True)
class IssuedCredentials:
    client_id: str
    client_secret: str
    org: str

    def __repr__(self) -> str:
        return f"IssuedCredentials(client_id={self.client_id!r}, org={self.org!r})"


class TokenIssuer:
    """Creates API credentials and signs and verifies access tokens (HMAC-SHA256)."""

    def __init__(self, store: Store, signing_key: bytes, *, ttl_seconds: int) -> None:
        self._store = store
        self._key = signing_key
        self.ttl_seconds = ttl_seconds

    def __repr__(self) -> str:
        return "TokenIssuer(<redacted>)"

    def create_credentials(self, org: str, *, name: str = "default") -> IssuedCredentials:
        client_id = secrets.token_hex(16)
        client_secret = "p8e-" + secrets.token_urlsafe(32)
        self._store.add_client(client_id=client_id, org=org, name=name, secret_hash=hash_secret(client_secret))
        return IssuedCredentials(client_id, client_secret, org)

    def exchange(self, client_id: str, client_secret: str) -> str:
        """client_credentials grant: a valid id and secret give a token; anything else is 401."""
        client = self._store.get_client(client_id)
        if client is None or not verify_secret(client_secret, client["secret_hash"]):
            raise GatewayError(401, "invalid_client", "The client id or client secret is not valid.")
        return self.mint(Principal(client_id, client["org"]))

    def mint(self, principal: Principal) -> str:
        payload = {"sub": principal.client_id, "org": principal.org, "exp": int(time.time()) + self.ttl_seconds}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        signed = f"{_TOKEN_PREFIX}.{body}"
        return f"{signed}.{_b64(hmac.new(self._key, signed.encode('ascii'), hashlib.sha256).digest())}"

    def verify(self, token: str) -> Principal:
        """A principal for a valid, unexpired token; a gateway 401 otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            raise GatewayError(401, "401013", "Oauth token is not valid")
        signed = f"{parts[0]}.{parts[1]}"
        expected = hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()
        try:
            ok = hmac.compare_digest(expected, _unb64(parts[2]))
            payload = json.loads(_unb64(parts[1])) if ok else None
        except (ValueError, UnicodeDecodeError):
            ok, payload = False, None
        if not ok or not isinstance(payload, dict):
            raise GatewayError(401, "401013", "Oauth token is not valid")
        if int(payload.get("exp", 0)) < time.time():
            raise GatewayError(401, "401013", "Oauth token is expired; request a new one from /ims/token/v3")
        return Principal(str(payload["sub"]), str(payload["org"]))
