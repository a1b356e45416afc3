"""Events the transaction layer hands to its user (the engine's transaction user)."""

from __future__ import annotations

from dataclasses import dataclass

from voxgate.sip.message import SipRequest, SipResponse


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A client transaction passes a response up (provisional or final)."""

    response: SipResponse

    def __repr__(self) -> str:
        r = self.response
        return f"ResponseReceived({r.status} {r.reason!r})"


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An INVITE server transaction saw the ACK for its 2xx."""

    ack: SipRequest

    def __repr__(self) -> str:
        return f"AckReceived(cseq={self.ack.headers.get('cseq')!r})"


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """A timer gave up: B/F (no final response; treat as 408), H/L (no ACK)."""

    timer: str

    @property
    def status(self) -> int:
        return 408


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The engine reported that a message could not be sent (treat as 503)."""

    @property
    def status(self) -> int:
        return 503


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction is over; the engine may forget it."""

    state_before: str


Event = (
    ResponseReceived | AckReceived | TransactionTimeout | TransportFailed | (TransactionTerminated)
)
