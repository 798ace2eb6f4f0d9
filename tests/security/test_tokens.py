"""Credentials and tokens on a real `headwater serve`: nothing derivable, revocation at once, strict JWTs.

Before this, `headwater token --org X` stored a client `local-` + sha256(org)[:16] whose secret was
the id + "!", so knowing an org id was enough to get a token; and a token with `!!` or `==` after
its signature still authenticated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from alembic import command
from alembic.config import Config

from headwater.crypto import SecretBox, load_master_key
from headwater.identity import pbkdf2_hash
from headwater.settings import Settings
from headwater.store import Store, now_ms
from headwater.store.repository import _MIGRATIONS
from tests.security.auth_support import create_credentials, exchange, list_connections
from tests.support.server import LiveServer, cli, running_server

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

ORG = "TOKENS00000000000000000000@AdobeOrg"
OTHER_ORG = "TOKENSOTHER00000000000000@AdobeOrg"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A generous failure limit: these tests make many wrong attempts on purpose (the lockout has its own test).
    env = {"HEADWATER_AUTH_MAX_FAILURES": "1000", "HEADWATER_TOKEN_TTL_SECONDS": "600"}
    with running_server(tmp_path_factory.mktemp("tokens") / "data", env) as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def _list(server: LiveServer) -> list[dict[str, object]]:
    return list(json.loads(cli(server.data_dir, "credentials", "list", "--json")))


def test_local_token_command_stores_nothing_exchangeable(server: LiveServer, http: httpx.Client) -> None:
    first = json.loads(cli(server.data_dir, "token", "--org", ORG, "--json"))
    second = json.loads(cli(server.data_dir, "token", "--org", ORG, "--json"))
    assert list_connections(http, first["access_token"], first["api_key"], ORG).status_code == 200
    assert first["api_key"] != second["api_key"], "each local token gets its own (revocable) client"
    # The credential older versions created is not derivable any more...
    derived = "local-" + hashlib.sha256(ORG.encode()).hexdigest()[:16]
    assert exchange(http, derived, derived + "!").status_code == 401
    # ...and the local client that exists has no secret the token endpoint would accept.
    local_id = first["api_key"]
    for guess in (local_id + "!", local_id, "none", "none$", "", "!", "p8e-"):
        resp = exchange(http, local_id, guess) if guess else http.post("/ims/token/v3", json={"client_id": local_id})
        assert resp.status_code in (400, 401), (guess, resp.text)
        assert "access_token" not in resp.text
    listed = {c["client_id"]: c for c in _list(server)}
    assert listed[local_id]["name"] == "local" and listed[local_id]["org"] == ORG
    assert listed[local_id]["revoked"] is None


def test_a_stored_credential_is_random_and_never_listed_with_its_secret(server: LiveServer) -> None:
    a, b = create_credentials(server, ORG), create_credentials(server, ORG)
    assert a["client_id"] != b["client_id"] and a["client_secret"] != b["client_secret"]
    raw = base64.urlsafe_b64decode(a["client_secret"].removeprefix("p8e-") + "==")
    assert len(raw) == 32, "256 random bits"
    text = cli(server.data_dir, "credentials", "list") + cli(server.data_dir, "credentials", "list", "--json")
    assert a["client_secret"] not in text and "hmac-sha256$" not in text and "pbkdf2" not in text
    assert a["client_id"] in text


def test_revoking_a_client_refuses_its_tokens_at_once(server: LiveServer, http: httpx.Client) -> None:
    victim, bystander = create_credentials(server, ORG), create_credentials(server, OTHER_ORG)
    token = exchange(http, victim["client_id"], victim["client_secret"]).json()["access_token"]
    other = exchange(http, bystander["client_id"], bystander["client_secret"]).json()["access_token"]
    local = json.loads(cli(server.data_dir, "token", "--org", ORG, "--json"))
    assert list_connections(http, token, victim["client_id"], ORG).status_code == 200
    assert list_connections(http, local["access_token"], local["api_key"], ORG).status_code == 200

    out = cli(server.data_dir, "credentials", "revoke", victim["client_id"])
    cli(server.data_dir, "credentials", "revoke", local["api_key"])
    assert victim["client_id"] in out
    for tok, client_id in ((token, victim["client_id"]), (local["access_token"], local["api_key"])):
        resp = list_connections(http, tok, client_id, ORG)
        assert resp.status_code == 401 and resp.json()["error_code"] == "401013", resp.text
    assert exchange(http, victim["client_id"], victim["client_secret"]).status_code == 401
    assert list_connections(http, other, bystander["client_id"], OTHER_ORG).status_code == 200

    listed = {c["client_id"]: c for c in _list(server)}
    assert listed[victim["client_id"]]["revoked"] and listed[bystander["client_id"]]["revoked"] is None
    only_other = json.loads(cli(server.data_dir, "credentials", "list", "--org", OTHER_ORG, "--json"))
    assert {c["org"] for c in only_other} == {OTHER_ORG}
    env = {**os.environ, "HEADWATER_DATA_DIR": str(server.data_dir)}
    unknown = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "credentials", "revoke", "no-such-client"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 1 and "no-such-client" in unknown.stderr


def test_token_lifetime_follows_the_setting(server: LiveServer, http: httpx.Client) -> None:
    creds = create_credentials(server, ORG)
    body = exchange(http, creds["client_id"], creds["client_secret"]).json()
    assert body["expires_in"] == 600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600
    assert {"sub", "org", "iat", "exp", "jti"} <= set(claims) and claims["sub"] == creds["client_id"]
    local = json.loads(
        cli(server.data_dir, "token", "--org", ORG, "--json", extra_env={"HEADWATER_TOKEN_TTL_SECONDS": "120"})
    )
    claims = jwt.decode(local["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def _same_bytes_last_char(segment: str) -> str:
    # A 32-byte HMAC is 43 base64url characters: the last one carries 2 unused bits, so flipping
    # the lowest one decodes to the same bytes (a non-canonical encoding of the same signature).
    last = B64URL.index(segment[-1])
    return segment[:-1] + B64URL[last ^ 1]


def _hs512(claims: dict[str, object], key: bytes) -> str:
    with warnings.catch_warnings():  # PyJWT warns that 32 bytes is short for HS512: that is the point
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm="HS512")


def _refused(http: httpx.Client, forged: dict[str, str], client_id: str) -> list[str]:
    accepted = []
    for name, token in forged.items():
        resp = list_connections(http, token, client_id, ORG)
        if resp.status_code != 401 or resp.json().get("error_code") != "401013":
            accepted.append(f"{name}: {resp.status_code} {resp.text[:100]}")
    return accepted


def test_non_canonical_token_encodings_are_refused(server: LiveServer, http: httpx.Client) -> None:
    """Base64 decoders drop characters outside the alphabet, padding and unused trailing bits: each of
    these decodes to the genuine signature, and each used to authenticate."""
    creds = create_credentials(server, ORG)
    token = exchange(http, creds["client_id"], creds["client_secret"]).json()["access_token"]
    assert list_connections(http, token, creds["client_id"], ORG).status_code == 200
    head, body, sig = token.split(".")
    forged = {
        "signature + !!": f"{token}!!",
        "signature + ==": f"{token}==",
        "signature + =": f"{token}=",
        "signature + .": f"{token}.",
        "signature, last character flipped (same bytes)": f"{head}.{body}.{_same_bytes_last_char(sig)}",
        "payload + !": f"{head}.{body}!.{sig}",
        "payload with a space": f"{head}.{body[:5]} {body[5:]}.{sig}",
        "payload with a tab": f"{head}.{body[:5]}\t{body[5:]}.{sig}",
    }
    assert not _refused(http, forged, creds["client_id"])
    assert list_connections(http, token, creds["client_id"], ORG).status_code == 200


def test_forged_and_expired_tokens_are_refused(server: LiveServer, http: httpx.Client) -> None:
    creds = create_credentials(server, ORG)
    token = exchange(http, creds["client_id"], creds["client_secret"]).json()["access_token"]
    key = SecretBox(load_master_key(Settings(data_dir=server.data_dir))).signing_key
    claims = jwt.decode(token, options={"verify_signature": False})
    # Sanity: a token the test signs with the server's key and fresh claims is accepted, so each
    # refusal below is down to the one thing changed.
    resigned = jwt.encode({**claims, "jti": "resigned"}, key, algorithm="HS256")
    assert list_connections(http, resigned, creds["client_id"], ORG).status_code == 200
    now = int(time.time())
    without = {c: {k: v for k, v in claims.items() if k != c} for c in ("org", "exp", "iat", "sub")}
    forged = {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "alg none, signature kept": jwt.encode(claims, None, algorithm="none") + token.split(".")[2],
        "another key": jwt.encode(claims, b"k" * 32, algorithm="HS256"),
        "HS512 with the right key": _hs512(claims, key),
        "expired": jwt.encode({**claims, "iat": now - 100, "exp": now - 10}, key, algorithm="HS256"),
        **{f"no {c} claim": jwt.encode(rest, key, algorithm="HS256") for c, rest in without.items()},
        "org claim not a string": jwt.encode({**claims, "org": [ORG]}, key, algorithm="HS256"),
        "old hw1 format": "hw1." + ".".join(token.split(".")[1:]),
    }
    assert not _refused(http, forged, creds["client_id"])
    expired = list_connections(http, forged["expired"], creds["client_id"], ORG)
    assert "expired" in expired.json()["message"]


def test_upgrade_revokes_derivable_local_clients_and_keeps_pbkdf2_secrets(tmp_path: Path) -> None:
    """A data directory of the previous version: its derivable `local-…` client stops working,
    while a client whose secret is a PBKDF2 hash still gets tokens (and its hash is upgraded)."""
    data = tmp_path / "old"
    data.mkdir()
    store = Store.from_url(Settings(data_dir=data).resolved_database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")  # the schema of the previous version
    derived = "local-" + hashlib.sha256(ORG.encode()).hexdigest()[:16]
    old_client, old_secret = "0123456789abcdef0123456789abcdef", "p8e-an-old-secret-from-before"
    rows = [
        (derived, "local", pbkdf2_hash(derived + "!", rounds=1000)),
        (old_client, "default", pbkdf2_hash(old_secret, rounds=1000)),
    ]
    with store.engine.begin() as conn:
        for client_id, name, secret_hash in rows:
            conn.exec_driver_sql(
                "INSERT INTO api_clients (client_id, org, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (client_id, ORG, name, secret_hash, now_ms()),
            )
    with (
        running_server(data, {"HEADWATER_AUTH_MAX_FAILURES": "1000"}) as live,
        httpx.Client(base_url=live.base_url, timeout=30) as http,
    ):
        assert exchange(http, derived, derived + "!").status_code == 401
        resp = exchange(http, old_client, old_secret)
        assert resp.status_code == 200, resp.text
        assert list_connections(http, resp.json()["access_token"], old_client, ORG).status_code == 200
        assert exchange(http, old_client, old_secret).status_code == 200
    listed = {c["client_id"]: c for c in json.loads(cli(data, "credentials", "list", "--json"))}
    assert listed[derived]["revoked"] and listed[old_client]["revoked"] is None
    stored = store.get_client(old_client)
    assert stored is not None and stored["secret_hash"].startswith("hmac-sha256$")
