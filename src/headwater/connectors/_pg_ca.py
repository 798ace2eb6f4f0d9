"""The CA certificate a tenant gives to verify a PostgreSQL server: PEM text, or a file the operator provides.

A request carries the CA as PEM text (`sslRootCert`, or `TrustStore={-----BEGIN CERTIFICATE-----…}` in a
connection string). A file path is honoured only inside the directory the operator configures
(HEADWATER_TRUSTSTORE_DIR): a path anywhere else would let a tenant make the server read its own
files (key files, /etc/shadow, /dev/zero), and differing answers would reveal which files exist.
Messages never quote the text or the path given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from headwater.errors import InvalidAuth

MAX_CA_BYTES = 1024 * 1024
PEM_MARKER = "-----BEGIN"

# One message for every path that is not a CA file of the operator's directory, whether it
# exists or not, so that the answers reveal nothing about the server's files.
NO_SUCH_CA_FILE = (
    "Connection string TrustStore names no CA file of this server's trust store directory "
    "(HEADWATER_TRUSTSTORE_DIR); give the CA certificate itself as PEM text instead."
)
PATHS_NOT_ALLOWED = (
    "Connection string TrustStore must be the CA certificate itself, as PEM text in braces "
    "(TrustStore={-----BEGIN CERTIFICATE-----…}), or given as sslRootCert: this server reads no CA file "
    "named in a request (its operator has not set HEADWATER_TRUSTSTORE_DIR)."
)


def is_pem(value: str) -> bool:
    return value.lstrip().startswith(PEM_MARKER)


def validated_ca(text: str, label: str) -> str:
    """The X.509 certificates of `text`, re-encoded as PEM (anything else in the text is dropped)."""
    if len(text) > MAX_CA_BYTES:
        raise InvalidAuth(f"{label} is larger than 1 MiB; give only the CA certificate(s).")
    invalid = InvalidAuth(
        f"{label} is not a PEM X.509 certificate: give the CA certificate text, starting with "
        "-----BEGIN CERTIFICATE-----."
    )
    try:
        certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
    except (UnicodeEncodeError, ValueError, UnsupportedAlgorithm):
        raise invalid from None
    return "".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in certificates)


def read_trust_store_file(directory: Path | None, name: str) -> str:
    """The PEM text of a regular file inside `directory`, read with a size bound; refuses anything else."""
    if directory is None:
        raise InvalidAuth(PATHS_NOT_ALLOWED)
    not_found = InvalidAuth(NO_SUCH_CA_FILE)
    try:
        root = directory.resolve(strict=True)
        # An absolute `name` replaces the root here; resolving follows every symlink, so the
        # containment check below sees where the file really is.
        path = (root / name).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise not_found from None
    if path == root or not path.is_relative_to(root):
        raise not_found
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is not followed; O_NONBLOCK: a FIFO
        # cannot hang the request (it is refused as not a regular file just after).
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise not_found from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise not_found
        data = b""
        while len(data) <= MAX_CA_BYTES:
            chunk = os.read(fd, MAX_CA_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        raise not_found from None
    finally:
        os.close(fd)
    if len(data) > MAX_CA_BYTES:
        raise InvalidAuth("The TrustStore file is larger than 1 MiB.")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidAuth("The TrustStore file is not a PEM X.509 certificate.") from None
