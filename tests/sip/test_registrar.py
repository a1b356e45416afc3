"""The registrar's location table: expiry policy, refresh, removal, ordering, sources."""

from __future__ import annotations

import pytest

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import SipRequest, parse_message
from voxgate.sip.registrar import (
    ContactChange,
    ExpiryPolicy,
    LocationTable,
    Registration,
    parse_register,
    register_ok,
)
from voxgate.sip.uri import SipURI, parse_uri

PHONE = ("192.0.2.10", 40000)
NATTED = ("198.51.100.7", 61000)


def register(
    *contacts: str,
    expires: str | None = None,
    call_id: str = "reg-1",
    cseq: int = 1,
    to: str = "sip:1001@pbx.example",
) -> SipRequest:
    lines = [
        "REGISTER sip:pbx.example SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKr1;rport",
        "Max-Forwards: 70",
        f"To: <{to}>",
        f"From: <{to}>;tag=f1",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *[f"Contact: {c}" for c in contacts],
        *([f"Expires: {expires}"] if expires is not None else []),
        "Content-Length: 0",
    ]
    msg = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(msg, SipRequest)
    return msg


def uri(text: str) -> SipURI:
    parsed = parse_uri(text)
    assert isinstance(parsed, SipURI)
    return parsed


def apply(
    table: LocationTable,
    request: SipRequest,
    now: float,
    source: tuple[str, int] = PHONE,
    transport: str = "UDP",
) -> list[str]:
    bindings = table.update(parse_register(request), source=source, transport=transport, now=now)
    return [str(b.contact) for b in bindings]


# -- what a REGISTER asks for -------------------------------------------------------------


def test_contact_expires_param_wins_over_the_expires_header() -> None:
    reg = parse_register(
        register("<sip:1001@192.0.2.10:40000>;expires=120", "<sip:1001@10.0.0.2>", expires="300")
    )
    assert reg.aor == "1001" and reg.call_id == "reg-1" and reg.cseq == 1
    assert [c.expires for c in reg.contacts] == [120, 300]


def test_expiry_defaults_and_clamps() -> None:
    def granted(contact: str, expires: str | None = None) -> int:
        return parse_register(register(contact, expires=expires)).contacts[0].expires

    assert granted("<sip:a@192.0.2.10>") == 3600  # neither given
    assert granted("<sip:a@192.0.2.10>;expires=10") == 60  # below the minimum
    assert granted("<sip:a@192.0.2.10>;expires=86400") == 3600  # above the maximum
    assert granted("<sip:a@192.0.2.10>;expires=99999999999999") == 3600
    assert granted("<sip:a@192.0.2.10>", expires="0") == 0  # removal stays removal
    assert granted("<sip:a@192.0.2.10>;expires=soon") == 3600  # malformed: the default
    tight = ExpiryPolicy(minimum=30, maximum=90, default=60)
    assert parse_register(register("<sip:a@192.0.2.10>"), tight).contacts[0].expires == 60
    assert tight.clamp(5) == 30 and tight.clamp(500) == 90 and tight.clamp(0) == 0


def test_wildcard_needs_expires_zero_and_no_other_contact() -> None:
    reg = parse_register(register("*", expires="0"))
    assert reg.wildcard and not reg.contacts
    with pytest.raises(RemoteProtocolError) as err:
        parse_register(register("*", expires="60"))
    assert err.value.status == 400
    with pytest.raises(RemoteProtocolError):
        parse_register(register("*"))
    with pytest.raises(RemoteProtocolError):
        parse_register(register("*", "<sip:1001@192.0.2.10>", expires="0"))


def test_unusable_registers_are_refused_with_400() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        parse_register(register("<tel:+14155550100>"))
    assert err.value.status == 400
    with pytest.raises(RemoteProtocolError):
        parse_register(register("<sip:192.0.2.10>", to="sip:pbx.example"))  # no user part


def test_no_contact_is_a_query() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001@192.0.2.10:40000>"), now=0)
    reg = parse_register(register(cseq=2))
    assert reg.is_query
    assert [b.contact for b in table.update(reg, source=PHONE, transport="UDP", now=1)] == [
        uri("sip:1001@192.0.2.10:40000")
    ]


# -- the table ----------------------------------------------------------------------------


def test_binding_keeps_source_transport_and_expiry() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001-x@10.0.0.2:5060>;expires=60"), 100.0, NATTED, "TCP")
    [binding] = table.lookup("1001", 100.0)
    assert binding.contact == uri("sip:1001-x@10.0.0.2:5060")
    assert binding.source == NATTED and binding.transport == "TCP"
    assert binding.remaining(100.0) == 60 and binding.remaining(159.5) == 1
    assert binding.remaining(160.0) == 0 and binding.remaining(500.0) == 0
    # (now + 60) - now is 60.00000000000023 here: still 60 seconds granted, not 61
    now = 1998.0194432403175
    apply(table, register("<sip:1001@192.0.2.10:40000>;expires=60", cseq=2), now)
    assert table.lookup("1001", now)[0].remaining(now) == 60
    assert table.lookup("1002", 100.0) == []


