"""Coverage-guided fuzzing of the SIP parsers with atheris.

Run standalone: python tests/sip/fuzz_sip_atheris.py [-atheris_runs=N] [corpus_dir]
Any exception other than RemoteProtocolError from a parser is a crash, and so is
any exception reading the typed views of a message that parsed. (Not collected by pytest:
the file name does not start with ``test_``.)
"""

from __future__ import annotations

import contextlib
import pathlib
import sys

import atheris

with atheris.instrument_imports():
    from voxgate.sip.errors import RemoteProtocolError
    from voxgate.sip.message import SipRequest, parse_message
    from voxgate.sip.sdp import parse_sdp
    from voxgate.sip.uri import parse_name_addr

SEEDS = sorted((pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "sip").rglob("*.sip"))


def one_input(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except RemoteProtocolError:
        msg = None
    if msg is not None:  # what parsed serializes and its typed views read without errors
        bytes(msg)
        msg.via, msg.cseq, msg.call_id, msg.from_, msg.to, msg.max_forwards  # noqa: B018
        msg.contact, msg.record_route, msg.route  # noqa: B018
        if isinstance(msg, SipRequest):
            str(msg.uri)
    with contextlib.suppress(RemoteProtocolError):
        parse_sdp(data)
    with contextlib.suppress(RemoteProtocolError):
        parse_name_addr(data.decode("utf-8", "replace"))


def main() -> None:
    args = list(sys.argv)
    corpus = [a for a in args[1:] if not a.startswith("-")]
    if corpus:
        target = pathlib.Path(corpus[0])
        for seed in SEEDS:
            (target / seed.name).write_bytes(seed.read_bytes())
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
