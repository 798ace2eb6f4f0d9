"""The token endpoint's failure limiter on its own clock, and inputs that must be a 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from headwater.identity import FailureLimiter, hash_secret, pbkdf2_hash, verify_secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_inside_the_window_lock_the_key_until_the_lockout_ends() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_failures=3, window_seconds=60, lockout_seconds=30, clock=clock)
    limiter.failed("a")
    clock.now += 61  # the first failure leaves the window
    limiter.failed("a")
    limiter.failed("a", "b")
    assert limiter.retry_after("a") is None and limiter.retry_after("b") is None
    limiter.failed("a")
    assert limiter.retry_after("a") == pytest.approx(30)
    assert limiter.retry_after("b") is None
    assert limiter.retry_after("b", "a") == pytest.approx(30), "any locked key locks the request"
    clock.now += 29.5
    assert limiter.retry_after("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.retry_after("a") is None
    limiter.failed("a")
    assert limiter.retry_after("a") is None, "a lock ends with a fresh count"


def test_memory_is_bounded_by_max_keys() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_failures=2, window_seconds=60, lockout_seconds=30, max_keys=100, clock=clock)
    for i in range(10_000):
        limiter.failed(f"random-{i}")
    assert len(limiter._failures) <= 100
    for i in range(10_000):
        limiter.failed(f"locked-{i}", f"locked-{i}")
    assert len(limiter._locked) <= 100 and limiter.retry_after("locked-9999") is not None


def test_secret_hashes_verify_only_their_secret() -> None:
    fast, slow = hash_secret("p8e-right"), pbkdf2_hash("p8e-right", rounds=1000)
    assert fast.startswith("hmac-sha256$") and slow.startswith("pbkdf2$")
    for stored in (fast, slow):
        assert verify_secret("p8e-right", stored)
        assert not verify_secret("p8e-wrong", stored)
        assert not verify_secret("p8e-right\ud800", stored)
    for stored in (None, "", "none$", "hmac-sha256$", "pbkdf2$x$y$z", "plain"):
        assert not verify_secret("p8e-right", stored) and not verify_secret("", stored)


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "\ud800", "client_secret": "\ud800"},
        {"client_id": "x" * 100_000, "client_secret": "y"},
        {"client_id": "a'; DROP TABLE api_clients; --", "client_secret": "y"},
        {"client_id": "local-00", "client_secret": "\x00"},
    ],
)
def test_odd_credentials_are_refused_without_a_500(client: TestClient, body: dict[str, str]) -> None:
    # 400 where the edge refuses the JSON itself (lone surrogates, NUL), else 401 like any wrong secret.
    raw = json.dumps(body).encode("ascii")  # a lone surrogate goes out escaped, as any client can send it
    resp = client.post("/ims/token/v3", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code in (400, 401), resp.text
    assert "access_token" not in resp.text
