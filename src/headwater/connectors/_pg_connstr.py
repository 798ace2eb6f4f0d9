"""The ODBC-style connection string of Adobe's PostgreSQL spec, parsed into a PgTarget.

`Server=…;Database=…;Port=…;UID=…;Password=…[;EncryptionMethod=0|1|6][;ValidateServerCertificate=0|1]
[;TrustStore={PEM}]`: EncryptionMethod=0 -> disable; 6 (RequestSSL) -> prefer; 1 (SSL) -> require,
or verify-full when ValidateServerCertificate=1. Absent -> prefer.
"""

from __future__ import annotations

from pydantic import SecretStr

from headwater.connectors._pg_ca import is_pem, read_trust_store_file, validated_ca
from headwater.connectors._pg_target import EMPTY_PASSWORD, NO_NUL, PgTarget, parse_port
from headwater.connectors._source_policy import HOST_RULE, SourcePolicy, valid_host
from headwater.errors import InvalidAuth

# Keys of the ODBC-style connection string, case-insensitive, with the aliases DataDirect accepts.
_KEYS = {
    "server": "host",
    "host": "host",
    "hostname": "host",
    "database": "database",
    "databasename": "database",
    "db": "database",
    "port": "port",
    "portnumber": "port",
    "uid": "user",
    "user": "user",
    "userid": "user",
    "user id": "user",
    "username": "user",
    "password": "password",
    "pwd": "password",
    "encryptionmethod": "encryption",
    "validateservercertificate": "validate",
    "validationservercertificate": "validate",  # a typo in Adobe's own table, accepted
    "truststore": "truststore",
}


# The label each canonical key is named by in messages: never the key as written, which may be
# text of the string (a password whose `=` went missing: `Password MySecret;Port=5432`).
_LABELS = {
    "host": "Server",
    "database": "Database",
    "port": "Port",
    "user": "UID",
    "password": "Password",
    "encryption": "EncryptionMethod",
    "validate": "ValidateServerCertificate",
    "truststore": "TrustStore",
}
_ALLOWED = "Allowed keys: " + ", ".join(_LABELS.values()) + "."


def _bad(message: str) -> InvalidAuth:
    return InvalidAuth(f"Connection string {message}")


def _split_pairs(text: str) -> list[tuple[int, str | None, str]]:
    """Split `k=v;k={v;with;semicolons}` ODBC-style into (item number, canonical key, value).

    `}}` escapes a brace inside braces. Errors name an item by its number and a key by its label
    from `_LABELS`: they never quote the string, which holds a password.
    """
    pairs: list[tuple[int, str | None, str]] = []
    i, n, item = 0, len(text), 0
    while i < n:
        while i < n and text[i] in "; \t\r\n":
            i += 1
        if i >= n:
            break
        item += 1
        eq, semi = text.find("=", i), text.find(";", i)
        if eq < 0 or (0 <= semi < eq):
            raise _bad(f"is malformed: item {item} is not key=value.")
        key = _KEYS.get(text[i:eq].strip().lower())
        if not text[i:eq].strip():
            raise _bad(f"is malformed: item {item} has no key before '='.")
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == "{":
            i += 1
            value_chars: list[str] = []
            while True:
                if i >= n:
                    what = _LABELS[key] if key else f"item {item}"
                    raise _bad(f"has an unterminated '{{' in the value of {what}.")
                if text[i] == "}":
                    if i + 1 < n and text[i + 1] == "}":
                        value_chars.append("}")
                        i += 2
                        continue
                    i += 1
                    break
                value_chars.append(text[i])
                i += 1
            value = "".join(value_chars)
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i < n and text[i] != ";":
                what = _LABELS[key] if key else f"item {item}"
                raise _bad(f"is malformed: the value of {what} has text after its closing '}}'.")
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        pairs.append((item, key, value))
    return pairs


def parse_connection_string(text: str, policy: SourcePolicy | None = None, *, root_cert: str | None = None) -> PgTarget:
    """Parse `Server=…;Database=…;Port=…;UID=…;Password=…[;EncryptionMethod=…]` into a PgTarget.

    `root_cert` is the auth's separate sslRootCert field, if any. Errors name keys and item
    numbers, never text of the string: it holds a password.
    """
    found: dict[str, str] = {}
    for item, key, value in _split_pairs(text):
        if key is None:
            raise _bad(f"item {item} has a key that is not allowed. {_ALLOWED}")
        if key in found:
            raise _bad(f"repeats the key {_LABELS[key]} (item {item}).")
        found[key] = value
    for required in ("host", "database", "user"):
        if not found.get(required):
            raise _bad(f"is missing {_LABELS[required]}.")
    if "password" not in found:
        raise _bad("is missing Password.")
    if not found["password"]:
        raise _bad(f"Password {EMPTY_PASSWORD}.")
    for key in ("database", "user", "password"):
        if "\x00" in found[key]:
            raise _bad(f"{_LABELS[key]} {NO_NUL}.")
    try:
        host = valid_host(found["host"])
    except ValueError:
        raise _bad(f"Server must be {HOST_RULE}.") from None
    try:
        port = parse_port(found.get("port", "5432"))
    except ValueError:
        raise _bad("Port must be a number between 1 and 65535.") from None
    encryption = found.get("encryption", "").strip()
    validate = found.get("validate", "").strip()
    if encryption not in ("", "0", "1", "6"):
        raise _bad("EncryptionMethod must be 0, 1 or 6.")
    if validate not in ("", "0", "1"):
        raise _bad("ValidateServerCertificate must be 0 or 1.")
    if encryption == "0":
        sslmode = "disable"
    elif encryption == "6":
        sslmode = "prefer"
    elif encryption == "1":
        sslmode = "verify-full" if validate == "1" else "require"
    else:
        sslmode = "verify-full" if validate == "1" else "prefer"
    return PgTarget(
        host=host,
        port=port,
        database=found["database"],
        user=found["user"],
        password=SecretStr(found["password"]),
        sslmode=sslmode,
        sslrootcert=_root_cert(found.get("truststore", "").strip(), root_cert, policy),
    )


def _root_cert(trust_store: str, root_cert: str | None, policy: SourcePolicy | None) -> str | None:
    """The CA's PEM from TrustStore (PEM text, or a file of the operator's directory) or sslRootCert."""
    if trust_store and root_cert:
        raise _bad("and sslRootCert both give a CA certificate: give it once.")
    if root_cert:
        return validated_ca(root_cert, "sslRootCert")
    if not trust_store:
        return None
    if is_pem(trust_store):
        return validated_ca(trust_store, "Connection string TrustStore")
    directory = policy.truststore_dir if policy is not None else None
    return validated_ca(read_trust_store_file(directory, trust_store), "The TrustStore file")
