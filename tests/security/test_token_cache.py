"""A token checked once is not checked again on every request, but stays bound by its expiry and its
signature: the cache of verified tokens changes what a check costs, never what it answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headwater.errors import GatewayError
from headwater.identity import Principal, TokenIssuer
from headwater.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    found = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    found.migrate()
    return found


def test_a_verified_token_still_expires(store: Store) -> None:
    issuer = TokenIssuer(store, b"k" * 32, ttl_seconds=1)
    principal = Principal("client", "ORG@AdobeOrg")
    token = issuer.mint(principal)
    assert issuer.decode(token) == principal
    assert issuer.decode(token) == principal  # answered from the cache
    time.sleep(1.1)
    with pytest.raises(GatewayError) as refused:
        issuer.decode(token)
    assert "expired" in refused.value.message


def test_a_token_verified_by_one_key_is_not_accepted_by_another(store: Store) -> None:
    token = TokenIssuer(store, b"k" * 32, ttl_seconds=60).mint(Principal("client", "ORG@AdobeOrg"))
    other = TokenIssuer(store, b"j" * 32, ttl_seconds=60)
    with pytest.raises(GatewayError):
        other.decode(token)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    issuer = TokenIssuer(store, b"k" * 32, ttl_seconds=60)
    assert issuer.decode(token).client_id == "client"
    with pytest.raises(GatewayError):
        issuer.decode(tampered)
