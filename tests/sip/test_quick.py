"""Quick reading of raw messages: stateless refusals and Call-ID routing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import SipResponse, parse_message
from voxgate.sip.quick import call_id, is_ack_with_tag, new_invite

from .conftest import FIXTURES

INVITE = (
    b"INVITE sip:4155550100@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK776asdhds;rport\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKproxy\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Customer" <sip:4155550100@127.0.0.1>\r\n'
    b'f: "Voxgate" <sip:4155550000@127.0.0.1>;tag=1928301774\r\n'
    b"i: a84b4c76e66710@127.0.0.1\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)
SOURCE = ("127.0.0.9", 40000)


def test_a_new_invite_is_refused_with_a_response_that_matches_it() -> None:
    invite = new_invite(INVITE)
    assert invite is not None and invite.call_id == "a84b4c76e66710@127.0.0.1"
    refusal = invite.refusal(SOURCE, tag=b"vxshedab12", headers=((b"Retry-After", b"5"),))
    assert refusal is not None
    data, addr = refusal
    assert addr == SOURCE  # rport asked for: back to the port it came from
    response = parse_message(data)
    request = parse_message(INVITE)
    assert isinstance(response, SipResponse) and response.status == 503
    assert response.call_id == request.call_id
    assert response.headers.get("CSeq") == "314159 INVITE"
    assert response.to.tag == "vxshedab12"
    assert response.from_.tag == "1928301774"
    assert response.headers.get("Retry-After") == "5"
    top, second = response.via
    assert top.params["branch"] == "z9hG4bK776asdhds"
    assert top.params["received"] == "127.0.0.9" and top.params["rport"] == "40000"
    assert second.params["branch"] == "z9hG4bKproxy"


def test_a_retransmission_is_refused_with_the_same_tag_and_another_request_not() -> None:
    invite = new_invite(INVITE)
    again = new_invite(INVITE)
    assert invite is not None and again is not None
    assert invite.stateless_tag() == again.stateless_tag()  # RFC 3261 §8.2.7
    other = new_invite(INVITE.replace(b"z9hG4bK776asdhds", b"z9hG4bK776asdhdt", 1))
    assert other is not None and other.stateless_tag() != invite.stateless_tag()


def test_without_rport_the_refusal_goes_to_the_via_port() -> None:
    plain = INVITE.replace(b";rport", b"")
    invite = new_invite(plain)
    assert invite is not None
    refusal = invite.refusal(SOURCE, tag=b"t")
    assert refusal is not None and refusal[1] == ("127.0.0.9", 5070)
    no_port = new_invite(plain.replace(b"10.0.0.7:5070", b"10.0.0.7"))
    assert no_port is not None
    refusal = no_port.refusal(SOURCE, tag=b"t")
    assert refusal is not None and refusal[1] == ("127.0.0.9", 5060)


def test_what_is_not_a_new_invite_takes_the_full_path() -> None:
    assert new_invite(INVITE.replace(b"127.0.0.1>\r\n", b"127.0.0.1>;tag=abc\r\n", 1)) is None
    assert new_invite(INVITE.replace(b"INVITE sip", b"OPTIONS sip", 1)) is None
    assert new_invite(INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 ACK")) is None
    assert new_invite(INVITE.replace(b"i: a84b4c76e66710@127.0.0.1\r\n", b"")) is None
    assert new_invite(INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards:\r\n 70")) is None
    assert new_invite(INVITE.split(b"\r\n\r\n")[0]) is None  # no end of headers
    # a tag inside the URI is not a To tag
    in_uri = new_invite(INVITE.replace(b"<sip:4155550100@127.0.0.1>", b"<sip:4@h;tag=x>", 1))
    assert in_uri is not None


def test_call_id_and_the_ack_of_a_refusal() -> None:
    assert call_id(INVITE) == b"a84b4c76e66710@127.0.0.1"
    assert call_id(b"garbage") is None
    ack = (
        b"ACK sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"To: <sip:x@127.0.0.1>;tag=vxshed1234\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n"
    )
    assert is_ack_with_tag(ack, b"vxshed")
    assert not is_ack_with_tag(ack.replace(b"vxshed", b"other1"), b"vxshed")
    assert not is_ack_with_tag(ack.replace(b"ACK sip", b"BYE sip", 1), b"vxshed")
    assert is_ack_with_tag(ack.replace(b"\r\nTo: ", b"\r\nt : ", 1), b"vxshed")  # compact
    assert is_ack_with_tag(ack.replace(b";tag=", b" ; TAG = ", 1), b"vxshed")
    # a tag inside the URI is not the To tag; a folded To is left to the real parser
    in_uri = ack.replace(b"<sip:x@127.0.0.1>;tag=vxshed1234", b"<sip:x@h;tag=vxshed1>", 1)
    assert not is_ack_with_tag(in_uri, b"vxshed")
    assert not is_ack_with_tag(ack.replace(b">;tag=", b">\r\n ;tag=", 1), b"vxshed")
    assert not is_ack_with_tag(ack.replace(b"\r\nTo: ", b"\r\nTop: ", 1), b"vxshed")
    assert not is_ack_with_tag(ack[: ack.index(b"\r\n\r\n")], b"vxshed")  # no header end


SEEDS = [p.read_bytes() for p in sorted((FIXTURES / "rfc4475").glob("*.sip"))]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=400),
        st.sampled_from([INVITE, *SEEDS]).flatmap(
            lambda seed: st.tuples(
                st.just(seed), st.integers(0, len(seed)), st.binary(max_size=8)
            ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :])
        ),
    )
)
def test_quick_reading_never_raises_and_its_refusals_parse(data: bytes) -> None:
    call_id(data)
    is_ack_with_tag(data, b"vxshed")
    invite = new_invite(data)
    if invite is None:
        return
    refusal = invite.refusal(SOURCE, tag=b"vxshed1")
    if refusal is None:
        return
    try:
        response = parse_message(refusal[0])
    except RemoteProtocolError:
        # the refusal copies the INVITE's headers as they are: a broken one stays broken,
        # but only if the INVITE itself was broken
        try:
            parse_message(data)
        except RemoteProtocolError:
            return
        raise
    assert isinstance(response, SipResponse) and response.status == 503
