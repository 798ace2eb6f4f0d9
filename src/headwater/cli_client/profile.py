"""Saved connection profiles: `$HEADWATER_CONFIG_DIR/profile.toml` (else `~/.config/headwater/`).

The file holds a client secret and a cached token, so it is created 0600 in a 0700 directory and
rewritten atomically (a temporary file in the same directory, renamed over the old one). One TOML
table per profile name:

    [default]
    url = "http://127.0.0.1:8080"
    client_id = "…"
    client_secret = "…"
    sandbox = "prod"
    access_token = "…"          # cached; replaced when it expires
    token_expires_at = 1767225600
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from headwater.cli_client.failure import CliError

CONFIG_DIR_ENV = "HEADWATER_CONFIG_DIR"
FILE_NAME = "profile.toml"


def config_dir() -> Path:
    given = os.environ.get(CONFIG_DIR_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "headwater"


def profile_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass
class Profile:
    """Where a server is and how to sign in to it; every field optional."""

    url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    org: str | None = None
    sandbox: str | None = None
    access_token: str | None = None
    token_expires_at: int | None = None

    def __repr__(self) -> str:  # never the secret or the token
        return f"Profile(url={self.url!r}, client_id={self.client_id!r}, sandbox={self.sandbox!r})"


_KNOWN = {f.name for f in fields(Profile)}


def _read_all(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CliError(
            f"the profile file {path} is not valid TOML: {exc}", hint="fix or delete it", exit_code=2
        ) from None
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def load(name: str) -> Profile | None:
    """The profile `name`, or None when there is none."""
    table = _read_all(profile_path()).get(name)
    if table is None:
        return None
    return Profile(**{k: v for k, v in table.items() if k in _KNOWN})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string with \\uXXXX escapes is a valid TOML basic string.
    return json.dumps(str(value), ensure_ascii=True)


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() and key.isascii() else _toml_value(key)


def save(name: str, profile: Profile) -> Path:
    """Write `profile` under `name`, keeping the other profiles; the file is 0600."""
    path = profile_path()
    _private_dir(path.parent)
    everything = _read_all(path)
    everything[name] = {k: v for k, v in asdict(profile).items() if v is not None}
    _write(path, everything)
    return path


def _private_dir(directory: Path) -> None:
    """The profile's directory, 0700; one this user made readable by others is tightened."""
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        info = directory.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            directory.chmod(0o700)


def remove(name: str) -> bool:
    path = profile_path()
    everything = _read_all(path)
    if everything.pop(name, None) is None:
        return False
    _write(path, everything)
    return True


def _write(path: Path, everything: dict[str, dict[str, Any]]) -> None:
    lines: list[str] = []
    for section, table in everything.items():
        lines.append(f"[{_toml_key(section)}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items())
        lines.append("")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask or an older file's mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
