"""Dialogs, digest authentication, SDP offer/answer and cause mapping."""

from __future__ import annotations

import pytest

from voxgate.sip.auth import Challenge, DigestClient, DigestServer, challenge_response
from voxgate.sip.causes import (
    BY_CODE,
    CAUSES,
    cause_by_name,
    cause_for_status,
    cause_name,
    status_for_cause,
)
from voxgate.sip.dialog import Dialog, DialogState
from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError
from voxgate.sip.headers import Via
from voxgate.sip.message import SipRequest, make_request, make_response, parse_message
from voxgate.sip.sdp import PCMA, PCMU, make_answer, make_offer, negotiated, parse_sdp
from voxgate.sip.uri import NameAddr, SipURI, parse_uri


def via(branch: str = "z9hG4bKd1") -> Via:
    return Via("UDP", "192.0.2.1", 5060, {"branch": branch, "rport": None})


def invite() -> SipRequest:
    return make_request(
        "INVITE",
        parse_uri("sip:bob@example.com"),
        via=via(),
        from_=NameAddr(parse_uri("sip:alice@example.com"), "Alice", {"tag": "a1"}),
        to=NameAddr(parse_uri("sip:bob@example.com")),
        call_id="dlg-1",
        cseq=10,
        contact=NameAddr(parse_uri("sip:alice@192.0.2.1:5060")),
    )


def answered(req: SipRequest, status: int = 200) -> object:
    resp = make_response(
        req,
        status,
        to_tag="b1",
        headers=[
            ("Contact", "<sip:bob@198.51.100.9:5062;transport=UDP>"),
            ("Record-Route", "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>"),
        ],
    )
    return parse_message(bytes(resp))


def test_uac_dialog_routes_cseq_ack_and_bye() -> None:
    req = invite()
    resp = answered(req)
    d = Dialog.from_uac(req, resp)  # type: ignore[arg-type]
    assert d.state is DialogState.CONFIRMED
    assert d.id == ("dlg-1", "a1", "b1")
    assert Dialog.id_of_response(resp) == d.id  # type: ignore[arg-type]
    assert [str(r.uri) for r in d.route_set] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    ack = d.create_ack(10, via=via("z9hG4bKack"))
    assert ack.method == "ACK" and ack.cseq.number == 10
    assert str(ack.uri) == "sip:bob@198.51.100.9:5062;transport=UDP"
    assert [str(r.uri) for r in ack.route] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    bye = d.create_request("BYE", via=via("z9hG4bKbye"))
    assert bye.cseq.number == 11 and bye.to.tag == "b1" and bye.from_.tag == "a1"
    assert parse_message(bytes(bye)).method == "BYE"  # type: ignore[union-attr]
    assert isinstance(d.next_hop(), SipURI) and d.next_hop().host == "p1.example.com"  # type: ignore[union-attr]
    d.handle_response("BYE", make_response(bye, 200))
    assert d.state is DialogState.TERMINATED
    with pytest.raises(LocalProtocolError):
        d.create_request("INFO", via=via())


def test_strict_route_puts_target_last() -> None:
    req = invite()
    resp = make_response(
        req,
        200,
        to_tag="b1",
        headers=[("Contact", "<sip:bob@h>"), ("Record-Route", "<sip:strict.example.com>")],
    )
    d = Dialog.from_uac(req, resp)
    uri, routes = d.target_and_routes()
    assert str(uri) == "sip:strict.example.com"
    assert [str(r.uri) for r in routes] == ["sip:bob@h"]


