"""Opening PostgreSQL connections (psycopg for the catalog, ADBC for COPY reads) and explaining failures.

Every error message is built from libpq's text with the password scrubbed out, then mapped to who
must act: ConfigError (credentials, database, SSL settings, certificates) or TransientError
(unreachable host, connection lost) — the run engine retries only the latter.

Connections are made for tenants, so libpq must use nothing of the server account's own: every
parameter it would otherwise take from a file or the environment is given explicitly (password
file, client certificate and key, root certificate, CRL, Kerberos), and `scrub_environment` removes
the PG* variables it reads for the rest (PGPASSWORD, PGSERVICE, PGOPTIONS, PGSSLCERT, …).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

import adbc_driver_manager.dbapi as adbc_errors
import adbc_driver_postgresql.dbapi as adbc_pg
import psycopg

from headwater.connectors._pg_auth import PgTarget
from headwater.errors import ConfigError, HeadwaterError, TransientError

log = logging.getLogger("headwater.connectors.postgres")

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "headwater"


def scrub_environment() -> list[str]:
    """Remove every PG* variable from this process's environment; returns (and logs) their names.

    libpq reads them for any parameter not given, and a service file (PGSERVICE, PGSYSCONFDIR) can
    set any parameter at all: a tenant connection must not inherit the server account's settings.
    The metadata database URL must therefore carry its own credentials.
    """
    names = sorted(name for name in os.environ if name.startswith("PG"))
    for name in names:
        del os.environ[name]
    if names:
        log.warning(
            "removed PostgreSQL client variables from the environment (tenant connections never use the "
            "server's own credentials): %s",
            ", ".join(names),
        )
    return names


# A path that cannot exist (nothing can be created under /dev/null): libpq finds no file there, where
# it would otherwise read the server account's ~/.postgresql/postgresql.crt, .key, root.crt or root.crl.
ABSENT = os.path.join(os.devnull, "absent")


@contextmanager
def _root_cert_file(target: PgTarget) -> Iterator[str | None]:
    """libpq wants the CA as a file: write the PEM to a private temporary file for the connection's life."""
    if not target.sslrootcert:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="headwater-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(target.sslrootcert)
        yield path
    finally:
        os.unlink(path)


def _params(target: PgTarget, root_cert: str | None) -> dict[str, Any]:
    if root_cert:
        trusted = root_cert
    elif target.sslmode == "verify-full":
        trusted = "system"  # the OS trust store (libpq >= 16), never ~/.postgresql/root.crt
    else:
        # verify-ca without a CA fails ("root certificate file does not exist"); the weaker modes
        # encrypt without verifying, as they would with no root.crt.
        trusted = ABSENT
    params: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": target.user,
        "sslmode": target.sslmode,
        "sslrootcert": trusted,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": APPLICATION_NAME,
        # Nothing of the server account: no password file, client certificate, CRL or Kerberos ticket.
        "passfile": os.devnull,
        "sslcertmode": "disable",
        "sslcert": ABSENT,
        "sslkey": ABSENT,
        # An empty sslcrl would mean ~/.postgresql/root.crl (unless sslcrldir is set); an absent
        # file loads no CRL at all.
        "sslcrl": ABSENT,
        "sslcrldir": "",
        "gssencmode": "disable",
        "require_auth": "!gss,!sspi",
    }
    if target.hostaddr:
        # One host entry per checked address: libpq connects to those, and checks the server
        # certificate against the host name.
        params["host"] = ",".join([target.host] * len(target.hostaddr))
        params["hostaddr"] = ",".join(target.hostaddr)
    return params


