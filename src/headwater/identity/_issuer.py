"""Headwater as its own token issuer: API credentials per org, and signed, expiring JWT access tokens."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from headwater.errors import GatewayError
from headwater.identity import _jwt
from headwater.identity._hashing import NO_SECRET, hash_secret, is_current, verify_secret
from headwater.store import Store

# Every id this issuer creates (32 hex characters, or `local-` and 32) fits; anything else is
# answered like an unknown id without reaching the database.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_INVALID_CLIENT = "The client id or client secret is not valid."


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


@dataclass(frozen=True)
class ClientInfo:
    """An API client as listed to the operator (never its secret hash). Times are epoch ms."""

    client_id: str
    org: str
    name: str
    created_at: int
    revoked_at: int | None


_VERIFIED_TOKENS = 4096


class TokenIssuer:
    """Creates, lists and revokes API clients; signs and verifies access tokens (JWT, HS256)."""

    def __init__(self, store: Store, signing_key: bytes, *, ttl_seconds: int) -> None:
        self._store = store
        self._key = signing_key
        self.ttl_seconds = ttl_seconds
        # Tokens whose signature and claims were checked: principal and `exp`. A client sends the same
        # token on every request, and checking it again cost ~0.2 ms of a 0.8 ms GET. Only tokens this
        # issuer signed get in, so the bound is a safeguard; expiry is still checked on every use, and
        # revocation (require_active) is never cached.
        self._verified: dict[str, tuple[Principal, int]] = {}

    def __repr__(self) -> str:
        return "TokenIssuer(<redacted>)"

    # -- clients ------------------------------------------------------------------------------
    def create_credentials(self, org: str, *, name: str = "default") -> IssuedCredentials:
        client_id = secrets.token_hex(16)
        client_secret = "p8e-" + secrets.token_urlsafe(32)  # 256 random bits
        self._store.add_client(client_id=client_id, org=org, name=name, secret_hash=hash_secret(client_secret))
        return IssuedCredentials(client_id, client_secret, org)

    def mint_local(self, org: str) -> tuple[str, str]:
        """A client id and a token for local use, without any secret that could be exchanged.

        The client row exists only so the token can be listed and revoked like any other; its
        hash matches no secret, so POST /ims/token/v3 refuses it whatever is sent.
        """
        client_id = "local-" + secrets.token_hex(16)
        self._store.add_client(client_id=client_id, org=org, name="local", secret_hash=NO_SECRET)
        return client_id, self.mint(Principal(client_id, org))

    def list_clients(self, org: str | None = None) -> list[ClientInfo]:
        return [
            ClientInfo(r["client_id"], r["org"], r["name"], r["created_at"], r["revoked_at"])
            for r in self._store.list_clients(org)
        ]

    def revoke(self, client_id: str) -> bool:
        """Revoke a client: its tokens are refused from the next request on. False if unknown."""
        return self._store.revoke_client(client_id)

    # -- tokens -------------------------------------------------------------------------------
    def exchange(self, client_id: str, client_secret: str) -> str:
        """client_credentials grant: a valid id and secret of an active client give a token; else 401.

        Blocking (a database read and a hash): the API runs it in a worker thread. An unknown,
        malformed, revoked or local client id costs one hash verification like a known one.
        """
        client = self._store.get_client(client_id) if _CLIENT_ID.fullmatch(client_id) else None
        stored = client["secret_hash"] if client is not None else None
        if not verify_secret(client_secret, stored) or client is None or client["revoked_at"] is not None:
            raise GatewayError(401, "invalid_client", _INVALID_CLIENT)
        if stored is not None and not is_current(stored):
            self._store.set_client_secret_hash(client_id, old=stored, new=hash_secret(client_secret))
        return self.mint(Principal(client_id, client["org"]))

    def mint(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "sub": principal.client_id,
            "org": principal.org,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_hex(16),
        }
        return _jwt.encode(claims, self._key)

    def decode(self, token: str) -> Principal:
        """The principal of a well-formed, correctly signed, unexpired token (no I/O); a 401 otherwise."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if not _jwt.expired(expires):
                return principal
            del self._verified[token]
        try:
            claims = _jwt.decode(token, self._key)
        except _jwt.TokenExpired:
            raise GatewayError(401, "401013", "Oauth token is expired; request a new one from /ims/token/v3") from None
        except _jwt.TokenInvalid:
            raise GatewayError(401, "401013", "Oauth token is not valid") from None
        principal = Principal(claims["sub"], claims["org"])
        if len(self._verified) >= _VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (principal, int(claims["exp"]))
        return principal

    def require_active(self, principal: Principal) -> None:
        """401 unless the token's client still exists for its org and is not revoked (one indexed read)."""
        if not self._store.client_is_active(principal.client_id, principal.org):
            raise GatewayError(401, "401013", "Oauth token is not valid: its API credentials were revoked.")

    def verify(self, token: str) -> Principal:
        """decode + require_active, for callers outside the event loop."""
        principal = self.decode(token)
        self.require_active(principal)
        return principal
