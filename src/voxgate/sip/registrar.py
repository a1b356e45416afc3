"""A registrar's location table (RFC 3261 §10.3): contacts bound to addresses of record.

The address of record is the user part of the REGISTER's To URI (an extension number).
Each binding keeps the Contact URI, the address and transport the REGISTER came from
(where requests for the extension go: that address is the one a NAT keeps open), and
its expiry. ``parse_register`` reads what a REGISTER asks for; ``LocationTable.update``
applies it all or nothing; ``register_ok`` builds the 200 listing the live bindings.

No I/O and no clock reads: every call that depends on time takes ``now`` (seconds on
any monotonic clock). Expired bindings are dropped whenever their address of record is
looked up or updated, and by ``purge``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import SipRequest, SipResponse, generate_tag, make_response
from voxgate.sip.uri import NameAddr, SipURI

Addr = tuple[str, int]

MIN_EXPIRES = 60
MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600
MAX_BINDINGS = 10  # per address of record; the least recently refreshed go first


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    """Requested intervals are clamped into ``[minimum, maximum]``; 0 still removes."""

    minimum: int = MIN_EXPIRES
    maximum: int = MAX_EXPIRES
    default: int = DEFAULT_EXPIRES

    def clamp(self, requested: int) -> int:
        if requested <= 0:
            return 0
        return max(self.minimum, min(self.maximum, requested))


@dataclass(frozen=True, slots=True)
class ContactChange:
    """One Contact of a REGISTER with the interval granted to it (0: remove)."""

    uri: SipURI
    expires: int


@dataclass(frozen=True, slots=True)
class Registration:
    """What a REGISTER asks for. ``wildcard``: ``Contact: *`` with ``Expires: 0``."""

    aor: str
    call_id: str
    cseq: int
    contacts: tuple[ContactChange, ...] = ()
    wildcard: bool = False

    @property
    def is_query(self) -> bool:
        """No Contact at all: the client only asks for its current bindings."""
        return not self.contacts and not self.wildcard


@dataclass(frozen=True, slots=True)
class Binding:
    aor: str
    contact: SipURI
    source: Addr  # where the REGISTER came from: requests for the AOR go there
    transport: str  # "UDP" or "TCP", the transport the REGISTER came over
    expires_at: float
    updated_at: float
    call_id: str
    cseq: int

    def remaining(self, now: float) -> int:
        """Whole seconds left (rounded up, ignoring float noise: a binding granted 60 s
        has 60 left at once, not 61), 0 once expired."""
        return max(0, math.ceil(self.expires_at - now - 1e-6))

    def alive(self, now: float) -> bool:
        return self.expires_at > now


def _delta_seconds(value: str | None) -> int | None:
    """A delta-seconds value; None when absent or malformed (RFC 3261 §20.19: a
    malformed value counts as the default)."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        return None
    return int(value[:10])


def parse_register(request: SipRequest, policy: ExpiryPolicy | None = None) -> Registration:
    """Read a REGISTER; raises ``RemoteProtocolError`` (400) for what cannot be applied."""
    policy = policy or ExpiryPolicy()
    if request.method != "REGISTER":
        raise RemoteProtocolError("not a REGISTER", 400)
    to = request.to.uri
    if not isinstance(to, SipURI) or not to.user:
        raise RemoteProtocolError("To must be a SIP URI with a user part", 400)
    header_expires = _delta_seconds(request.headers.get("expires"))
    values = request.headers.get_list("contact")
    if "*" in values:
        if len(values) != 1 or header_expires != 0:
            raise RemoteProtocolError("Contact: * needs Expires: 0 and no other Contact", 400)
        return Registration(to.user, request.call_id, request.cseq.number, wildcard=True)
    changes: list[ContactChange] = []
    for contact in request.contact:
        if not isinstance(contact.uri, SipURI):
            raise RemoteProtocolError("only SIP contacts can be registered", 400)
        requested = _delta_seconds(contact.params.get("expires"))
        if requested is None:
            requested = header_expires if header_expires is not None else policy.default
        changes.append(ContactChange(contact.uri, policy.clamp(requested)))
    return Registration(to.user, request.call_id, request.cseq.number, tuple(changes))


