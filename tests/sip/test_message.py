"""Message parsing details, building, framing, Via/rport and URIs."""

from __future__ import annotations

import pytest

from voxgate.sip.errors import LocalProtocolError, RemoteProtocolError
from voxgate.sip.headers import Headers, Via, apply_received, parse_via, split_list
from voxgate.sip.message import (
    SipRequest,
    SipResponse,
    StreamFramer,
    make_request,
    make_response,
    parse_message,
)
from voxgate.sip.uri import NameAddr, SipURI, TelURI, parse_name_addr, parse_uri

INVITE = (
    b"INVITE sip:bob@198.51.100.7;transport=UDP SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: <sip:bob@example.com>\r\n"
    b'f: "Alice" <sip:alice@example.com>;tag=1928301774\r\n'
    b"i: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@192.0.2.10>\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Allow: INVITE, ACK,\r\n BYE\r\n"
    b"c: application/sdp\r\n"
    b"l: 5\r\n"
    b"\r\n"
    b"v=0\r\n"
)


def test_compact_forms_and_folding() -> None:
    msg = parse_message(INVITE)
    assert isinstance(msg, SipRequest)
    assert msg.call_id == "a84b4c76e66710@pc33.example.com"
    assert msg.from_.display == "Alice" and msg.from_.tag == "1928301774"
    assert msg.tokens("Allow") == ["INVITE", "ACK", "BYE"]
    assert msg.content_type == "application/sdp"
    assert [str(r.uri) for r in msg.record_route] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
    ]
    assert msg.body == b"v=0\r\n"
    out = bytes(msg)
    assert b"Via: SIP/2.0/UDP" in out and b"Call-ID: a84b" in out
    assert out.endswith(b"Content-Length: 5\r\n\r\nv=0\r\n")


def test_uri_parameter_values_are_case_insensitive() -> None:
    msg = parse_message(INVITE)
    assert isinstance(msg.uri, SipURI)
    assert msg.uri.transport == "udp"
    assert msg.uri == parse_uri("sip:bob@198.51.100.7;transport=udp")


