"""Transaction machines driven by a fake clock (plain floats)."""

from __future__ import annotations

import pytest

from voxgate.sip.errors import LocalProtocolError
from voxgate.sip.events import (
    AckReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimeout,
    TransportFailed,
)
from voxgate.sip.headers import Via
from voxgate.sip.message import SipRequest, make_request, make_response, parse_message
from voxgate.sip.transaction import (
    TABLES,
    Act,
    ClientTransaction,
    Input,
    ServerTransaction,
    State,
    Table,
    build_cancel,
    invite_key_for_cancel,
    table_as_mermaid,
    transaction_key,
)
from voxgate.sip.uri import NameAddr, parse_uri

T1 = 0.5


def request(method: str = "INVITE", branch: str = "z9hG4bKtx1") -> SipRequest:
    return make_request(
        method,
        parse_uri("sip:bob@example.com"),
        via=Via("UDP", "192.0.2.1", 5060, {"branch": branch}),
        from_=NameAddr(parse_uri("sip:alice@example.com"), params={"tag": "a1"}),
        to=NameAddr(parse_uri("sip:bob@example.com")),
        call_id="call-1",
        cseq=1,
    )


def events(tx: ClientTransaction | ServerTransaction) -> list[object]:
    out = []
    while (ev := tx.next_event()) is not None:
        out.append(ev)
    return out


def run_until(tx: ClientTransaction | ServerTransaction, end: float) -> list[float]:
    """Fire timers up to ``end``; return the times at which something was sent."""
    sent = []
    while (t := tx.get_timer()) is not None and t <= end:
        tx.handle_timer(t)
        if tx.datagrams_to_send():
            sent.append(t)
    return sent


def test_timer_a_doubles_and_timer_b_times_out() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    assert len(tx.datagrams_to_send()) == 1
    sent = run_until(tx, 100.0)
    # Timer A: T1, 2T1, 4T1, ... (not capped for INVITE); B fires at 64*T1
    assert sent == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    evs = events(tx)
    assert evs[0] == TransactionTimeout("B") and evs[0].status == 408
    assert isinstance(evs[1], TransactionTerminated)
    assert tx.state is State.TERMINATED and tx.get_timer() is None


def test_timer_e_doubles_up_to_t2_and_f_times_out() -> None:
    tx = ClientTransaction(request("OPTIONS"), reliable=False, now=0.0)
    tx.datagrams_to_send()
    sent = run_until(tx, 100.0)
    gaps = [b - a for a, b in zip([0.0, *sent], sent, strict=False)]
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[4:]) == {4.0}
    assert events(tx)[0] == TransactionTimeout("F")
    assert tx.terminated


def test_reliable_transport_never_retransmits() -> None:
    tx = ClientTransaction(request(), reliable=True, now=0.0)
    tx.datagrams_to_send()
    assert tx.get_timer() == 64 * T1
    assert run_until(tx, 100.0) == []
    assert events(tx)[0] == TransactionTimeout("B")


def test_invite_error_response_acked_and_timer_d() -> None:
    req = request()
    tx = ClientTransaction(req, reliable=False, now=0.0)
    tx.datagrams_to_send()
    tx.handle_response(make_response(req, 180, to_tag="b1"), 0.2)
    assert tx.state is State.PROCEEDING and tx.get_timer() is None
    busy = make_response(req, 486, to_tag="b1")
    tx.handle_response(busy, 1.0)
    assert tx.state is State.COMPLETED
    (ack,) = tx.datagrams_to_send()
    parsed = parse_message(ack)
    assert isinstance(parsed, SipRequest) and parsed.method == "ACK"
    assert parsed.to.tag == "b1" and parsed.cseq.number == 1
    assert parsed.via[0].branch == "z9hG4bKtx1"
    tx.handle_response(busy, 1.5)  # retransmitted 486: ACK again, not passed up
    assert len(tx.datagrams_to_send()) == 1
    assert [type(e) for e in events(tx)] == [ResponseReceived, ResponseReceived]
    assert tx.get_timer() == 33.0  # Timer D = 32 s
    tx.handle_timer(33.0)
    assert tx.terminated


