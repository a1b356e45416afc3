"""Bench: INVITE parse + serialize, against plain byte splitting of the same message.

Run: .venv/bin/python bench/sip_parse.py
"""

from __future__ import annotations

import time

from voxgate.sip.message import parse_message

INVITE = (
    b"INVITE sip:+15551234567@198.51.100.7:5060;transport=UDP SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---a4f3c9d2e1b0;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=UDP>\r\n"
    b"To: <sip:+15551234567@198.51.100.7>\r\n"
    b'From: "Alice" <sip:alice@example.com>;tag=9fxced76sl\r\n'
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: softphone 1.0\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 222\r\n"
    b"\r\n"
    b"v=0\r\n"
    b"o=- 1000 1000 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)


def _per_call(fn: object, n: int) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def baseline() -> object:
    head, _, body = INVITE.partition(b"\r\n\r\n")
    return [line.split(b":", 1) for line in head.split(b"\r\n")[1:]], body


def parse_only() -> object:
    return parse_message(INVITE)


def parse_serialize() -> object:
    return parse_message(INVITE).to_bytes()


def main() -> None:
    n = 20_000
    base = _per_call(baseline, n)
    parse = _per_call(parse_only, n)
    both = _per_call(parse_serialize, n)
    print(f"baseline bytes.split          {base:7.2f} us")
    print(f"parse_message                 {parse:7.2f} us  ({parse / base:5.1f}x baseline)")
    print(f"parse_message + to_bytes      {both:7.2f} us  ({both / base:5.1f}x baseline)")
    print(f"target <= 30 us: {'met' if both <= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
