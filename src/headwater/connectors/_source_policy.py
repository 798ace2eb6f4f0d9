"""Which source addresses tenant connections may reach: strict host syntax and the operator's deny list.

HEADWATER_SOURCE_DENY lists hosts, CIDRs and ports (`db.internal`, `10.0.0.0/8`, `:5433`,
`10.1.2.3:5432`, `[::1]:5432`). The metadata database's own endpoint is always added: it holds
every tenant's records, so no tenant may ever connect to it.

A host is resolved once per operation and refused if ANY of its addresses is denied; the
connection then goes to exactly the addresses checked (libpq `hostaddr`, `host` kept for the TLS
name check), so a DNS answer that changes between check and connect gains nothing. A denied
loopback address denies the whole loopback range and the unspecified addresses (0.0.0.0 and ::
reach the local machine too) on its port, and so does any other address of this machine.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from headwater.errors import ConfigError

if TYPE_CHECKING:
    from headwater.settings import Settings

log = logging.getLogger("headwater.connectors.policy")

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# The key under which connectors pass their policy to auth models (pydantic validation context).
CONTEXT_KEY = "headwater.source_policy"
DEFAULT_PG_PORT = 5432
LOOPBACK: tuple[Network, ...] = (
    ip_network("127.0.0.0/8"),
    ip_network("::1/128"),
    ip_network("0.0.0.0/32"),
    ip_network("::/128"),
)
# Underscores are not DNS host syntax, but container and service names (`my_db` in Compose) use them.
_LABEL = r"[A-Za-z0-9_-]{1,63}"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
HOST_RULE = (
    "a host name (letters, digits, hyphens, underscores and dots) or an IPv4/IPv6 address; socket paths, host lists, "
    "ports, spaces and URL characters are not accepted"
)


def valid_host(value: str) -> str:
    """`value` if it is a DNS name or an IP literal; ValueError (which never quotes it) otherwise."""
    if len(value) <= 253 and _DNS_NAME.fullmatch(value):
        return value
    try:
        address = ip_address(value)
    except ValueError:
        raise ValueError(f"the host must be {HOST_RULE}") from None
    if isinstance(address, IPv6Address) and address.scope_id:
        raise ValueError(f"the host must be {HOST_RULE}")
    return value


def _normal(address: Address) -> Address:
    """IPv4-mapped IPv6 (::ffff:10.0.0.1) is the IPv4 address it maps."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normal_network(network: Network) -> Network:
    if isinstance(network, IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


def _with_loopback(networks: Iterable[Network]) -> tuple[Network, ...]:
    found = tuple(_normal_network(n) for n in networks)
    if any(n.version == lo.version and n.subnet_of(lo) for n in found for lo in LOOPBACK):  # type: ignore[arg-type]
        found += LOOPBACK
    return found


def is_this_host(address: Address) -> bool:
    """Whether `address` is one of this machine's own (a socket can be bound to it)."""
    family = socket.AF_INET6 if isinstance(address, IPv6Address) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def resolve(host: str, port: int) -> tuple[Address, ...]:
    """The host's TCP addresses in the resolver's order, without duplicates; OSError if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[Address] = []
    for info in infos:
        address = _normal(ip_address(str(info[4][0])))
        if address not in found:
            found.append(address)
    if not found:
        raise OSError("no address")
    return tuple(found)


@dataclass(frozen=True)
class DenyRule:
    """One refused endpoint: addresses and/or a host name, on one port or (None) on every port."""

    networks: tuple[Network, ...] = ()
    name: str | None = None  # also refused at whatever addresses it resolves to when checked
    port: int | None = None

    def networks_now(self) -> tuple[Network, ...]:
        if self.name is None:
            return self.networks
        try:
            resolved = resolve(self.name, self.port or DEFAULT_PG_PORT)
        except (OSError, UnicodeError):
            return self.networks
        return self.networks + _with_loopback(ip_network(a) for a in resolved)

    def denies(self, host: str, addresses: tuple[Address, ...], port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if not self.networks and self.name is None:
            return True  # a port alone: every host
        if self.name is not None and host.lower() == self.name:
            return True
        networks = self.networks_now()
        if any(a in n for a in addresses for n in networks):
            return True
        # A local endpoint may also listen on this machine's other addresses (listen_addresses = '*').
        return LOOPBACK[0] in networks and any(is_this_host(a) for a in addresses)


def _port(text: str, entry: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"HEADWATER_SOURCE_DENY entry {entry!r} has an invalid port")
    return int(text)


def _host_rule(host: str, port: int | None, entry: str) -> DenyRule:
    try:
        return DenyRule(networks=_with_loopback([ip_network(host, strict=False)]), port=port)
    except ValueError:
        pass
    if host.lower() == "localhost":
        return DenyRule(networks=LOOPBACK, name="localhost", port=port)
    try:
        valid_host(host)
    except ValueError:
        raise ValueError(
            f"HEADWATER_SOURCE_DENY entry {entry!r} is not a host name, IP address, CIDR or :port"
        ) from None
    return DenyRule(name=host.lower(), port=port)


def parse_entry(entry: str) -> DenyRule:
    """`host`, `10.0.0.0/8`, `:5433`, `host:5432`, `10.1.2.3:5432`, `::1`, `[::1]` or `[::1]:5432`."""
    if entry.startswith(":") and entry[1:].isdigit():
        return DenyRule(port=_port(entry[1:], entry))
    if entry.startswith("["):
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"HEADWATER_SOURCE_DENY entry {entry!r} is not [IPv6] or [IPv6]:port")
        return _host_rule(inside, _port(rest[1:], entry) if rest else None, entry)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return _host_rule(host, _port(port, entry), entry)
    return _host_rule(entry, None, entry)


def parse_deny_list(text: str | None) -> tuple[DenyRule, ...]:
    return tuple(parse_entry(part.strip()) for part in (text or "").split(",") if part.strip())


def metadata_rule(database_url: str) -> DenyRule | None:
    """The endpoint of a PostgreSQL metadata database (a socket path or localhost counts as loopback)."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        return None
    if not url.get_backend_name().startswith("postgres"):
        return None
    port = url.port or DEFAULT_PG_PORT
    query_host = url.query.get("host")
    host = url.host or (query_host if isinstance(query_host, str) else None)
    host = (host or "").strip("[]")
    if not host or host.startswith("/") or host.lower() == "localhost":
        return DenyRule(networks=LOOPBACK, port=port)
    try:
        return DenyRule(networks=_with_loopback([ip_network(host)]), port=port)
    except ValueError:
        # Whatever name the operator's resolver accepts: refused by name and by its addresses.
        return DenyRule(name=host.lower(), port=port)


class SourcePolicy:
    """The operator's limits on what a tenant connection may reach or make the server read."""

    def __init__(self, rules: tuple[DenyRule, ...] = (), truststore_dir: Path | None = None) -> None:
        self.rules = rules
        self.truststore_dir = truststore_dir

    @classmethod
    def from_settings(cls, settings: Settings | None) -> SourcePolicy:
        if settings is None:
            return cls()
        rules = parse_deny_list(settings.source_deny)
        own = metadata_rule(settings.resolved_database_url)
        return cls(rules + ((own,) if own else ()), settings.truststore_dir)

    def check(self, host: str, port: int) -> None:
        """Refuse a denied endpoint when a connection is saved; a name that does not resolve yet passes
        (every connect checks again, and fails then if it still does not resolve)."""
        if not self.rules:
            return
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            addresses = ()
        self._refuse_denied(host, addresses, port)

    def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """The addresses to connect to, each checked; ConfigError if unresolvable or denied."""
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise ConfigError(f"The host name {host!r} cannot be resolved: check Server.") from None
        self._refuse_denied(host, addresses, port)
        return tuple(str(a) for a in addresses)

    def _refuse_denied(self, host: str, addresses: tuple[Address, ...], port: int) -> None:
        if any(rule.denies(host, addresses, port) for rule in self.rules):
            log.warning("refused a source connection to %s:%s (source deny list)", host, port)
            raise ConfigError(
                f"Connections to {host}:{port} are refused by this Headwater server's source policy: "
                "use another source, or ask the server's operator."
            )


NO_POLICY = SourcePolicy()


def policy_in(context: Mapping[str, Any] | None) -> SourcePolicy:
    """The policy a connector passed in a pydantic validation context, or none (nothing denied, no files)."""
    found = (context or {}).get(CONTEXT_KEY)
    return found if isinstance(found, SourcePolicy) else NO_POLICY
