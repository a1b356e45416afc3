"""RTCP packets (RFC 3550 §6) and receiver statistics (A.1, A.3, A.8)."""

from __future__ import annotations

import pytest

from voxgate.rtp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpUnknown,
    RtpParseError,
    RtpReceiverStats,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_middle32,
    ntp_time,
    parse_rtcp,
    serialize_rtcp,
)

BLOCK = ReportBlock(
    ssrc=0x22,
    fraction_lost=51,
    cumulative_lost=-3,
    highest_sequence=0x1_0005,
    jitter=9,
    lsr=0x12345678,
    dlsr=0x10000,
)


def test_compound_sr_sdes_bye_round_trips() -> None:
    packets = [
        SenderReport(
            ssrc=0x11,
            ntp_timestamp=ntp_time(1_700_000_000.5),
            rtp_timestamp=160,
            packet_count=50,
            octet_count=8000,
            reports=(BLOCK,),
        ),
        SourceDescription(
            (
                SdesChunk(0x11, ((1, b"voxgate@host"), (6, b"voxgate"))),
                SdesChunk(0x12, ((1, b"abc"),)),
            )
        ),
        Bye((0x11, 0x12), b"call ended"),
    ]
    data = serialize_rtcp(packets)
    assert len(data) % 4 == 0
    assert parse_rtcp(data) == packets
    sdes = parse_rtcp(data)[1]
    assert isinstance(sdes, SourceDescription)
    assert sdes.chunks[0].cname == b"voxgate@host"


def test_receiver_report_wire_layout_with_negative_cumulative_loss() -> None:
    data = ReceiverReport(ssrc=0x11, reports=(BLOCK,)).serialize()
    assert data.hex() == ("81c90007000000110000002233fffffd00010005000000091234567800010000")
    assert parse_rtcp(data) == [ReceiverReport(0x11, (BLOCK,))]


def test_unknown_types_and_padding() -> None:
    app = RtcpUnknown(packet_type=204, count=1, body=b"\x00\x00\x00\x11name1234")
    data = serialize_rtcp([ReceiverReport(0x11), app])
    assert parse_rtcp(data) == [ReceiverReport(0x11), app]
    # The same compound with 4 bytes of padding on the last packet (P bit, length + 1 word).
    padded = data[:8] + bytes([0xA1, 204, 0x00, 0x04]) + data[12:] + b"\x00\x00\x00\x04"
    assert parse_rtcp(padded) == [ReceiverReport(0x11), app]


def test_sdes_chunk_whose_items_fill_a_whole_word_gets_a_null_word() -> None:
    sdes = SourceDescription((SdesChunk(1, ((1, b"ab"),)),))  # 4 + 2 + 2 = 8: needs 4 nulls
    data = sdes.serialize()
    assert data[-4:] == b"\x00\x00\x00\x00"
    assert parse_rtcp(data) == [sdes]


@pytest.mark.parametrize(
    "hexdata",
    [
        "",
        "80c9",
        "40c90001 00000011",  # version 1
        "81c90001 00000011",  # RR with a block but no room
        "80c90005 00000011",  # length past the end
        "a0c90001 00000011",  # padding byte 0x11 > body
        "a0c90001 00000000",  # padding length 0
        "a0c90001 00000004 80c90001 00000011",  # padding not in last packet
        "81ca0002 00000011 01050041",  # SDES item past the end
        "81ca0001 00000011",  # SDES chunk without END
        "82cb0001 00000011",  # BYE source list past the end
        "81cb0002 00000011 09414243",  # BYE reason past the end
        "80c80001 00000011",  # SR too short
    ],
)
def test_malformed_rtcp_raises_the_parse_error(hexdata: str) -> None:
    with pytest.raises(RtpParseError):
        parse_rtcp(bytes.fromhex(hexdata))


def test_ntp_helpers() -> None:
    ntp = ntp_time(0.0)
    assert ntp >> 32 == 2_208_988_800 and ntp & 0xFFFFFFFF == 0
    assert ntp_time(1.5) & 0xFFFFFFFF == 0x80000000
    assert ntp_middle32(0x0123_4567_89AB_CDEF) == 0x4567_89AB


