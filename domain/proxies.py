"""Which reverse proxies to believe: the `TRUSTED_PROXIES` setting and the rule that reads
`X-Forwarded-For`, `-Proto` and `-Host` only from them.

Two forms, as werkzeug's ProxyFix and most servers offer:
* a number N of proxy hops in front of every worker (the app is reachable only through
  them): the client is the N-th address from the right of X-Forwarded-For, and the scheme and
  host the N-th value from the right of theirs;
* a list of addresses and networks (`10.0.0.1,10.1.0.0/16`): forwarded headers count only
  when the connection comes from one of them; X-Forwarded-For is read from the right,
  skipping trusted addresses, and the first address not trusted is the client.
Empty (the default): no proxy is trusted and forwarded headers are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


@dataclass(frozen=True)
class ProxyTrust:
    hops: int = 0
    networks: tuple[Network, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.hops or self.networks)

    def trusts(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)


@dataclass(frozen=True)
class Forwarded:
    """What the request looks like on the client's side of the trusted proxies (None: as
    the connection says)."""

    client: str | None = None
    scheme: str | None = None
    host: str | None = None


def parse_trusted_proxies(raw: str) -> ProxyTrust:
    raw = raw.strip()
    if not raw:
        return ProxyTrust()
    if raw.isascii() and raw.isdigit():
        return ProxyTrust(hops=int(raw))
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return ProxyTrust(networks=tuple(networks))


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _values(headers: Sequence[str]) -> list[str]:
    """Every comma-separated value of a header that may be sent several times, in order."""
    return [v.strip() for header in headers for v in header.split(",") if v.strip()]


def resolve(
    trust: ProxyTrust,
    peer: str | None,
    forwarded_for: Sequence[str],
    forwarded_proto: Sequence[str],
    forwarded_host: Sequence[str],
) -> Forwarded:
    """The client address, scheme and host behind the trusted proxies, or nothing to
    change when the connection does not come from one."""
    if not trust.enabled:
        return Forwarded()
    chain = _values(forwarded_for)
    if trust.hops:
        hops = trust.hops
        if len(chain) < hops:
            return Forwarded()
        client = chain[-hops]
    else:
        if peer is None or not trust.trusts(peer):
            return Forwarded()
        hops, client = 0, None
        for address in reversed(chain):
            hops += 1
            client = address
            if not trust.trusts(address):
                break
        hops = max(hops, 1)  # a trusted proxy that names no client may still name the scheme
    client_ip = _ip(client) if client is not None else None
    protos = _values(forwarded_proto)
    hosts = _values(forwarded_host)
    scheme = protos[-hops].lower() if len(protos) >= hops else None
    host = hosts[-hops] if len(hosts) >= hops else None
    return Forwarded(
        client=str(client_ip) if client_ip is not None else None,
        scheme=scheme if scheme in ("http", "https") else None,
        host=host if host and HOST_RE.match(host) else None,
    )
