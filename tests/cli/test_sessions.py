"""Profiles keep a session going: expired or refused tokens are replaced, a token alone is enough."""

from __future__ import annotations

import stat
import time
import tomllib

import jwt
import pytest

from headwater.cli_client import profile as profiles
from tests.cli.conftest import Hw
from tests.support.ids import ORG

pytestmark = pytest.mark.slow  # a `headwater serve` per module


def _saved(hw: Hw) -> dict[str, object]:
    return dict(tomllib.loads((hw.config_dir / "profile.toml").read_text())["default"])


def _bare(hw: Hw) -> Hw:
    """The same command with no credentials in the environment: only the profile."""
    return Hw(hw.server, hw.config_dir)


def _save(hw: Hw, monkeypatch: pytest.MonkeyPatch, saved: profiles.Profile) -> None:
    monkeypatch.setenv("HEADWATER_CONFIG_DIR", str(hw.config_dir))
    profiles.save("default", saved)


def test_an_expired_cached_token_is_replaced(hw: Hw, account: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    stale = profiles.Profile(
        url=hw.server.base_url, client_id=account["client_id"], client_secret=account["client_secret"],
        access_token="stale.token.value", token_expires_at=int(time.time()) - 10,
    )  # fmt: skip
    _save(hw, monkeypatch, stale)
    assert _bare(hw)("flows", "list", "--json").json() == []
    saved = _saved(hw)
    assert saved["access_token"] != "stale.token.value"
    assert int(str(saved["token_expires_at"])) > time.time() + 60
    assert stat.S_IMODE((hw.config_dir / "profile.toml").stat().st_mode) == 0o600


def test_a_refused_cached_token_is_replaced_once(
    hw: Hw, account: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token the server signed with a key it no longer has: the claims fit, the signature does not.
    claims = {"sub": account["client_id"], "org": ORG, "exp": int(time.time()) + 3600, "iat": int(time.time()),
              "jti": "x"}  # fmt: skip
    old_key = "an-older-signing-key-of-at-least-32-bytes"
    refused = profiles.Profile(
        url=hw.server.base_url, client_id=account["client_id"], client_secret=account["client_secret"],
        access_token=jwt.encode(claims, old_key, algorithm="HS256"), token_expires_at=int(time.time()) + 3600,
    )  # fmt: skip
    _save(hw, monkeypatch, refused)
    assert _bare(hw)("runs", "list", "--json").json() == []
    assert _saved(hw)["access_token"] != refused.access_token


def test_an_expired_token_without_a_secret_says_so(hw: Hw, monkeypatch: pytest.MonkeyPatch) -> None:
    _save(hw, monkeypatch, profiles.Profile(url=hw.server.base_url, access_token="a.b.c", token_expires_at=1))
    out = _bare(hw)("flows", "list", ok=False)
    assert out.code == 2 and "has expired" in out.err


def test_a_bad_token_shows_the_gateway_code(hw: Hw, account: dict[str, str]) -> None:
    out = _bare(hw)("flows", "list", "--token", "a.b.c", "--client-id", account["client_id"], "--org", ORG, ok=False)
    assert out.code == 1 and "401013 (HTTP 401)" in out.err


def test_login_asks_for_the_secret_and_a_wrong_one_saves_nothing(hw: Hw, account: dict[str, str]) -> None:
    bare = _bare(hw)
    wrong = bare("login", "--client-id", account["client_id"], input="wrong-secret\n", ok=False)
    assert wrong.code == 1 and "invalid_client" in wrong.err
    assert not (hw.config_dir / "profile.toml").exists()
    right = bare(
        "login", "--client-id", account["client_id"], "--sandbox", "dev", input=account["client_secret"] + "\n"
    )
    assert account["client_secret"] not in right.out + right.err
    assert _saved(hw)["sandbox"] == "dev"
    assert bare("flows", "list", "--json").json() == []