def explain(exc: BaseException, target: PgTarget) -> HeadwaterError:
    """A Headwater error with an actionable message for a driver exception (password never included)."""
    text = _scrub(str(exc), target.password.get_secret_value())
    low = text.lower()
    where = f"{target.host}:{target.port}"
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "28P01" or "password authentication failed" in low or "no password supplied" in low:
        return ConfigError(f"Wrong user name or password for user {target.user!r} on {where}.")
    if sqlstate == "3D000" or ("database" in low and "does not exist" in low):
        return ConfigError(f"Database {target.database!r} does not exist on {where}.")
    if "role" in low and "does not exist" in low:
        return ConfigError(f"User {target.user!r} does not exist on {where}.")
    if "no pg_hba.conf entry" in low:
        if "no encryption" in low or "ssl off" in low:
            return ConfigError(
                f"The server {where} requires SSL for this user and database: set sslMode to Require, "
                "Verify Ca or Verify Full (EncryptionMethod=1 in a connection string)."
            )
        if "ssl encryption" in low or "ssl on" in low:
            return ConfigError(
                f"The server {where} accepts this user and database only without SSL: set sslMode to Prefer, "
                "Allow or Disable (EncryptionMethod=6 or 0 in a connection string), or ask its administrator "
                "to allow SSL (hostssl in pg_hba.conf)."
            )
        return ConfigError(
            f"The server {where} does not accept this user, database and client address (pg_hba.conf); "
            "ask its administrator to allow it."
        )
    if "server does not support ssl" in low:
        return ConfigError(
            f"The server {where} does not accept SSL connections: use sslMode Prefer, Allow or Disable "
            "(EncryptionMethod=0 or 6 in a connection string)."
        )
    if "does not match host name" in low or "hostname mismatch" in low:
        return ConfigError(
            f"The server certificate of {where} is not issued for host {target.host!r}: connect with the host "
            "name in the certificate, or use sslMode Verify Ca."
        )
    if any(
        marker in low
        for marker in (
            "certificate verify failed",
            "root certificate",
            "self-signed",
            "self signed",
            "issuer certificate",
        )
    ):
        if target.sslmode not in ("verify-ca", "verify-full"):
            # libpq verifies against a given root certificate even in require mode.
            return ConfigError(
                f"The server certificate of {where} is not signed by the CA certificate given (sslRootCert, or "
                "TrustStore in a connection string), which is checked whenever one is given: give the CA that "
                "signed it, or leave the CA out to encrypt without verifying."
            )
        return ConfigError(
            f"The server certificate of {where} is not trusted: give the CA certificate that signed it "
            "(sslRootCert, or TrustStore in a connection string), or use sslMode Require to encrypt without "
            "verifying."
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return ConfigError(f"The host name {target.host!r} cannot be resolved: check Server.")
    if sqlstate == "42501" or "permission denied" in low:
        return ConfigError(f"User {target.user!r} may not read this object: {text.strip()[:300]}")
    if any(
        marker in low
        for marker in (
            "connection refused",
            "timeout expired",
            "timed out",
            "no route to host",
            "network is unreachable",
        )
    ):
        return TransientError(
            f"PostgreSQL at {where} is unreachable (connection refused or timed out): check Server and Port, "
            "and that the server accepts TCP connections from Headwater."
        )
    if any(
        marker in low
        for marker in ("terminating connection", "closed the connection", "connection to server", "ssl syscall", "lost")
    ):
        return TransientError(f"The connection to PostgreSQL at {where} was lost: {text.strip()[:300]}")
    if (sqlstate and sqlstate[:2] in _USER_SQLSTATE_CLASSES) or (
        sqlstate is None and "error:" in low and not any(marker in low for marker in _TRANSIENT_SERVER_ERRORS)
    ):
        # The server refused the query itself (division by zero in a view, a materialized view never
        # refreshed, a bad cast…): retrying cannot help, the object or the flow must change.
        return ConfigError(f"PostgreSQL at {where} refused the read: {_server_error(text)}")
    return TransientError(f"PostgreSQL at {where} failed: {text.strip()[:300]}")


# SQLSTATE classes of errors only a change to the source object or the request fixes: data exceptions,
# integrity, syntax or access rule violations, objects in the wrong state, unsupported features.
_USER_SQLSTATE_CLASSES = frozenset({"0A", "21", "22", "23", "2B", "42", "44", "55"})
# Server errors worth a retry (ADBC's COPY errors carry no SQLSTATE, only the server's text).
_TRANSIENT_SERVER_ERRORS = (
    "canceling statement",
    "deadlock",
    "could not serialize",
    "out of memory",
    "too many connections",
    "could not resize shared memory",
    "no space left",
    "the database system is",
)
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
# Below this length a password is as likely to be ordinary text ("x" in "execute"): such a password is
# still scrubbed where a driver echoes it (a URI's user info, `password=` in a connection string).
_MIN_SCRUBBED_LENGTH = 4


def _scrub(text: str, secret: str) -> str:
    text = _URI_PASSWORD.sub(r"\1********@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1********", text)
    if len(secret) >= _MIN_SCRUBBED_LENGTH:
        # The ADBC URI carries the password percent-encoded: scrub both spellings.
        for spelling in {secret, quote(secret, safe="")}:
            text = text.replace(spelling, "********")
    return text


def _server_error(text: str) -> str:
    """The server's own `ERROR: …` (and HINT) from a driver message, without the driver's preamble."""
    start = text.find("ERROR:")
    core = text[start:] if start >= 0 else text
    core = core.split("Query was:", 1)[0]
    return " ".join(core.split())[:300]


@contextmanager
def catalog_connection(target: PgTarget) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection for catalog queries; driver errors become Headwater errors."""
    with _root_cert_file(target) as root_cert:
        try:
            conn = psycopg.connect(password=target.password.get_secret_value(), **_params(target, root_cert))
        except psycopg.Error as exc:
            raise explain(exc, target) from None
        try:
            yield conn
        except psycopg.Error as exc:
            raise explain(exc, target) from None
        finally:
            conn.close()


def adbc_uri(target: PgTarget, root_cert: str | None) -> str:
    """A libpq URI; every value is percent-encoded, so none can add a parameter or change the host."""
    params = _params(target, root_cert)
    query = {k: str(v) for k, v in params.items() if k not in ("dbname", "user")}
    return (
        f"postgresql://{quote(target.user, safe='')}:{quote(target.password.get_secret_value(), safe='')}"
        f"@/{quote(target.database, safe='')}?{urlencode(query)}"
    )


# Text-decoded types (tstzrange, timetz arrays…) and naive window bounds on timestamptz columns
# depend on the session's settings, which the server, database or role may set to anything: pin
# them with one query (not a startup `options` parameter, which pgbouncer refuses).
_PIN_SESSION = (
    "SELECT pg_catalog.set_config('TimeZone', 'UTC', false), pg_catalog.set_config('DateStyle', 'ISO, YMD', false),"
    " pg_catalog.set_config('IntervalStyle', 'postgres', false)"
)


def _pin_session(conn: Any) -> None:
    cursor = conn.cursor()
    try:
        cursor.execute(_PIN_SESSION)
        cursor.fetchall()
    finally:
        cursor.close()


@contextmanager
def adbc_connection(target: PgTarget) -> Iterator[Any]:
    """An ADBC connection for COPY BINARY reads; driver errors become Headwater errors."""
    with _root_cert_file(target) as root_cert:
        try:
            conn = adbc_pg.connect(adbc_uri(target, root_cert))
        except adbc_errors.Error as exc:  # the ADBC driver manager raises its own DB-API hierarchy
            raise explain(exc, target) from None
        try:
            _pin_session(conn)
        except adbc_errors.Error as exc:
            with contextlib.suppress(Exception):
                conn.close()
            raise explain(exc, target) from None
        try:
            yield conn
        finally:
            # Closing a broken connection must not mask the real error.
            with contextlib.suppress(Exception):
                conn.close()
