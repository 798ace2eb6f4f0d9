"""Identity: API clients, secret hashes, JWT access tokens and the token endpoint's failure limiter."""

from headwater.identity._hashing import hash_secret, pbkdf2_hash, verify_secret
from headwater.identity._issuer import ClientInfo, IssuedCredentials, Principal, TokenIssuer
from headwater.identity._limits import FailureLimiter

__all__ = [
    "ClientInfo",
    "FailureLimiter",
    "IssuedCredentials",
    "Principal",
    "TokenIssuer",
    "hash_secret",
    "pbkdf2_hash",
    "verify_secret",
]