def test_timer_d_is_zero_on_reliable() -> None:
    req = request()
    tx = ClientTransaction(req, reliable=True, now=0.0)
    tx.handle_response(make_response(req, 503, to_tag="x"), 1.0)
    assert tx.get_timer() == 1.0


def test_invite_2xx_goes_to_accepted_and_passes_retransmissions() -> None:
    req = request()
    tx = ClientTransaction(req, reliable=False, now=0.0)
    ok = make_response(req, 200, to_tag="b1")
    tx.handle_response(ok, 0.1)
    tx.handle_response(ok, 0.6)
    assert tx.state is State.ACCEPTED
    assert [type(e) for e in events(tx)] == [ResponseReceived, ResponseReceived]
    assert tx.datagrams_to_send() == [req.to_bytes()]  # only the original INVITE
    tx.handle_timer(0.1 + 64 * T1)  # Timer M
    assert tx.terminated


def test_non_invite_timer_k() -> None:
    req = request("BYE")
    tx = ClientTransaction(req, reliable=False, now=0.0)
    tx.handle_response(make_response(req, 200), 0.3)
    assert tx.state is State.COMPLETED and tx.get_timer() == 0.3 + 5.0
    tx.handle_response(make_response(req, 200), 0.4)  # absorbed
    tx.handle_timer(5.3)
    assert tx.terminated
    assert [type(e) for e in events(tx)] == [ResponseReceived, TransactionTerminated]


def test_transport_error() -> None:
    tx = ClientTransaction(request(), reliable=True, now=0.0)
    tx.handle_transport_error(0.0)
    assert isinstance(events(tx)[0], TransportFailed)


def test_invite_server_error_response_timer_g_h() -> None:
    req = request()
    tx = ServerTransaction(req, reliable=False, now=0.0)
    (trying,) = tx.datagrams_to_send()
    assert trying.startswith(b"SIP/2.0 100 Trying")
    tx.handle_request(req, 0.1)  # retransmitted INVITE: resend last provisional
    assert tx.datagrams_to_send() == [trying]
    tx.send_response(make_response(req, 486, to_tag="s1"), 1.0)
    assert tx.state is State.COMPLETED
    sent = run_until(tx, 1.0 + 64 * T1)
    gaps = [round(b - a, 3) for a, b in zip([1.0, *sent], sent, strict=False)]
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[4:]) == {4.0}
    assert TransactionTimeout("H") in events(tx)
    assert tx.terminated


def test_invite_server_ack_confirms_then_timer_i() -> None:
    req = request()
    tx = ServerTransaction(req, reliable=False, now=0.0)
    tx.send_response(make_response(req, 404, to_tag="s1"), 0.0)
    ack = SipRequest("ACK", req.uri, req.headers.copy())
    tx.handle_request(ack, 0.2)
    assert tx.state is State.CONFIRMED and tx.get_timer() == 0.2 + 5.0
    tx.handle_timer(5.2)
    assert tx.terminated


def test_invite_server_retransmits_2xx_until_ack() -> None:
    req = request()
    tx = ServerTransaction(req, reliable=False, now=0.0, send_trying=False)
    assert tx.datagrams_to_send() == []
    tx.send_response(make_response(req, 200, to_tag="s1"), 0.0)
    assert tx.state is State.ACCEPTED
    tx.datagrams_to_send()
    assert run_until(tx, 1.6) == [0.5, 1.5]
    ack = SipRequest("ACK", req.uri, req.headers.copy())
    tx.handle_request(ack, 1.6)
    assert isinstance(events(tx)[0], AckReceived)
    assert run_until(tx, 10.0) == []  # retransmissions stopped
    tx.handle_timer(64 * T1)
    assert tx.terminated


