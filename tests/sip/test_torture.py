"""RFC 4475 torture messages: valid ones parse, invalid ones get the right status."""

from __future__ import annotations

import pytest

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import (
    SipRequest,
    SipResponse,
    check_request,
    error_response,
    parse_message,
)

from .conftest import FIXTURES

# name -> None (parses and passes UAS checks), or (status, stage) where stage is
# "parse" (rejected by parse_message) or "check" (parses; rejected by check_request).
EXPECTED: dict[str, tuple[int, str] | None] = {
    # 3.1.1 valid
    "wsinv": None, "intmeth": None, "esc01": None, "escnull": None, "esc02": None,
    "lwsdisp": None, "longreq": None, "dblreq": None, "semiuri": None, "transports": None,
    "mpart01": (415, "check"), "unreason": None, "noreason": None,
    # 3.1.2 invalid
    "badinv01": (400, "parse"), "clerr": (400, "parse"), "ncl": (400, "parse"),
    "scalar02": (400, "parse"), "scalarlg": (400, "parse"), "quotbal": (400, "parse"),
    "ltgtruri": (400, "parse"), "lwsruri": (400, "parse"), "lwsstart": (400, "parse"),
    "trws": (400, "parse"), "escruri": (400, "parse"), "baddate": (400, "parse"),
    "regbadct": (400, "parse"), "badaspec": (400, "parse"), "baddn": (400, "parse"),
    "badvers": (505, "parse"), "mismatch01": (400, "parse"), "mismatch02": (400, "parse"),
    "bigcode": (400, "parse"),
    # 3.2 transaction layer
    "badbranch": None,
    # 3.3 application layer
    "insuf": (400, "parse"), "unkscm": (416, "check"), "novelsc": (416, "check"),
    "unksm2": None, "bext01": (420, "check"), "invut": (415, "check"), "regaut01": None,
    "multi01": (400, "parse"), "mcl01": (400, "parse"), "bcast": None, "zeromf": None,
    "cparam01": None, "cparam02": None, "regescrt": None, "sdp01": (406, "check"),
    # 3.4 backwards compatibility
    "inv2543": None,
}  # fmt: skip

ALL = sorted(p.stem for p in (FIXTURES / "rfc4475").glob("*.sip"))


def load(name: str) -> bytes:
    return (FIXTURES / "rfc4475" / f"{name}.sip").read_bytes()


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == ALL
    assert len(ALL) == 49


@pytest.mark.parametrize("name", ALL)
def test_torture(name: str) -> None:
    expected = EXPECTED[name]
    data = load(name)
    if expected is not None and expected[1] == "parse":
        with pytest.raises(RemoteProtocolError) as info:
            parse_message(data)
        assert info.value.status == expected[0], info.value.reason
        return
    msg = parse_message(data)
    assert bytes(msg)  # serializes
    again = parse_message(bytes(msg))  # and the serialization parses again
    assert type(again) is type(msg)
    if isinstance(msg, SipRequest):
        if expected is None:
            check_request(msg)
        else:
            with pytest.raises(RemoteProtocolError) as info:
                check_request(msg)
            assert info.value.status == expected[0]
    else:
        assert isinstance(msg, SipResponse)


def test_error_response_for_rejected_requests() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(load("badvers"))
    resp = error_response(info.value)
    assert resp is not None and resp.status == 505
    assert resp.headers.get("call-id") == "badvers.31417@c.example.com"
    assert ";tag=" in (resp.headers.get("to") or "")
    again = parse_message(bytes(resp))
    assert isinstance(again, SipResponse)


def test_no_response_when_headers_are_missing_or_for_responses() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(load("insuf"))
    assert error_response(info.value) is None  # no From/To/Call-ID to copy
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(load("bigcode"))
    assert error_response(info.value) is None  # a response is never answered


def test_wsinv_details() -> None:
    msg = parse_message(load("wsinv"))
    assert isinstance(msg, SipRequest)
    assert msg.from_.display == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.to.tag == "1918181833n"
    assert msg.max_forwards == 68
    assert msg.cseq.number == 9 and msg.cseq.method == "INVITE"
    assert [v.host for v in msg.via] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v.transport for v in msg.via] == ["UDP", "TCP", "UDP"]
    assert msg.via[2].branch == "z9hG4bK30239"
    assert msg.headers.get("subject") == ""
    assert msg.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    contact = msg.contact[0]
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(msg.body) == 150


def test_escapes_are_decoded() -> None:
    msg = parse_message(load("esc01"))
    assert isinstance(msg, SipRequest)
    assert msg.uri.user == "sips:user@example.com"  # type: ignore[union-attr]
    assert msg.to.uri.user == "user"  # type: ignore[union-attr]
    c = msg.contact[0].uri
    assert c.user == "caller" and c.params == {"lr": None, "name": "value%41"}  # type: ignore[union-attr]
    nul = parse_message(load("escnull"))
    assert [c.uri.user for c in nul.contact] == ["\x00", "\x00\x00"]  # type: ignore[union-attr]


def test_intmeth_and_esc02_unknown_methods() -> None:
    msg = parse_message(load("intmeth"))
    assert isinstance(msg, SipRequest)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"  # type: ignore[union-attr]
    esc = parse_message(load("esc02"))
    assert isinstance(esc, SipRequest) and esc.method == "RE%47IST%45R"
    assert len(esc.contact) == 2  # C%6Fntact is another header
    assert esc.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_dblreq_discards_trailing_octets() -> None:
    msg = parse_message(load("dblreq"))
    assert isinstance(msg, SipRequest) and msg.method == "REGISTER" and msg.body == b""


def test_unknown_schemes_elsewhere_are_kept() -> None:
    msg = parse_message(load("unksm2"))
    assert str(msg.to.uri) == "isbn:2983792873"
    assert str(msg.contact[0].uri) == "name:John_Smith"


def test_longreq_compact_and_case_variants() -> None:
    msg = parse_message(load("longreq"))
    assert len(msg.via) == 34
    assert msg.headers.count("Via") == 34
    assert msg.via[-1].received == "192.0.2.5"