def test_uas_dialog_reinvite_and_cseq_order() -> None:
    req = parse_message(bytes(invite()))
    assert isinstance(req, SipRequest)
    d = Dialog.from_uas(req, local_tag="b1", local_contact=NameAddr(parse_uri("sip:vg@192.0.2.9")))
    assert d.id == Dialog.id_of_incoming(parse_message(bytes(make_in_dialog(req, 11, "INVITE"))))  # type: ignore[arg-type]
    d.confirm()
    reinvite = make_in_dialog(req, 11, "INVITE", contact="<sip:alice@192.0.2.77>")
    d.handle_request(reinvite)
    assert str(d.remote_target) == "sip:alice@192.0.2.77"
    with pytest.raises(RemoteProtocolError) as info:
        d.handle_request(make_in_dialog(req, 11, "INFO"))
    assert info.value.status == 500
    d.handle_request(make_in_dialog(req, 12, "BYE"))
    assert d.state is DialogState.TERMINATED
    with pytest.raises(RemoteProtocolError) as info:
        d.handle_request(make_in_dialog(req, 13, "INFO"))
    assert info.value.status == 481


def make_in_dialog(
    req: SipRequest, cseq: int, method: str, contact: str | None = None
) -> SipRequest:
    h = req.headers.copy()
    h.set("To", f"{req.headers.get('to')};tag=b1")
    h.set("CSeq", f"{cseq} {method}")
    if contact:
        h.set("Contact", contact)
    return SipRequest(method, req.uri, h)


def test_digest_round_trip_sha256_and_md5() -> None:
    server = DigestServer(b"secret", "voxgate", nonce_ttl=60)
    req = make_request(
        "REGISTER",
        parse_uri("sip:voxgate.example.com"),
        via=via(),
        from_=NameAddr(parse_uri("sip:1001@voxgate.example.com"), params={"tag": "r1"}),
        to=NameAddr(parse_uri("sip:1001@voxgate.example.com")),
        call_id="reg-1",
        cseq=1,
    )
    assert not server.verify(req, lambda u: "pw", 0.0).ok
    challenge = challenge_response(req, server, 100.0)
    assert challenge.status == 401 and len(challenge.headers.get_all("WWW-Authenticate")) == 2
    client = DigestClient("1001", "pw")
    retry = client.authorize(req, challenge)
    assert retry.cseq.number == 2 and retry.via[0].branch != req.via[0].branch
    assert "algorithm=SHA-256" in (retry.headers.get("authorization") or "")
    result = server.verify(parse_message(bytes(retry)), {"1001": "pw"}.get, 101.0)  # type: ignore[arg-type]
    assert result.ok and result.username == "1001"
    # replaying the same nc is refused; the next nc is fine
    assert server.verify(retry, {"1001": "pw"}.get, 102.0).reason == "nonce count replayed"
    again = client.authorize(req, challenge)
    assert server.verify(again, {"1001": "pw"}.get, 102.0).ok
    # wrong password, expired nonce (stale), forged nonce
    assert not server.verify(
        DigestClient("1001", "x").authorize(req, challenge), {"1001": "pw"}.get, 101.0
    ).ok
    stale = server.verify(client.authorize(req, challenge), {"1001": "pw"}.get, 500.0)
    assert stale.stale and not stale.ok
    forged = DigestServer(b"other", "voxgate")
    assert (
        forged.verify(client.authorize(req, challenge), {"1001": "pw"}.get, 101.0).reason
        == "nonce not ours"
    )
    md5_only = DigestServer(b"secret", "voxgate", algorithms=("MD5",))
    chal = challenge_response(req, md5_only, 0.0)
    assert md5_only.verify(client.authorize(req, chal), {"1001": "pw"}.get, 1.0).ok


