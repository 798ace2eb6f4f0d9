"""Known secret shapes, blanked out of log text: the backstop behind SecretStr and careful messages."""

from __future__ import annotations

import re

MASK = "***"

_SECRET_KEY = r"[\w.-]*?(?:password|passwd|pwd|secret|token|api_?key|private_?key|credentials?|authorization)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys (a service account's JSON key carries one).
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        "[private key]",
    ),
    # `password=…`, `"client_secret": "…"`, `'access_token': '…'`, `Password=…;` in connection strings.
    (
        re.compile(rf"(?i)\b({_SECRET_KEY})([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|(?:Bearer\s+)?[^\s,;&}}\]\)]+)"),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{MASK}"),
    # JWTs anywhere (our access tokens), and Fernet tokens (credentials encrypted at rest).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), MASK),
    # The password of a URL's user info: postgresql://user:secret@host/db.
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)"), rf"\1{MASK}\3"),
)


def redact(text: str) -> str:
    """`text` with every known secret shape replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
