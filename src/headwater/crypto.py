"""Encryption at rest for credentials, and the key that signs tokens.

One master key (Fernet, from HEADWATER_SECRET_KEY or a 0600 key file created on first start) is
split with HKDF into an encryption key and a token-signing key, so neither use weakens the other.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from headwater.errors import HeadwaterError
from headwater.settings import Settings


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"headwater:" + purpose).derive(master)


def load_master_key(settings: Settings) -> bytes:
    """The raw 32-byte master key; creates the key file (mode 0600) on first start."""
    if settings.secret_key is not None:
        text = settings.secret_key.get_secret_value().strip()
    else:
        path = settings.data_dir / "secret.key"
        text = _read_or_create_key_file(path)
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise HeadwaterError("HEADWATER_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes).")
    return raw


def _read_or_create_key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(Fernet.generate_key().decode("ascii"))
    return path.read_text(encoding="ascii")


class SecretBox:
    """Encrypts and decrypts small JSON objects of secrets."""

    def __init__(self, master_key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(master_key, b"secrets")))
        self.signing_key = _derive(master_key, b"tokens")

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"

    def seal(self, secrets: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(secrets, separators=(",", ":")).encode("utf-8"))

    def open(self, blob: bytes | None) -> dict[str, Any]:
        if not blob:
            return {}
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise HeadwaterError(
                "Stored credentials cannot be decrypted: the secret key changed since they were saved."
            ) from None
        return data