class LocationTable:
    """Bindings per address of record, with a reverse index of source addresses."""

    def __init__(self, *, max_bindings: int = MAX_BINDINGS) -> None:
        self.max_bindings = max_bindings
        self._bindings: dict[str, list[Binding]] = {}
        self._sources: dict[Addr, set[str]] = {}

    def __repr__(self) -> str:
        return f"<LocationTable aors={len(self._bindings)} bindings={len(self)}>"

    def __len__(self) -> int:
        return sum(len(b) for b in self._bindings.values())

    def __contains__(self, aor: object) -> bool:
        return aor in self._bindings

    # -- reading ------------------------------------------------------------------------
    def lookup(self, aor: str, now: float) -> list[Binding]:
        """The live bindings of ``aor``, most recently refreshed first."""
        self._prune(aor, now)
        return sorted(self._bindings.get(aor, ()), key=lambda b: b.updated_at, reverse=True)

    def is_source(self, addr: Addr, now: float) -> bool:
        """Whether a live binding was registered from ``addr`` (host, port)."""
        for aor in list(self._sources.get(addr, ())):
            if any(b.source == addr for b in self.lookup(aor, now)):
                return True
        return False

    # -- writing ------------------------------------------------------------------------
    def update(
        self, registration: Registration, *, source: Addr, transport: str, now: float
    ) -> list[Binding]:
        """Apply a REGISTER all or nothing (§10.3 step 7); returns the live bindings.

        A REGISTER with the Call-ID of an existing binding and a CSeq not above it is
        out of order: ``RemoteProtocolError`` (400) and nothing changes.
        """
        aor = registration.aor
        current = self.lookup(aor, now)
        if registration.is_query:
            return current
        if registration.wildcard:
            for binding in current:
                self._check_order(binding, registration)
            self._store(aor, [])
            return []
        old, fresh = list(current), list[Binding]()
        for change in registration.contacts:
            existing = next((b for b in old if b.contact == change.uri), None)
            if existing is not None:
                self._check_order(existing, registration)
                old = [b for b in old if b is not existing]
            fresh = [b for b in fresh if b.contact != change.uri]  # the same contact twice
            if change.expires:
                fresh.append(
                    Binding(
                        aor=aor,
                        contact=change.uri,
                        source=source,
                        transport=transport,
                        expires_at=now + change.expires,
                        updated_at=now,
                        call_id=registration.call_id,
                        cseq=registration.cseq,
                    )
                )
        kept = fresh[::-1] + old  # newest first; the oldest are dropped past the limit
        self._store(aor, kept[: self.max_bindings])
        return self.lookup(aor, now)

    def remove(self, aor: str) -> None:
        self._store(aor, [])

    def purge(self, now: float) -> int:
        """Drop every expired binding; returns how many went."""
        before = len(self)
        for aor in list(self._bindings):
            self._prune(aor, now)
        return before - len(self)

    @staticmethod
    def _check_order(binding: Binding, registration: Registration) -> None:
        if binding.call_id == registration.call_id and registration.cseq <= binding.cseq:
            raise RemoteProtocolError("REGISTER out of order (CSeq not above the last)", 400)

    def _prune(self, aor: str, now: float) -> None:
        bindings = self._bindings.get(aor)
        if bindings is not None and any(not b.alive(now) for b in bindings):
            self._store(aor, [b for b in bindings if b.alive(now)])

    def _store(self, aor: str, bindings: list[Binding]) -> None:
        for binding in self._bindings.get(aor, ()):
            owners = self._sources.get(binding.source)
            if owners is not None:
                owners.discard(aor)
                if not owners:
                    del self._sources[binding.source]
        if bindings:
            self._bindings[aor] = bindings
            for binding in bindings:
                self._sources.setdefault(binding.source, set()).add(aor)
        else:
            self._bindings.pop(aor, None)


def register_ok(request: SipRequest, bindings: list[Binding], now: float) -> SipResponse:
    """The 200 to a REGISTER: every live binding as a Contact with its ``expires``."""
    contacts = [
        ("Contact", str(NameAddr(b.contact, params={"expires": str(b.remaining(now))})))
        for b in bindings
    ]
    return make_response(request, 200, to_tag=generate_tag(), headers=contacts)
