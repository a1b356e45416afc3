"""What a request needs to know about its tenant, loaded once and cached briefly."""

from __future__ import annotations

from dataclasses import dataclass

from voxgate.store.tenants import Tenant


@dataclass(frozen=True, slots=True)
class TenantProfile:
    tenant: Tenant
    access_codes: frozenset[str]
    trusted_numbers: frozenset[str]
    trusted_hosts: frozenset[str]
    softphone_ranges: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return self.tenant.id

    def in_softphone_range(self, number: str) -> bool:
        if not number.isdigit():
            return False
        for first, last in self.softphone_ranges:
            if len(number) == len(first) and int(first) <= int(number) <= int(last):
                return True
        return False

    def host_trusted(self, host: str, port: int | None) -> bool:
        """A trusted entry is ``host`` (any port) or ``host:port``."""
        host = host.lower()
        if host in self.trusted_hosts:
            return True
        return port is not None and f"{host}:{port}" in self.trusted_hosts

    @property
    def default_access_code(self) -> str | None:
        return min(self.access_codes) if self.access_codes else None
