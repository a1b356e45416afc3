"""Call events: what happened to a call, recorded in the call's own transaction.

The call flows describe each state change as a :class:`CallEvent` and hand it to
:func:`record_event` inside the transaction that changes the call row. The event is appended to
``call_events`` with the call's next sequence number, and the :class:`EventSink` (the webhook
outbox, wired by the composition root) turns it into deliveries in the call's callback format
in that same transaction. Nothing is sent from here: a crash after commit loses nothing.

Event types and the data each carries (everything else is read from the call row):

=================  ===============================================================
``call.queued``     accepted, waiting to be dialled
``call.ringing``    the called party is alerting (first leg)
``call.answered``   the called party answered (first leg)
``call.dtmf``       ``{"digits": "1"}``: keys the called party pressed
``call.completed``  the call ended after it was answered
``call.failed``     the call ended without being answered
``leg.ringing``     ``{"leg": "a"|"b", "number": ..., "extension": ..., "uuid": ...}``
``leg.answered``    same data; leg ``a`` is dialled first, ``b`` is bridged to it
``leg.hangup``      same data
=================  ===============================================================

Before ``call.completed``/``call.failed`` the flow sets the call row's outcome: ``ended_at``,
``sip_status`` and/or ``q850_cause``, ``hangup_side`` (``caller`` | ``callee`` | ``system``)
and ``result`` (optional keys ``record_file``, ``record_url``, ``location_id``,
``release_reason`` to override the derived Huawei code, ``billing``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store import webhooks as store

CALL_EVENTS = frozenset(
    {
        "call.queued",
        "call.ringing",
        "call.answered",
        "call.dtmf",
        "call.completed",
        "call.failed",
    }
)
LEG_EVENTS = frozenset({"leg.ringing", "leg.answered", "leg.hangup"})
EVENT_TYPES = CALL_EVENTS | LEG_EVENTS

_EVENT_NS = uuid.UUID("6f1c8e2a-4b7d-4d0e-9a51-2f3c7b9d0e11")


def event_id(call_id: str, seq: int) -> str:
    """The stable id of a call's ``seq``-th event: the same on every redelivery."""
    return uuid.uuid5(_EVENT_NS, f"{call_id}:{seq}").hex


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened to a call, at wall-clock time ``at``."""

    type: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown call event type {self.type!r}")


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A call event as stored: with its per-call sequence number and id."""

    call_id: str
    seq: int
    type: str
    at: float
    data: Mapping[str, Any]

    @property
    def id(self) -> str:
        return event_id(self.call_id, self.seq)

    def __repr__(self) -> str:
        return f"<RecordedEvent {self.call_id[:8]}#{self.seq} {self.type}>"


class EventSink(Protocol):
    """Receives each recorded event inside the transaction that recorded it."""

    async def enqueue(
        self, conn: AsyncConnection, call: Mapping[str, Any], event: RecordedEvent
    ) -> int:
        """Write what the event causes (deliveries); return how many rows were written."""
        ...


async def record_event(
    conn: AsyncConnection,
    call: Mapping[str, Any],
    event: CallEvent,
    *,
    sink: EventSink | None,
) -> RecordedEvent:
    """Append ``event`` to the call's history and let ``sink`` enqueue its deliveries.

    ``call`` is the call row as it stands after the caller's update in this transaction.
    """
    seq = await store.append_call_event(conn, call["id"], event.type, dict(event.data), event.at)
    recorded = RecordedEvent(call["id"], seq, event.type, event.at, dict(event.data))
    if sink is not None:
        await sink.enqueue(conn, call, recorded)
    return recorded
