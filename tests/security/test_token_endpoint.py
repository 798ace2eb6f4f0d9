"""POST /ims/token/v3 on a real `headwater serve`: no secrets in URLs or logs, a lockout, equal timing.

Before this, the endpoint took credentials from the query string (and uvicorn logged the URL with
the secret), accepted guesses without end, hashed on the event loop (so guessers stalled every
other request), and answered an unknown client id ten times faster than a known one.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater.identity import pbkdf2_hash
from headwater.settings import Settings
from headwater.store import Store
from tests.security.auth_support import (
    client_from,
    create_credentials,
    exchange,
    headers,
    list_connections,
)
from tests.support.ids import FLOW
from tests.support.net import wait_for
from tests.support.server import LiveServer, running_server

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

ORG = "TOKENEP0000000000000000000@AdobeOrg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # No lockout in the way: the timing tests make hundreds of failed attempts on purpose.
    with running_server(tmp_path_factory.mktemp("tokenep") / "data", {"HEADWATER_AUTH_MAX_FAILURES": "10000"}) as live:
        yield live


def test_credentials_in_the_url_are_refused_and_never_logged(server: LiveServer) -> None:
    creds = create_credentials(server, ORG)
    secret = creds["client_secret"]
    query = urllib.parse.urlencode({"client_id": creds["client_id"], "client_secret": secret})
    form = {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": secret}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for path in (
            f"/ims/token/v3?{query}",
            f"/ims/token/v3?grant_type=client_credentials&{query}",
            f"/ims/token/v3?client_secret={urllib.parse.quote(secret)}",
            f"/%69ms/token/v3?{query}",  # the same route, percent-encoded
        ):
            resp = http.post(path, data={"grant_type": "client_credentials"})
            assert resp.status_code == 400, (path, resp.text)
            body = resp.json()
            assert body["error"] == "invalid_request"
            assert "body" in body["error_description"] and "form" in body["error_description"]
            assert secret not in resp.text
            both = http.post(path, data=form)  # also refused with the credentials in the body as well
            assert both.status_code == 400 and "access_token" not in both.text
        http.get(f"/ims/token/v3?{query}")  # any method: the URL is logged before routing
        http.post(f"{server.base_url}//ims/token/v3?{query}", data=form)  # a full URL keeps the `//`
        assert exchange(http, creds["client_id"], secret).status_code == 200  # the body still works
    # The access log line of the last exchange (a 200) is the last to be written.
    wait_for("the access log", lambda: 'POST /ims/token/v3 HTTP/1.1" 200' in server.log_text(), timeout=10)
    log = server.log_text()
    assert 'POST /ims/token/v3 HTTP/1.1" 400' in log, "the access log is on"
    for needle in (secret, urllib.parse.quote(secret), urllib.parse.quote_plus(secret), secret[4:20]):
        assert needle not in log


def _timed_exchange(http: httpx.Client, client_id: str, client_secret: str) -> float:
    start = time.perf_counter()
    resp = exchange(http, client_id, client_secret)
    elapsed = time.perf_counter() - start
    assert resp.status_code == 401, resp.text
    return elapsed


def test_unknown_client_id_costs_the_same_as_a_known_one(server: LiveServer) -> None:
    creds = create_credentials(server, ORG)
    known, unknown = [], []
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for _ in range(5):  # warm-up: connections, caches
            _timed_exchange(http, creds["client_id"], "p8e-wrong")
            _timed_exchange(http, secrets.token_hex(16), "p8e-wrong")
        for i in range(60):
            wrong = "p8e-" + secrets.token_urlsafe(32)
            pair = [(known, creds["client_id"]), (unknown, secrets.token_hex(16))]
            for bucket, client_id in pair if i % 2 else reversed(pair):
                bucket.append(_timed_exchange(http, client_id, wrong))
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"median unknown {statistics.median(unknown) * 1000:.2f} ms, known {statistics.median(known) * 1000:.2f} ms")
    assert 0.5 <= ratio <= 2.0, f"unknown/known median time ratio {ratio:.2f}"


def test_guessing_does_not_stall_other_requests(server: LiveServer) -> None:
    """Guessers against a client with a slow (PBKDF2, from an older version) hash, while another
    client reads: the hashes run in a bounded worker pool, off the event loop."""
    slow_id, slow_secret = secrets.token_hex(16), "p8e-" + secrets.token_urlsafe(32)
    store = Store.from_url(Settings(data_dir=server.data_dir).resolved_database_url)
    store.add_client(client_id=slow_id, org=ORG, name="old", secret_hash=pbkdf2_hash(slow_secret))
    reader = create_credentials(server, ORG)
    stop = threading.Event()

    def guess() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            while not stop.is_set():
                exchange(http, slow_id, "p8e-" + secrets.token_urlsafe(32))

    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        token = exchange(http, reader["client_id"], reader["client_secret"]).json()["access_token"]
        h = headers(token, reader["client_id"], ORG)
        guessers = [threading.Thread(target=guess) for _ in range(8)]
        for t in guessers:
            t.start()
        try:
            time.sleep(1.0)
            latencies = []
            for _ in range(30):
                start = time.perf_counter()
                assert http.get(f"{FLOW}/connections", headers=h).status_code == 200
                latencies.append(time.perf_counter() - start)
                time.sleep(0.02)
        finally:
            stop.set()
            for t in guessers:
                t.join()
    p50 = statistics.median(latencies)
    print(f"GET /connections p50 under 8 PBKDF2 guessers: {p50 * 1000:.1f} ms")
    # On the event loop, 8 guessers of ~50 ms hashes queued each read behind ~400 ms of hashing.
    assert p50 < 0.15, f"p50 {p50 * 1000:.0f} ms"


def test_failed_attempts_lock_out_the_address_and_the_client_id(tmp_path: Path) -> None:
    env = {
        "HEADWATER_AUTH_MAX_FAILURES": "3",
        "HEADWATER_AUTH_FAILURE_WINDOW_SECONDS": "60",
        "HEADWATER_AUTH_LOCKOUT_SECONDS": "6",
    }
    with (
        running_server(tmp_path / "data", env) as server,
        client_from(server) as here,
        client_from(server, "127.0.0.2") as there,
    ):
        a, b = create_credentials(server, ORG), create_credentials(server, ORG)
        token = exchange(here, a["client_id"], a["client_secret"]).json()["access_token"]
        for _ in range(5):  # successes never count towards the limit
            assert exchange(here, a["client_id"], a["client_secret"]).status_code == 200
        for _ in range(3):
            assert exchange(here, a["client_id"], "p8e-wrong").status_code == 401

        locked = exchange(here, a["client_id"], a["client_secret"])  # even the right secret
        assert locked.status_code == 429, locked.text
        assert locked.json()["error"] == "too_many_requests" and locked.json()["error_description"]
        assert 1 <= int(locked.headers["Retry-After"]) <= 6
        # The client id is locked from every address, and this address for every client id...
        assert exchange(there, a["client_id"], a["client_secret"]).status_code == 429
        assert exchange(here, b["client_id"], b["client_secret"]).status_code == 429
        # ...but another client from another address is not, nor is the rest of the API.
        assert exchange(there, b["client_id"], b["client_secret"]).status_code == 200
        assert list_connections(here, token, a["client_id"], ORG).status_code == 200

        last = exchange(here, a["client_id"], a["client_secret"])
        assert last.status_code == 429
        time.sleep(int(last.headers["Retry-After"]))
        assert exchange(here, a["client_id"], a["client_secret"]).status_code == 200
        assert exchange(there, a["client_id"], a["client_secret"]).status_code == 200