def test_expired_bindings_are_dropped_when_looked_up() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001@192.0.2.10:40000>;expires=60"), 0.0)
    assert len(table.lookup("1001", 59.9)) == 1
    assert table.is_source(PHONE, 59.9)
    assert table.lookup("1001", 60.0) == []
    assert "1001" not in table and len(table) == 0
    assert not table.is_source(PHONE, 60.0)


def test_refresh_extends_the_expiry_and_follows_a_new_source() -> None:
    table = LocationTable()
    contact = "<sip:1001@192.0.2.10:40000>;expires=60"
    apply(table, register(contact, cseq=1), 0.0)
    apply(table, register(contact, cseq=2), 50.0, source=NATTED)
    [binding] = table.lookup("1001", 100.0)  # would have expired at 60 without the refresh
    assert binding.expires_at == 110.0 and binding.cseq == 2
    assert binding.source == NATTED
    assert table.is_source(NATTED, 100.0) and not table.is_source(PHONE, 100.0)


def test_expires_zero_removes_one_contact_and_wildcard_removes_all() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001@192.0.2.10:40000>", "<sip:1001@192.0.2.11>", cseq=1), 0.0)
    assert len(table.lookup("1001", 1.0)) == 2
    left = apply(table, register("<sip:1001@192.0.2.11>", expires="0", cseq=2), 1.0)
    assert left == ["sip:1001@192.0.2.10:40000"]
    assert apply(table, register("*", expires="0", cseq=3), 2.0) == []
    assert table.lookup("1001", 2.0) == [] and not table.is_source(PHONE, 2.0)


def test_out_of_order_register_changes_nothing() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001@192.0.2.10:40000>;expires=60", cseq=5), 0.0)
    late = register("<sip:1001@192.0.2.12>", "<sip:1001@192.0.2.10:40000>", expires="0", cseq=4)
    with pytest.raises(RemoteProtocolError) as err:
        apply(table, late, 1.0)
    assert err.value.status == 400
    # all or nothing: the first contact of the refused request was not added either
    assert apply(table, register(cseq=9), 1.0) == ["sip:1001@192.0.2.10:40000"]
    with pytest.raises(RemoteProtocolError):
        apply(table, register("*", expires="0", cseq=5), 1.0)
    # another Call-ID (the phone restarted) may start again from any CSeq
    assert apply(table, register("*", expires="0", call_id="reg-2", cseq=1), 2.0) == []


def test_most_recent_first_and_oldest_evicted_past_the_limit() -> None:
    table = LocationTable(max_bindings=3)
    for i in range(5):
        request = register(f"<sip:1001-{i}@192.0.2.10:{40000 + i}>", call_id=f"c{i}")
        apply(table, request, i, source=("192.0.2.10", 40000 + i))
    assert [b.contact.user for b in table.lookup("1001", 10.0)] == ["1001-4", "1001-3", "1001-2"]
    assert not table.is_source(PHONE, 10.0)  # 1001-0 came from port 40000: evicted
    assert table.is_source(("192.0.2.10", 40004), 10.0)


def test_purge_and_separate_aors() -> None:
    table = LocationTable()
    apply(table, register("<sip:1001@192.0.2.10>;expires=60"), 0.0)
    apply(table, register("<sip:1002@192.0.2.20>;expires=600", to="sip:1002@pbx.example"), 0.0)
    assert len(table) == 2
    assert table.purge(100.0) == 1
    assert "1001" not in table and [b.aor for b in table.lookup("1002", 100.0)] == ["1002"]


def test_register_ok_lists_each_binding_with_its_remaining_time() -> None:
    table = LocationTable()
    request = register("<sip:1001@192.0.2.10:40000>;expires=60", "<sip:1001@192.0.2.11>")
    bindings = table.update(parse_register(request), source=PHONE, transport="UDP", now=0.0)
    response = register_ok(request, bindings, 10.0)
    assert response.status == 200 and response.to.tag
    assert sorted(str(c) for c in response.contact) == [
        "<sip:1001@192.0.2.10:40000>;expires=50",
        "<sip:1001@192.0.2.11>;expires=3590",
    ]


def test_registration_values() -> None:
    change = ContactChange(uri("sip:1001@192.0.2.10"), 60)
    assert Registration("1001", "c", 1, (change,)).is_query is False
    assert Registration("1001", "c", 1).is_query
