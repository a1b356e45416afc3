"""Client and server transactions (RFC 3261 §17, with RFC 6026 Accepted states).

Each kind of transaction is one transition table: ``(state, input) -> (next state,
actions)``. Inputs are responses or requests from the wire, responses from the user
(TU), timer expiries and transport errors; actions send, pass up, and arm timers. The
machines never read the clock: every call takes ``now`` and ``get_timer()`` says when
to call ``handle_timer`` next. Output is drained with ``datagrams_to_send()`` and
``next_event()``.

Beyond RFC 3261, the INVITE server transaction also retransmits its 2xx until the ACK
arrives (the UAS core duty of §13.3.1.4), with Timer G's schedule, giving up at Timer L.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from voxgate.sip.errors import LocalProtocolError
from voxgate.sip.events import (
    AckReceived,
    Event,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimeout,
    TransportFailed,
)
from voxgate.sip.headers import MAGIC_COOKIE, Headers
from voxgate.sip.message import SipRequest, SipResponse, make_response


@dataclass(frozen=True, slots=True)
class Timers:
    """Timer base values in seconds (RFC 3261 Table 4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0


DEFAULT_TIMERS = Timers()


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(Enum):
    R1XX = "1xx"
    R2XX = "2xx"
    R3456 = "3xx-6xx"
    REQUEST = "request retransmission"
    ACK = "ACK"
    TU_1XX = "TU 1xx"
    TU_2XX = "TU 2xx"
    TU_3456 = "TU 3xx-6xx"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


class Act(Enum):
    PASS = "pass response to TU"
    PASS_ACK = "pass ACK to TU"
    SEND_ACK = "send ACK"
    SEND = "send response"
    RESEND = "resend last response"
    RETRANSMIT = "retransmit request"
    START_A = "start A"
    START_E = "start E"
    BACKOFF = "back off retransmit timer"
    E_AT_T2 = "retransmit timer to T2"
    START_G = "start G"
    STOP_RETRANSMIT = "stop retransmissions"
    STOP_ALL = "stop all timers"
    START_B = "start B"
    START_D = "start D"
    START_F = "start F"
    START_H = "start H"
    START_I = "start I"
    START_J = "start J"
    START_K = "start K"
    START_L = "start L"
    START_M = "start M"
    TIMEOUT = "report timeout"
    FAILED = "report transport failure"


Table = dict[tuple[State, Input], tuple[State, tuple[Act, ...]]]
S, In, A = State, Input, Act

INVITE_CLIENT: Table = {
    (S.CALLING, In.TIMER_A): (S.CALLING, (A.RETRANSMIT, A.BACKOFF)),
    (S.CALLING, In.TIMER_B): (S.TERMINATED, (A.TIMEOUT,)),
    (S.CALLING, In.R1XX): (S.PROCEEDING, (A.STOP_ALL, A.PASS)),
    (S.CALLING, In.R2XX): (S.ACCEPTED, (A.STOP_ALL, A.PASS, A.START_M)),
    (S.CALLING, In.R3456): (S.COMPLETED, (A.STOP_ALL, A.PASS, A.SEND_ACK, A.START_D)),
    (S.CALLING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.PROCEEDING, In.R1XX): (S.PROCEEDING, (A.PASS,)),
    (S.PROCEEDING, In.R2XX): (S.ACCEPTED, (A.PASS, A.START_M)),
    (S.PROCEEDING, In.R3456): (S.COMPLETED, (A.PASS, A.SEND_ACK, A.START_D)),
    (S.PROCEEDING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.COMPLETED, In.R3456): (S.COMPLETED, (A.SEND_ACK,)),
    (S.COMPLETED, In.TIMER_D): (S.TERMINATED, ()),
    (S.COMPLETED, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.ACCEPTED, In.R2XX): (S.ACCEPTED, (A.PASS,)),
    (S.ACCEPTED, In.TIMER_M): (S.TERMINATED, ()),
}

NON_INVITE_CLIENT: Table = {
    (S.TRYING, In.TIMER_E): (S.TRYING, (A.RETRANSMIT, A.BACKOFF)),
    (S.TRYING, In.TIMER_F): (S.TERMINATED, (A.TIMEOUT,)),
    (S.TRYING, In.R1XX): (S.PROCEEDING, (A.PASS,)),
    (S.TRYING, In.R2XX): (S.COMPLETED, (A.STOP_ALL, A.PASS, A.START_K)),
    (S.TRYING, In.R3456): (S.COMPLETED, (A.STOP_ALL, A.PASS, A.START_K)),
    (S.TRYING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.PROCEEDING, In.TIMER_E): (S.PROCEEDING, (A.RETRANSMIT, A.E_AT_T2)),
    (S.PROCEEDING, In.TIMER_F): (S.TERMINATED, (A.TIMEOUT,)),
    (S.PROCEEDING, In.R1XX): (S.PROCEEDING, (A.PASS,)),
    (S.PROCEEDING, In.R2XX): (S.COMPLETED, (A.STOP_ALL, A.PASS, A.START_K)),
    (S.PROCEEDING, In.R3456): (S.COMPLETED, (A.STOP_ALL, A.PASS, A.START_K)),
    (S.PROCEEDING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.COMPLETED, In.TIMER_K): (S.TERMINATED, ()),
}

INVITE_SERVER: Table = {
    (S.PROCEEDING, In.REQUEST): (S.PROCEEDING, (A.RESEND,)),
    (S.PROCEEDING, In.TU_1XX): (S.PROCEEDING, (A.SEND,)),
    (S.PROCEEDING, In.TU_2XX): (S.ACCEPTED, (A.SEND, A.START_G, A.START_L)),
    (S.PROCEEDING, In.TU_3456): (S.COMPLETED, (A.SEND, A.START_G, A.START_H)),
    (S.PROCEEDING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.COMPLETED, In.REQUEST): (S.COMPLETED, (A.RESEND,)),
    (S.COMPLETED, In.TIMER_G): (S.COMPLETED, (A.RESEND, A.BACKOFF)),
    (S.COMPLETED, In.TIMER_H): (S.TERMINATED, (A.TIMEOUT,)),
    (S.COMPLETED, In.ACK): (S.CONFIRMED, (A.STOP_ALL, A.START_I)),
    (S.COMPLETED, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.CONFIRMED, In.ACK): (S.CONFIRMED, ()),
    (S.CONFIRMED, In.REQUEST): (S.CONFIRMED, ()),
    (S.CONFIRMED, In.TIMER_I): (S.TERMINATED, ()),
    (S.CONFIRMED, In.TIMER_L): (S.TERMINATED, ()),
    (S.ACCEPTED, In.REQUEST): (S.ACCEPTED, (A.RESEND,)),
    (S.ACCEPTED, In.TU_2XX): (S.ACCEPTED, (A.SEND,)),
    (S.ACCEPTED, In.TIMER_G): (S.ACCEPTED, (A.RESEND, A.BACKOFF)),
    (S.ACCEPTED, In.ACK): (S.CONFIRMED, (A.STOP_RETRANSMIT, A.PASS_ACK)),
    (S.ACCEPTED, In.TIMER_L): (S.TERMINATED, (A.TIMEOUT,)),
    (S.ACCEPTED, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
}

NON_INVITE_SERVER: Table = {
    (S.TRYING, In.REQUEST): (S.TRYING, ()),
    (S.TRYING, In.TU_1XX): (S.PROCEEDING, (A.SEND,)),
    (S.TRYING, In.TU_2XX): (S.COMPLETED, (A.SEND, A.START_J)),
    (S.TRYING, In.TU_3456): (S.COMPLETED, (A.SEND, A.START_J)),
    (S.PROCEEDING, In.REQUEST): (S.PROCEEDING, (A.RESEND,)),
    (S.PROCEEDING, In.TU_1XX): (S.PROCEEDING, (A.SEND,)),
    (S.PROCEEDING, In.TU_2XX): (S.COMPLETED, (A.SEND, A.START_J)),
    (S.PROCEEDING, In.TU_3456): (S.COMPLETED, (A.SEND, A.START_J)),
    (S.PROCEEDING, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
    (S.COMPLETED, In.REQUEST): (S.COMPLETED, (A.RESEND,)),
    (S.COMPLETED, In.TIMER_J): (S.TERMINATED, ()),
    (S.COMPLETED, In.TRANSPORT_ERROR): (S.TERMINATED, (A.FAILED,)),
}

TABLES = {
    "INVITE client": INVITE_CLIENT,
    "non-INVITE client": NON_INVITE_CLIENT,
    "INVITE server": INVITE_SERVER,
    "non-INVITE server": NON_INVITE_SERVER,
}
_TIMER_INPUT = {name: Input[f"TIMER_{name}"] for name in "ABDEFGHIJKLM"}
_TU_INPUTS = (In.TU_1XX, In.TU_2XX, In.TU_3456)


def table_as_mermaid(table: Table, initial: State) -> str:
    """A Mermaid state diagram generated from a transition table (for the docs)."""
    lines = ["stateDiagram-v2", f"    [*] --> {initial.value}"]
    for (state, inp), (nxt, acts) in table.items():
        if state is nxt and not acts:
            continue
        label = inp.value + (" / " + ", ".join(a.value for a in acts) if acts else "")
        lines.append(f"    {state.value} --> {nxt.value}: {label}")
    lines.append("    Terminated --> [*]")
    return "\n".join(lines)


def _status_input(status: int, tu: bool) -> Input:
    if status < 200:
        return In.TU_1XX if tu else In.R1XX
    if status < 300:
        return In.TU_2XX if tu else In.R2XX
    return In.TU_3456 if tu else In.R3456


class Transaction:
    """Shared machinery: table dispatch, timers and output queues."""

    def __init__(
        self,
        request: SipRequest,
        *,
        reliable: bool,
        now: float,
        timers: Timers = DEFAULT_TIMERS,
        table: Table,
        initial: State,
        kind: str,
    ) -> None:
        self.kind = kind
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.state = initial
        self.table = table
        self._from_state = initial
        self.key = transaction_key(request)
        self._deadlines: dict[str, float] = {}
        self._interval = timers.t1
        self._out: list[bytes] = []
        self._events: deque[Event] = deque()
        self.last_response: SipResponse | None = None

    def __repr__(self) -> str:
        branch = self.request.via[0].branch if self.request.headers.get("via") else None
        timer = self.get_timer()
        due = "" if timer is None else f" timer={timer:.3f}"
        return f"<{type(self).__name__} {self.request.method} {branch} {self.state.value}{due}>"

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    # shell-facing API -------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next be called, or None."""
        return min(self._deadlines.values()) if self._deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer that is due at ``now``, earliest first."""
        while self._deadlines:
            name = min(self._deadlines, key=self._deadlines.__getitem__)
            if self._deadlines[name] > now:
                return
            del self._deadlines[name]
            self._feed(_TIMER_INPUT[name], now)

    def handle_transport_error(self, now: float) -> None:
        self._feed(In.TRANSPORT_ERROR, now)

    def datagrams_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    # machinery --------------------------------------------------------------------------
    def _feed(self, inp: Input, now: float, msg: SipRequest | SipResponse | None = None) -> None:
        entry = self.table.get((self.state, inp))
        if entry is None:
            if inp in _TU_INPUTS:
                raise LocalProtocolError(f"cannot send {inp.value} in state {self.state.value}")
            return  # stray input from the wire or a stale timer: absorbed
        before = self._from_state = self.state
        self.state, acts = entry
        for act in acts:
            self._act(act, now, msg)
        if self.state is S.TERMINATED:
            self._deadlines.clear()
            self._events.append(TransactionTerminated(before.value))

    def _arm(self, name: str, now: float, delay: float) -> None:
        self._deadlines[name] = now + delay

    def _act(self, act: Act, now: float, msg: SipRequest | SipResponse | None) -> None:
        t = self.timers
        unreliable = not self.reliable
        if act is A.BACKOFF or act is A.E_AT_T2:
            name = self._retransmit_timer()
            if act is A.E_AT_T2:
                self._interval = t.t2
            elif name == "A":
                self._interval *= 2
            else:
                self._interval = min(self._interval * 2, t.t2)
            self._arm(name, now, self._interval)
        elif act in (A.START_A, A.START_E, A.START_G):
            self._interval = t.t1
            if unreliable:
                self._arm(act.name[-1], now, t.t1)
        elif act is A.STOP_RETRANSMIT:
            for name in "AEG":
                self._deadlines.pop(name, None)
        elif act is A.STOP_ALL:
            self._deadlines.clear()
        elif act in (A.START_B, A.START_F, A.START_H, A.START_L, A.START_M):
            self._arm(act.name[-1], now, 64 * t.t1)
        elif act is A.START_D:
            self._arm("D", now, t.d if unreliable else 0.0)
        elif act in (A.START_I, A.START_K):
            self._arm(act.name[-1], now, t.t4 if unreliable else 0.0)
        elif act is A.START_J:
            self._arm("J", now, 64 * t.t1 if unreliable else 0.0)
        elif act is A.TIMEOUT:
            self._events.append(TransactionTimeout(self._timeout_name()))
        elif act is A.FAILED:
            self._events.append(TransportFailed())
        else:
            self._act_message(act, msg)

    def _act_message(self, act: Act, msg: SipRequest | SipResponse | None) -> None:
        raise LocalProtocolError(f"{act} is not valid for {self.kind}")

    def _retransmit_timer(self) -> str:
        raise NotImplementedError

    def _timeout_name(self) -> str:
        raise NotImplementedError


class ClientTransaction(Transaction):
    """Sends a request and collects its responses (RFC 3261 §17.1)."""

    def __init__(
        self,
        request: SipRequest,
        *,
        reliable: bool,
        now: float,
        timers: Timers = DEFAULT_TIMERS,
    ) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK is sent without a transaction")
        invite = request.method == "INVITE"
        super().__init__(
            request,
            reliable=reliable,
            now=now,
            timers=timers,
            table=INVITE_CLIENT if invite else NON_INVITE_CLIENT,
            initial=S.CALLING if invite else S.TRYING,
            kind="INVITE client" if invite else "non-INVITE client",
        )
        self._wire = request.to_bytes()
        self._out.append(self._wire)
        self._act(A.START_A if invite else A.START_E, now, None)
        self._act(A.START_B if invite else A.START_F, now, None)

    def handle_response(self, response: SipResponse, now: float) -> None:
        """Feed a response whose ``transaction_key`` matched this transaction."""
        self._feed(_status_input(response.status, tu=False), now, response)

    def _act_message(self, act: Act, msg: SipRequest | SipResponse | None) -> None:
        if act is A.RETRANSMIT:
            self._out.append(self._wire)
        elif act is A.PASS and isinstance(msg, SipResponse):
            self.last_response = msg
            self._events.append(ResponseReceived(msg))
        elif act is A.SEND_ACK and isinstance(msg, SipResponse):
            self._out.append(build_ack_for_error(self.request, msg).to_bytes())
        else:
            super()._act_message(act, msg)

    def _retransmit_timer(self) -> str:
        return "A" if self.request.method == "INVITE" else "E"

    def _timeout_name(self) -> str:
        return "B" if self.request.method == "INVITE" else "F"


class ServerTransaction(Transaction):
    """Absorbs request retransmissions and (re)sends the TU's responses (§17.2)."""

    def __init__(
        self,
        request: SipRequest,
        *,
        reliable: bool,
        now: float,
        timers: Timers = DEFAULT_TIMERS,
        send_trying: bool = True,
    ) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK does not create a server transaction")
        invite = request.method == "INVITE"
        super().__init__(
            request,
            reliable=reliable,
            now=now,
            timers=timers,
            table=INVITE_SERVER if invite else NON_INVITE_SERVER,
            initial=S.PROCEEDING if invite else S.TRYING,
            kind="INVITE server" if invite else "non-INVITE server",
        )
        self._last_wire: bytes | None = None
        if invite and send_trying:
            self.send_response(make_response(request, 100), now)

    @property
    def absorbing(self) -> bool:
        """Only retransmissions are left until the last timer ends the transaction.

        INVITE Confirmed and non-INVITE Completed: nothing more reaches the TU, a
        retransmitted request gets :attr:`echo` and an ACK nothing, and no timer but the
        last is armed. A shell may keep just the key, ``echo`` and ``get_timer()``.
        """
        return self.state is S.CONFIRMED or (
            self.state is S.COMPLETED and self.table is NON_INVITE_SERVER
        )

    @property
    def echo(self) -> bytes | None:
        """What a retransmitted request gets while absorbing: the final response again
        (non-INVITE) or nothing (INVITE, whose ACK has come)."""
        return self._last_wire if self.table is NON_INVITE_SERVER else None

    def handle_request(self, request: SipRequest, now: float) -> None:
        """Feed a retransmission of the request, or the ACK (for non-2xx or 2xx)."""
        if request.method == "ACK":
            self._feed(In.ACK, now, request)
        else:
            self._feed(In.REQUEST, now, request)

    def send_response(self, response: SipResponse, now: float) -> None:
        """The TU answers; raises LocalProtocolError if the state forbids it."""
        self._feed(_status_input(response.status, tu=True), now, response)

    def _act_message(self, act: Act, msg: SipRequest | SipResponse | None) -> None:
        if act is A.SEND and isinstance(msg, SipResponse):
            self.last_response = msg
            self._last_wire = msg.to_bytes()
            self._out.append(self._last_wire)
        elif act is A.RESEND:
            if self._last_wire is not None:
                self._out.append(self._last_wire)
        elif act is A.PASS_ACK and isinstance(msg, SipRequest):
            self._events.append(AckReceived(msg))
        else:
            super()._act_message(act, msg)

    def _retransmit_timer(self) -> str:
        return "G"

    def _timeout_name(self) -> str:
        return "L" if self._from_state is S.ACCEPTED else "H"


# -- matching and helper messages --------------------------------------------------------


def transaction_key(msg: SipRequest | SipResponse) -> tuple[str, ...]:
    """The key that matches a message to its transaction (RFC 3261 §17.1.3, §17.2.3).

    For a request this is the server-side key (ACK maps to its INVITE); for a
    response, the client-side key. Requests without an RFC 3261 branch fall back to
    the RFC 2543 fields.
    """
    via = msg.via[0]
    branch = via.branch or ""
    method = msg.cseq.method
    if isinstance(msg, SipRequest):
        if method == "ACK":
            method = "INVITE"
        if branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
            host, port = via.sent_by
            return (branch, f"{host}:{port or ''}", method)
        return (
            "rfc2543",
            msg.call_id,
            msg.from_.tag or "",
            str(msg.cseq.number),
            str(via),
            method,
        )
    if branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        host, port = via.sent_by
        return (branch, f"{host}:{port or ''}", method)
    return ("rfc2543", msg.call_id, msg.from_.tag or "", str(msg.cseq.number), str(via), method)


def invite_key_for_cancel(cancel: SipRequest) -> tuple[str, ...]:
    """The key of the INVITE server transaction a CANCEL refers to."""
    key = transaction_key(cancel)
    return (*key[:-1], "INVITE")


def build_ack_for_error(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK a client transaction sends for a 3xx-6xx (RFC 3261 §17.1.1.3)."""
    src = invite.headers
    h = Headers()
    h.add("Via", src.get_list("via")[0])
    for value in src.get_all("route"):
        h.add("Route", value)
    h.add("Max-Forwards", "70")
    h.add("From", src.get("from") or "")
    h.add("To", response.headers.get("to") or src.get("to") or "")
    h.add("Call-ID", src.get("call-id") or "")
    h.add("CSeq", f"{invite.cseq.number} ACK")
    return SipRequest("ACK", invite.uri, h)


def build_cancel(invite: SipRequest) -> SipRequest:
    """CANCEL for a pending INVITE (RFC 3261 §9.1): same branch, CSeq number, Route."""
    src = invite.headers
    h = Headers()
    h.add("Via", src.get_list("via")[0])
    for value in src.get_all("route"):
        h.add("Route", value)
    h.add("Max-Forwards", "70")
    h.add("From", src.get("from") or "")
    h.add("To", src.get("to") or "")
    h.add("Call-ID", src.get("call-id") or "")
    h.add("CSeq", f"{invite.cseq.number} CANCEL")
    return SipRequest("CANCEL", invite.uri, h)