def test_invite_server_2xx_without_ack_times_out_l() -> None:
    req = request()
    tx = ServerTransaction(req, reliable=True, now=0.0)
    tx.send_response(make_response(req, 200, to_tag="s1"), 0.0)
    assert tx.get_timer() == 64 * T1  # reliable: no retransmission, only L
    tx.handle_timer(64 * T1)
    assert TransactionTimeout("L") in events(tx)


def test_non_invite_server_timer_j_and_tu_errors() -> None:
    req = request("OPTIONS")
    tx = ServerTransaction(req, reliable=False, now=0.0)
    assert tx.datagrams_to_send() == []  # no automatic 100 for non-INVITE
    tx.handle_request(req, 0.1)
    assert tx.datagrams_to_send() == []  # Trying: retransmission absorbed
    tx.send_response(make_response(req, 200), 0.2)
    tx.handle_request(req, 0.3)
    assert len(tx.datagrams_to_send()) == 2
    with pytest.raises(LocalProtocolError):
        tx.send_response(make_response(req, 200), 0.4)
    tx.handle_timer(0.2 + 64 * T1)
    assert tx.terminated
    reliable = ServerTransaction(req, reliable=True, now=0.0)
    reliable.send_response(make_response(req, 200), 1.0)
    assert reliable.get_timer() == 1.0  # Timer J = 0 on reliable transports


@pytest.mark.parametrize(
    ("table", "state"),
    [(TABLES["INVITE server"], State.CONFIRMED), (TABLES["non-INVITE server"], State.COMPLETED)],
)
def test_an_absorbing_state_only_echoes_until_its_last_timer(table: Table, state: State) -> None:
    """What a shell may keep of an absorbing transaction (key, echo, deadline) is enough:
    from the table, wire input stays in the state and at most resends, and only a timer
    leaves it, for Terminated, with nothing to report."""
    for (from_state, inp), (to_state, acts) in table.items():
        if from_state is not state:
            continue
        if inp.name.startswith("TIMER_"):
            assert to_state is State.TERMINATED and acts == (), inp
        elif inp is not Input.TRANSPORT_ERROR:
            assert to_state is state and set(acts) <= {Act.RESEND}, inp
            assert not inp.name.startswith("TU_"), inp


def test_absorbing_transactions_and_what_they_echo() -> None:
    req = request()
    invite = ServerTransaction(req, reliable=False, now=0.0)
    invite.send_response(make_response(req, 200, to_tag="s1"), 0.0)
    assert not invite.absorbing  # 2xx retransmitted until the ACK
    invite.handle_request(SipRequest("ACK", req.uri, req.headers.copy()), 0.3)
    assert invite.absorbing and invite.echo is None and invite.get_timer() == 64 * T1
    bye = request("BYE", branch="z9hG4bKbye")
    tx = ServerTransaction(bye, reliable=False, now=0.0)
    assert not tx.absorbing
    ok = make_response(bye, 200)
    tx.send_response(ok, 0.0)
    assert tx.absorbing and tx.echo == ok.to_bytes()
    assert tx.get_timer() == 64 * T1


def test_matching_keys() -> None:
    req = request()
    resp = make_response(req, 200, to_tag="x")
    ack = SipRequest("ACK", req.uri, req.headers.copy())
    ack.headers.set("CSeq", "1 ACK")
    assert transaction_key(ack) == transaction_key(req)
    assert transaction_key(resp)[0] == "z9hG4bKtx1"
    cancel = build_cancel(req)
    assert invite_key_for_cancel(cancel) == transaction_key(req)
    assert transaction_key(cancel) != transaction_key(req)
    old = request(branch="1234")  # RFC 2543 peer: no magic cookie
    assert transaction_key(old)[0] == "rfc2543"


def test_ack_has_no_transaction() -> None:
    ack = request("ACK")
    with pytest.raises(LocalProtocolError):
        ClientTransaction(ack, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        ServerTransaction(ack, reliable=False, now=0.0)


def test_repr_and_diagrams() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    assert repr(tx) == "<ClientTransaction INVITE z9hG4bKtx1 Calling timer=0.500>"
    for table in TABLES.values():
        assert "stateDiagram-v2" in table_as_mermaid(table, State.CALLING)
