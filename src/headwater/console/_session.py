"""The console's session: an encrypted, httpOnly, SameSite=Strict cookie holding the access token.

The cookie is a Fernet token (encrypted and authenticated) under a key derived from the token-signing
key, so nobody can read the access token out of it or forge one. Forms carry a per-session CSRF token;
the sign-in form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from headwater.domain.sandbox import is_sandbox_name

SESSION_COOKIE = "hw_console"
SIGNIN_COOKIE = "hw_console_signin"
_RECENT = 8  # sandboxes the switcher offers


@dataclass(frozen=True)
class Session:
    """Who is signed in (their access token), the sandbox they work in, and their CSRF token."""

    token: str
    sandbox: str
    csrf: str
    recent: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"Session(sandbox={self.sandbox!r})"

    def with_sandbox(self, sandbox: str) -> Session:
        recent = (sandbox, *[s for s in self.recent if s != sandbox])[:_RECENT]
        return replace(self, sandbox=sandbox, recent=recent)

    def csrf_ok(self, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(self.csrf.encode(), str(supplied).encode())


def new_session(token: str, sandbox: str = "prod") -> Session:
    return Session(token=token, sandbox=sandbox, csrf=secrets.token_urlsafe(24), recent=(sandbox,))


class SessionCodec:
    """Seals sessions into cookie values and opens them; a tampered or foreign cookie opens as None."""

    def __init__(self, signing_key: bytes, *, max_age_seconds: int) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"headwater:console-session").derive(
            signing_key
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.max_age_seconds = max_age_seconds

    def __repr__(self) -> str:
        return "SessionCodec(<redacted>)"

    def seal(self, session: Session) -> str:
        body = {"t": session.token, "s": session.sandbox, "c": session.csrf, "r": list(session.recent)}
        return self._fernet.encrypt(json.dumps(body, separators=(",", ":")).encode()).decode("ascii")

    def open(self, value: str | None) -> Session | None:
        if not value or len(value) > 4096:
            return None
        try:
            data: Any = json.loads(self._fernet.decrypt(value.encode("ascii"), ttl=self.max_age_seconds))
        except (InvalidToken, ValueError, UnicodeEncodeError):
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("t", "s", "c")):
            return None
        if not is_sandbox_name(data["s"]):
            return None
        recent = tuple(s for s in data.get("r", []) if isinstance(s, str) and is_sandbox_name(s))
        return Session(token=data["t"], sandbox=data["s"], csrf=data["c"], recent=recent)
