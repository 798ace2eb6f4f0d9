"""Known secret shapes, blanked out of log text: the backstop behind SecretStr and careful messages."""

from __future__ import annotations

import re

MASK = "***"

# The words that make a key name a secret's, each form spelled out: the key pattern below and the
# quick word check of `_may_match` are both built from this one list. A form comes before its own
# prefix ("credentials", "credential"), so the pattern tries the longer first, as an optional suffix would.
_KEY_WORD_FORMS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "privatekey",
                   "private_key", "credentials", "credential", "authorization")  # fmt: skip
_KEY_WORD = "(?:" + "|".join(_KEY_WORD_FORMS) + ")"
_SECRET_KEY = r"[\w.-]*?" + _KEY_WORD
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


# Per pattern, a test its every match passes: a pattern runs only on text that passes it. The
# `key = value` pattern's lazy prefix tries each word start, so running every pattern took about
# 100 us per access log line, a tenth of the CPU of a GET /connections/{id}, and most lines hold
# none of these shapes. The case-blind patterns are tested by their words: in the lowercased text
# when it is ASCII, else by `re` under the same flag, whose Unicode case folding (the long s is an
# `s`) lowercasing does not match. The others are tested by a literal their matches hold. Replacements
# only take text away, except the key marker, which only its own pattern looks for, so each test is
# made once, on the text as given.
_KEY_WORDS = re.compile(rf"(?i){_KEY_WORD}")
_BEARER_WORD = re.compile(r"(?i)bearer")


def _may_match(text: str) -> tuple[bool, ...]:
    if text.isascii():
        lowered = text.lower()
        key_word = any(word in lowered for word in _KEY_WORD_FORMS)
        bearer = "bearer" in lowered
    else:
        key_word, bearer = bool(_KEY_WORDS.search(text)), bool(_BEARER_WORD.search(text))
    return ("PRIVATE KEY-----" in text, key_word, bearer, "eyJ" in text, "gAAAAA" in text, "://" in text)


def redact(text: str) -> str:
    """`text` with every known secret shape replaced."""
    for (pattern, replacement), may_match in zip(_PATTERNS, _may_match(text), strict=True):
        if may_match:
            text = pattern.sub(replacement, text)
    return text


def redact_every_pattern(text: str) -> str:
    """`redact` without the word check: what it must equal (tests compare the two)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
