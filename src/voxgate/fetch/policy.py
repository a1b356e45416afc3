"""Which destinations an audio URL may reach.

Only globally routable unicast addresses are allowed by default: loopback, private
(10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10, incl. cloud metadata),
unique-local (fc00::/7), shared (100.64/10), multicast, reserved and unspecified
addresses are refused. IPv4-mapped IPv6 addresses are judged as the IPv4 they carry.
A tenant may allow-list networks (``"10.1.2.0/24"``) or host names (``"media.local"``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from voxgate.fetch.errors import BlockedDestination

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _unmap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    ip = _unmap(ip)
    return ip.is_global and not ip.is_multicast


class AddressPolicy:
    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.networks: list[IPNetwork] = []
        self.hosts: set[str] = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hosts.add(entry.strip().lower().rstrip("."))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def ip_allowed(self, ip: IPAddress) -> bool:
        ip = _unmap(ip)
        if is_public(ip):
            return True
        return any(ip.version == net.version and ip in net for net in self.networks)

    def check(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Raise :class:`BlockedDestination` unless every address of ``host`` may be used."""
        if self.host_allowed(host):
            return
        for ip in addresses:
            if not self.ip_allowed(ip):
                raise BlockedDestination(
                    f"{host} resolves to {ip}, which is not a public address", host=host
                )

    def __repr__(self) -> str:
        allowed = [str(n) for n in self.networks] + sorted(self.hosts)
        return f"<AddressPolicy allow={allowed}>"
