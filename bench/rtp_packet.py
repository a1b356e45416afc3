"""Per-packet cost of building RTP packets, against a bare ``struct.pack`` in the same run.

    .venv/bin/python bench/rtp_packet.py

Prints nanoseconds per packet and the ratio to the baseline for: the bare pack; ``pack_rtp``;
``RtpPacket(...).serialize()``; ``OutboundStream.audio`` (what a playing leg calls every 20 ms);
``RtpRelay.forward`` (what a bridge does per packet); and ``RtpPacket.parse``.
"""

from __future__ import annotations

import struct
import timeit

from voxgate.rtp import OutboundStream, RtpPacket, RtpRelay, pack_rtp

FRAME = bytes(160)  # one pre-encoded 20 ms G.711 frame
N = 100_000
HEADER = struct.Struct("!BBHII")


def main() -> None:
    pack = HEADER.pack
    stream = OutboundStream(payload_type=0, ssrc=1, sequence=0, timestamp=0)
    relay = RtpRelay(OutboundStream(payload_type=0, ssrc=2, sequence=0, timestamp=0))
    wire = pack_rtp(0, 1, 160, 3, FRAME)
    state = {"seq": 0, "ts": 0}

    def baseline() -> bytes:
        seq = state["seq"] = (state["seq"] + 1) & 0xFFFF
        ts = state["ts"] = (state["ts"] + 160) & 0xFFFF_FFFF
        return pack(0x80, 0, seq, ts, 1) + FRAME

    cases = {
        "struct.pack baseline (+seq/ts)": baseline,
        "struct.pack, constant fields": lambda: pack(0x80, 0, 1, 160, 1) + FRAME,
        "pack_rtp": lambda: pack_rtp(0, 1, 160, 1, FRAME),
        "RtpPacket(...).serialize()": lambda: RtpPacket(
            payload_type=0, sequence=1, timestamp=160, ssrc=1, payload=FRAME
        ).serialize(),
        "OutboundStream.audio": lambda: stream.audio(FRAME),
        "OutboundStream.audio(now=)": lambda: stream.audio(FRAME, now=1.0),
        "RtpRelay.forward": lambda: relay.forward(wire, 1.0),
        "RtpPacket.parse": lambda: RtpPacket.parse(wire),
    }
    results = {}
    for name, fn in cases.items():
        best = min(timeit.repeat(fn, number=N, repeat=9))
        results[name] = best / N * 1e9
    base = results["struct.pack baseline (+seq/ts)"]
    print(f"{'case':34} {'ns/packet':>10} {'ratio':>7}")
    for name, ns in results.items():
        print(f"{name:34} {ns:10.0f} {ns / base:7.2f}")


if __name__ == "__main__":
    main()
