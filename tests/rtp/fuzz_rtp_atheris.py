"""Coverage-guided fuzzing of the RTP, RTCP and telephone-event parsers with atheris.

Run standalone (libFuzzer flags pass through), for example::

    .venv/bin/python tests/rtp/fuzz_rtp_atheris.py -runs=1000000 -max_len=1500

Any exception other than RtpParseError is a crash. pytest does not collect this file (its name
does not start with ``test_``); ``test_rtp_fuzz.py`` runs it for a bounded number of inputs.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from voxgate.media.jitterbuffer import JitterBuffer
    from voxgate.rtp import (
        DtmfReceiver,
        OutboundStream,
        RtpPacket,
        RtpParseError,
        RtpRelay,
        parse_rtcp,
        serialize_rtcp,
    )


def one_input(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        pass
    else:
        if RtpPacket.parse(packet.serialize()) != packet:
            raise AssertionError(f"RTP round trip changed {packet!r}")
    try:
        packets = parse_rtcp(data)
    except RtpParseError:
        pass
    else:
        if parse_rtcp(serialize_rtcp(packets)) != packets:
            raise AssertionError(f"RTCP round trip changed {packets!r}")
    receiver = DtmfReceiver()
    relay = RtpRelay(OutboundStream(payload_type=0, ssrc=1, sequence=0, timestamp=0))
    jitter = JitterBuffer(capacity=8, prefetch=2)
    for i in range(0, len(data) - 7, 8):
        chunk = data[i : i + 8]
        timestamp = int.from_bytes(chunk[4:8], "big")
        receiver.feed(chunk[:4], timestamp, bool(chunk[0] & 1), i / 100)
        receiver.handle_timer(i / 100)
        relay.forward(data[i:], now=i / 100)
        jitter.put(int.from_bytes(chunk[:2], "big"), timestamp, chunk)
        jitter.pop()


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