def test_digest_known_answer_rfc2617() -> None:
    client = DigestClient("Mufasa", "Circle Of Life")
    chal = Challenge.parse(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = client.authorization(chal, "GET", "/dir/index.html", cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "nc=00000001" in value


def test_regaut01_unknown_scheme_is_not_credentials() -> None:
    server = DigestServer(b"s", "example.com")
    from .conftest import fixture

    req = parse_message(fixture("rfc4475/regaut01.sip"))
    assert isinstance(req, SipRequest)
    assert not server.verify(req, lambda u: "x", 0.0).ok


def test_offer_answer_prefers_our_codec_and_dtmf() -> None:
    offer = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
        b"a=fmtp:96 0-15\r\na=ptime:30\r\nm=video 30002 RTP/AVP 31\r\n"
    )
    answer, params = make_answer(offer, address="192.0.2.9", port=40000, session_id=7)
    assert params.codec == PCMU  # our preference wins over the offer's order
    assert params.dtmf_pt == 96 and params.ptime == 30
    assert (params.remote_address, params.remote_port) == ("203.0.113.5", 30000)
    assert params.direction == "sendrecv" and not params.remote_hold
    text = bytes(answer)
    assert b"m=audio 40000 RTP/AVP 0 96\r\n" in text and b"m=video 0 RTP/AVP 31\r\n" in text
    _, pcma = make_answer(offer, address="a", port=1, session_id=1, preference=(PCMA,))
    assert pcma.codec == PCMA
    ours = make_offer(address="192.0.2.9", port=40000, session_id=7)
    back = negotiated(ours, parse_sdp(text))
    assert back.codec == PCMU and back.dtmf_pt == 96


@pytest.mark.parametrize(
    ("line", "direction", "hold"),
    [
        (b"a=sendonly\r\n", "recvonly", True),
        (b"a=inactive\r\n", "inactive", True),
        (b"a=recvonly\r\n", "sendonly", False),
        (b"", "sendrecv", False),
    ],
)
def test_hold_directions(line: bytes, direction: str, hold: bool) -> None:
    offer = parse_sdp(
        b"v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0\r\n" + line
    )
    _, params = make_answer(offer, address="a", port=1, session_id=1)
    assert params.direction == direction and params.remote_hold is hold


def test_legacy_hold_and_rejection() -> None:
    old = parse_sdp(
        b"v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0\r\n"
    )
    _, params = make_answer(old, address="a", port=1, session_id=1)
    assert params.remote_hold and not params.can_send and params.can_receive
    g729 = parse_sdp(
        b"v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 1 RTP/AVP 18\r\n"
    )
    with pytest.raises(RemoteProtocolError) as info:
        make_answer(g729, address="a", port=1, session_id=1)
    assert info.value.status == 488
    for bad in [b"", b"x", b"v=1\r\n", b"v=0\r\nm=audio x RTP/AVP 0\r\n", b"\xff"]:
        with pytest.raises(RemoteProtocolError):
            parse_sdp(bad)


@pytest.mark.parametrize(
    ("line", "rtcp"),
    [
        (b"a=rtcp:53020\r\n", (None, 53020)),
        (b"a=rtcp:53020 IN IP4 198.51.100.7\r\n", ("198.51.100.7", 53020)),
        (b"a=rtcp:0\r\n", None),  # malformed: ignored, the port above RTP is used
        (b"a=rtcp:x IN IP4 h\r\n", None),
        (b"a=rtcp:5 IN\r\n", None),
        (b"", None),
    ],
)
def test_the_peers_rtcp_address_rfc3605(line: bytes, rtcp: tuple[str | None, int] | None) -> None:
    sdp = (
        b"v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0\r\n" + line
    )
    _, params = make_answer(parse_sdp(sdp), address="a", port=1, session_id=1)
    assert params.rtcp == rtcp
    ours = make_offer(address="192.0.2.9", port=40000, session_id=7)
    assert negotiated(ours, parse_sdp(sdp)).rtcp == rtcp


def test_causes_table() -> None:
    assert len({c.code for c in CAUSES}) == len(CAUSES)
    assert cause_for_status(486).name == "USER_BUSY"
    assert cause_for_status(404).name == "UNALLOCATED_NUMBER"
    assert cause_for_status(487).name == "ORIGINATOR_CANCEL"
    assert cause_for_status(603).name == "CALL_REJECTED"
    assert cause_for_status(480).name == "NO_USER_RESPONSE"
    assert cause_for_status(408).code == 102
    assert cause_for_status(599).code == 41 and cause_for_status(699).code == 21
    assert status_for_cause(17) == 486 and status_for_cause(19) == 480
    assert status_for_cause(16) == 480 and status_for_cause(111) == 500
    assert cause_name(16) == "NORMAL_CLEARING" and cause_name(9999) == "UNSPECIFIED"
    assert cause_by_name("no_answer").code == 19
    assert BY_CODE[18].sip_status == 408
