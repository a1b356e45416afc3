"""Typed views built on first access: what parse_message rejects up front stays rejected.

``parse_message`` checks Via, From, To, Contact, Route, Record-Route, CSeq and a
Request-URI of the common shape with quick syntax checks and builds their typed views
on first access. A value outside the common shape is parsed at once, so a malformed
one is still answered with the parser's error (400) and never fails later.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.headers import PLAIN_VIAS, Headers, cseq_method, parse_cseq_value, parse_vias
from voxgate.sip.message import SipRequest, error_response, parse_message
from voxgate.sip.uri import (
    PLAIN_NAME_ADDR,
    PLAIN_NAME_ADDRS,
    PLAIN_SIP_URI,
    SipURI,
    parse_name_addr,
    parse_uri,
)

# regex-derived strategies are slow to draw from: fewer examples than the fuzz tests
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEPARATOR = st.from_regex(r"[ \t]{0,2},[ \t]{0,2}", fullmatch=True)

INVITE = (
    "INVITE {ruri} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:bob@example.com>\r\n"
    'From: "Alice" <sip:alice@example.com>;tag=1928301774\r\n'
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10>\r\n"
    "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


def invite(ruri: str = "sip:bob@198.51.100.7", **replace: str) -> bytes:
    """The INVITE above with whole header lines replaced (``From="From: ..."``)."""
    text = INVITE.format(ruri=ruri)
    for name, line in replace.items():
        start = text.index(f"\r\n{name.replace('_', '-')}:") + 2
        end = text.index("\r\n", start)
        text = text[:start] + line + text[end:]
    return text.encode()


def test_typed_views_are_built_on_first_access_and_cached() -> None:
    msg = parse_message(invite())
    assert isinstance(msg, SipRequest)
    assert not {"via", "from", "to", "contact", "record-route", "cseq"} & set(msg.headers._cache)
    assert msg._uri is None  # not parsed yet
    assert msg.from_ is msg.from_ and msg.from_.tag == "1928301774"
    assert msg.via[0].branch == "z9hG4bK776asdhds"
    routes = [str(r.uri) for r in msg.record_route]
    assert routes == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert msg.cseq.number == 314159 and msg.cseq.method == "INVITE"
    assert msg.uri is msg.uri and msg.uri == parse_uri("sip:bob@198.51.100.7")


@pytest.mark.parametrize(
    ("ruri", "replace"),
    [
        ("sip:bob@198.51.100.7:65536", {}),
        ("sip:bob@198.51.100.7?Subject=x", {}),
        ("sip:bob@-bad-", {}),
        ("sip:bob@h", {"From": "From: <sip:alice@example.com:70000>;tag=1"}),
        ("sip:bob@h", {"From": 'From: "Alice <sip:alice@example.com>;tag=1'}),
        ("sip:bob@h", {"To": "To: <sip:bob@example.com>;tag="}),
        ("sip:bob@h", {"To": "To: <sip:bob@exa mple.com>"}),
        ("sip:bob@h", {"Contact": "Contact: <sip:alice@[::1>"}),
        ("sip:bob@h", {"Contact": "Contact: <sip:a@h>, , <sip:b@h>"}),
        ("sip:bob@h", {"Record_Route": "Record-Route: <sip:p1;lr>, <sip:p2:99999;lr>"}),
        ("sip:bob@h", {"Via": "Via: SIP/2.0/UDP 192.0.2.10:65536;branch=z9hG4bK1"}),
        ("sip:bob@h", {"Via": "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1, "}),
        ("sip:bob@h", {"Via": "Via: SIP/2.0/UDP"}),
        ("sip:bob@h", {"CSeq": "CSeq: 2147483648 INVITE"}),
        ("sip:bob@h", {"CSeq": "CSeq: 1 BYE"}),
        ("sip:bob@h", {"CSeq": "CSeq: 1 INVITE x"}),
    ],
)
def test_malformed_values_are_rejected_at_parse_time(ruri: str, replace: dict[str, str]) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(invite(ruri, **replace))
    assert info.value.status == 400
    answer = error_response(info.value)  # what the engine sends back
    if "Via" not in replace:
        assert answer is not None and answer.status == 400


def test_a_route_header_outside_the_common_shape_is_checked_too() -> None:
    data = invite().replace(b"Content-Length", b'Route: <sip:p1;lr>;x="\r\nContent-Length')
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(data)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("ruri", "replace"),
    [
        ("SIP:Bob@Example.COM;Transport=UDP", {}),
        ("sip:%62ob@example.com", {}),
        ("tel:+1-201-555-0123", {}),
        ("sip:bob@h", {"From": "From: sip:alice@example.com;tag=1"}),
        ("sip:bob@h", {"From": 'From: "A \\"B\\"" <sip:alice@example.com>;tag=1'}),
        ("sip:bob@h", {"To": "To: <tel:+12015550123>"}),
        ("sip:bob@h", {"Contact": 'Contact: <sip:a@h>;+sip.instance="<urn:uuid:1>"'}),
        ("sip:bob@h", {"Via": "Via: SIP / 2.0 / UDP 192.0.2.10 ; branch = z9hG4bK1"}),
        ("sip:bob@h", {"CSeq": "CSeq: 0001\x0bINVITE"}),
    ],
)
def test_valid_values_outside_the_common_shape_still_parse(
    ruri: str, replace: dict[str, str]
) -> None:
    msg = parse_message(invite(ruri, **replace))
    assert isinstance(msg, SipRequest)
    msg.uri, msg.via, msg.from_, msg.to, msg.contact, msg.record_route, msg.cseq  # noqa: B018
    assert msg.cseq.method == "INVITE"


def test_an_unmodified_request_keeps_its_request_uri_as_received() -> None:
    msg = parse_message(invite("sip:bob@198.51.100.7:05060;Transport=udp"))
    assert bytes(msg).startswith(b"INVITE sip:bob@198.51.100.7:05060;Transport=udp SIP/2.0\r\n")
    assert isinstance(msg, SipRequest) and isinstance(msg.uri, SipURI)
    msg.uri.params["lr"] = None  # once parsed, the object is what is sent
    assert bytes(msg).startswith(b"INVITE sip:bob@198.51.100.7:5060;transport=udp;lr SIP/2.0")
    msg.uri = parse_uri("sip:carol@example.com")
    assert bytes(msg).startswith(b"INVITE sip:carol@example.com SIP/2.0\r\n")
    again = parse_message(invite("sip:bob@h"))
    assert isinstance(again, SipRequest)
    again.uri = parse_uri("sip:dave@example.com")  # replaced before it was ever parsed
    assert bytes(again).startswith(b"INVITE sip:dave@example.com SIP/2.0\r\n")


def test_a_value_changed_after_parsing_fails_with_a_protocol_error() -> None:
    msg = parse_message(invite())
    msg.headers.set("From", "<sip:alice@example.com:99999>;tag=1")
    with pytest.raises(RemoteProtocolError):
        msg.from_  # noqa: B018
    msg.headers.set("Via", "SIP/2.0/UDP")
    with pytest.raises(RemoteProtocolError):
        msg.via  # noqa: B018


# -- what a quick check accepts, the parser accepts ----------------------------------------


@PROPERTY
@given(st.from_regex(PLAIN_SIP_URI, fullmatch=True))
def test_plain_sip_uri_parses(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI) and not uri.headers


@PROPERTY
@given(st.from_regex(PLAIN_NAME_ADDR, fullmatch=True))
def test_plain_name_addr_parses(text: str) -> None:
    assert isinstance(parse_name_addr(text).uri, SipURI)


@PROPERTY
@given(
    st.lists(
        st.tuples(st.from_regex(PLAIN_NAME_ADDR, fullmatch=True), SEPARATOR), min_size=1, max_size=3
    )
)
def test_plain_name_addr_list_parses_element_by_element(parts: list[tuple[str, str]]) -> None:
    text = "".join(item + sep for item, sep in parts)[: -len(parts[-1][1])].strip(" \t")
    assert PLAIN_NAME_ADDRS.match(text)
    items = Headers([("Contact", text)]).get_list("contact")
    assert [isinstance(parse_name_addr(item).uri, SipURI) for item in items] == [True] * len(parts)


@settings(PROPERTY, max_examples=50)
@given(st.from_regex(PLAIN_VIAS, fullmatch=True))
def test_plain_via_list_parses(text: str) -> None:
    text = text.strip(" \t")
    assert len(parse_vias(Headers([("Via", text)]))) == text.count("SIP/2.0/")


@PROPERTY
@given(st.from_regex(r"[0-9]{1,11}[ \t]{1,3}[A-Za-z!%*_+`'~.-]{1,8}", fullmatch=True))
def test_cseq_check_agrees_with_the_parser(text: str) -> None:
    try:
        expected = parse_cseq_value(text).method
    except RemoteProtocolError:
        with pytest.raises(RemoteProtocolError):
            cseq_method(text)
    else:
        assert cseq_method(text) == expected


@PROPERTY
@given(
    st.sampled_from(["Via", "From", "To", "Contact", "Record-Route", "CSeq"]),
    st.text(alphabet=' \t"<>:;=,@.[]?%\\sipSIP/2.0UDPabc-_', max_size=60),
)
def test_any_header_value_parses_now_or_is_rejected_now(name: str, value: str) -> None:
    data = invite(**{name.replace("-", "_"): f"{name}: {value}"})
    try:
        msg = parse_message(data)
    except RemoteProtocolError as exc:
        assert exc.status == 400
        return
    msg.via, msg.from_, msg.to, msg.contact, msg.record_route, msg.cseq  # noqa: B018