def test_bare_lf_messages_are_tolerated() -> None:
    msg = parse_message(INVITE.replace(b"\r\n", b"\n").replace(b"l: 5", b"l: 4"))
    assert msg.body == b"v=0\n"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"INVITE sip:a@b SIP/2.0\r\n\r\n",
        b"garbage\r\n\r\n",
        INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE"),
        INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"),
        INVITE.replace(b"l: 5", b"l: 400"),
        INVITE.replace(b"i: a84b", b"i: a84 b"),
        INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\rInjected: x"),
        INVITE.replace(b"Max-Forwards", b"Max Forwards"),
    ],
)
def test_malformed_is_remote_error(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(data)
    assert info.value.status == 400


def test_make_response_copies_and_tags() -> None:
    req = parse_message(INVITE)
    resp = make_response(req, 180, to_tag="abc")
    assert resp.reason == "Ringing"
    assert resp.to.tag == "abc"
    assert resp.headers.get_all("record-route")  # copied for dialog-creating responses
    assert resp.via[0].branch == "z9hG4bK776asdhds"
    trying = make_response(req, 100, to_tag="abc")
    assert trying.to.tag is None
    parsed = parse_message(bytes(resp))
    assert isinstance(parsed, SipResponse) and parsed.status == 180
    with pytest.raises(LocalProtocolError):
        make_response(req, 99)


def test_make_request_round_trip() -> None:
    req = make_request(
        "OPTIONS",
        parse_uri("sip:carrier.example.com"),
        via=Via("UDP", "192.0.2.1", 5070, {"branch": "z9hG4bKx1", "rport": None}),
        from_=NameAddr(parse_uri("sip:voxgate@example.com"), params={"tag": "t1"}),
        to=NameAddr(parse_uri("sip:carrier.example.com")),
        call_id="c1",
        cseq=1,
    )
    again = parse_message(bytes(req))
    assert isinstance(again, SipRequest) and again.method == "OPTIONS"
    assert again.via[0].rport is None and "rport" in again.via[0].params
    with pytest.raises(LocalProtocolError):
        make_request(
            "OPTIONS",
            parse_uri("sip:x"),
            via=Via("UDP", "h"),
            from_=again.from_,
            to=again.to,
            call_id="c",
            cseq=1,
        )


def test_rport_and_received() -> None:
    via = parse_via("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;rport")
    seen = apply_received(via, "203.0.113.9", 40000)
    assert seen.received == "203.0.113.9" and seen.rport == 40000
    assert seen.response_address() == ("203.0.113.9", 40000)
    plain = apply_received(parse_via("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa"), "10.0.0.5", 5060)
    assert plain.received is None and plain.response_address() == ("10.0.0.5", 5060)
    nat = apply_received(parse_via("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa"), "203.0.113.9", 1)
    assert nat.response_address() == ("203.0.113.9", 5060)  # no rport: sent-by port


def test_headers_container() -> None:
    h = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")])
    h.add("v", "SIP/2.0/UDP c;branch=z9hG4bK3")
    assert len(h.get_list("VIA")) == 3
    h.pop_first("via")
    assert h.get_list("via")[0].startswith("SIP/2.0/UDP b")
    h.replace_first("via", "SIP/2.0/UDP z;branch=z9hG4bK0")
    assert h.get_list("via")[0] == "SIP/2.0/UDP z;branch=z9hG4bK0"
    h.set("X-Custom", "1")
    h.set("x-custom", "2")
    assert h.get_all("X-CUSTOM") == ["2"]
    h.remove("x-custom")
    assert "x-custom" not in h
    assert split_list('"a, b" <sip:x>, <sip:y;p=1,2>') == ['"a, b" <sip:x>', "<sip:y;p=1,2>"]


def test_stream_framer() -> None:
    framer = StreamFramer()
    data = b"\r\n\r\n" + INVITE + INVITE
    frames = []
    for i in range(0, len(data), 7):
        frames += framer.feed(data[i : i + 7])
    assert frames == [INVITE, INVITE]
    assert framer.pings == 1
    assert parse_message(frames[0], stream=True).call_id.startswith("a84b")


def test_stream_framer_rejects_bad_lengths() -> None:
    framer = StreamFramer()
    with pytest.raises(RemoteProtocolError):
        framer.feed(INVITE.replace(b"l: 5", b"l: 5\r\nContent-Length: 5"))
    with pytest.raises(LocalProtocolError):
        framer.feed(b"x")
    small = StreamFramer(max_size=100)
    with pytest.raises(RemoteProtocolError) as info:
        small.feed(b"A" * 200)
    assert info.value.status == 513


def test_uris() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=TLS;lr?subject=hi%20there")
    assert isinstance(uri, SipURI)
    assert (uri.user, uri.password, uri.host, uri.port) == (
        "alice",
        "secret",
        "[2001:db8::1]",
        5061,
    )
    assert uri.transport == "tls" and uri.lr and uri.secure
    assert uri.headers == [("subject", "hi there")]
    assert parse_uri(str(uri)) == uri
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert isinstance(tel, TelURI) and tel.digits == "+12015550123"
    assert str(SipURI("h", user="a b#")) == "sip:a%20b%23@h"
    for bad in ["sip:", "sip:a@", "sip:host:99999", "sip:ho st", "sip:a%zz@h", "<sip:x>"]:
        with pytest.raises(RemoteProtocolError):
            parse_uri(bad)


def test_name_addr_forms() -> None:
    a = parse_name_addr('"A \\"B\\"" <sip:a@h>;tag=1;x')
    assert a.display == 'A "B"' and a.params == {"tag": "1", "x": None}
    assert parse_name_addr(str(a)).display == 'A "B"'
    b = parse_name_addr("sip:a@h;tag=2")
    assert b.tag == "2" and not b.uri.params  # type: ignore[union-attr]
    c = parse_name_addr("Bob <sip:b@h;transport=tcp>")
    assert c.display == "Bob" and c.uri.transport == "tcp"  # type: ignore[union-attr]
    assert c.with_tag("z").tag == "z" and c.tag is None