def test_round_trip_time_from_lsr_and_dlsr() -> None:
    sent = ntp_time(100.0)
    block = ReportBlock(1, 0, 0, 0, 0, lsr=ntp_middle32(sent), dlsr=int(0.25 * 65536))
    rtt = block.round_trip_time(ntp_time(100.35))
    assert rtt == pytest.approx(0.1, abs=1e-4)
    assert ReportBlock(1, 0, 0, 0, 0).round_trip_time(ntp_time(5.0)) is None


# -- receiver statistics ---------------------------------------------------------------


def test_jitter_matches_a_hand_computed_rfc3550_example() -> None:
    # 8 kHz, 20 ms packets. Transit times in timestamp units: 0, 80, 0, 0.
    # J1 = 0 + (80 - 0)/16 = 5; J2 = 5 + (80 - 5)/16 = 9.6875; J3 = 9.6875 + (0 - 9.6875)/16
    stats = RtpReceiverStats(ssrc=7)
    for seq, ts, arrival in [(0, 0, 10.000), (1, 160, 10.030), (2, 320, 10.040), (3, 480, 10.060)]:
        assert stats.on_packet(seq, ts, arrival)
    assert stats.jitter_units == pytest.approx(9.08203125)
    assert stats.jitter == 9
    assert stats.jitter_seconds == pytest.approx(9.08203125 / 8000)


def test_loss_fraction_and_cumulative_loss() -> None:
    stats = RtpReceiverStats(ssrc=7)
    for seq in [100, 101, 102, 104, 106, 107, 108, 109]:  # 103 and 105 lost
        stats.on_packet(seq, seq * 160, seq * 0.02)
    block = stats.report_block(now=3.0)
    assert (block.cumulative_lost, block.fraction_lost, block.highest_sequence) == (2, 51, 109)
    # Next interval: nothing lost → fraction 0, cumulative stays.
    for seq in range(110, 120):
        stats.on_packet(seq, seq * 160, seq * 0.02)
    block = stats.report_block(now=4.0)
    assert (block.cumulative_lost, block.fraction_lost) == (2, 0)


def test_sequence_wrap_and_duplicates() -> None:
    stats = RtpReceiverStats(ssrc=7)
    for seq in [65533, 65534, 65535, 0, 1, 1, 2]:
        stats.on_packet(seq, 0, 0.0)
    assert stats.extended_max_seq == 65536 + 2
    assert stats.cycles == 65536
    assert stats.duplicates_or_late == 1
    assert stats.cumulative_lost == 0  # a duplicate is not loss...
    assert stats.received == 6


def test_late_reordered_packet_counts_as_received() -> None:
    stats = RtpReceiverStats(ssrc=7)
    for seq in [10, 12, 13, 11]:
        stats.on_packet(seq, seq * 160, seq * 0.02)
    assert stats.cumulative_lost == 0
    assert stats.extended_max_seq == 13


def test_a_wild_jump_is_believed_only_when_confirmed() -> None:
    stats = RtpReceiverStats(ssrc=7)
    for seq in range(10):
        stats.on_packet(seq, seq * 160, seq * 0.02)
    assert not stats.on_packet(40000, 0, 1.0)  # one stray packet: ignored
    assert stats.on_packet(10, 1600, 0.2)
    assert not stats.on_packet(50000, 0, 1.0)
    assert stats.on_packet(50001, 160, 1.02)  # confirmed: the sender restarted
    assert stats.base_seq == 50001 and stats.received == 1


def test_lsr_and_dlsr_come_from_the_last_sender_report() -> None:
    stats = RtpReceiverStats(ssrc=7)
    stats.on_packet(1, 160, 1.0)
    stats.on_sender_report(0x0011_2233_4455_6677, arrival=2.0)
    block = stats.report_block(now=2.5)
    assert block.lsr == 0x2233_4455
    assert block.dlsr == 32768
    assert "lost=0" in repr(stats)
