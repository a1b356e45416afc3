"""Coverage-guided fuzzing of the SIP parsers with atheris.

Run standalone: python tests/sip/fuzz_sip_atheris.py [-atheris_runs=N] [corpus_dir]
Any exception other than RemoteProtocolError is a crash. (Not collected by pytest:
the file name does not start with ``test_``.)
"""

from __future__ import annotations

import contextlib
import pathlib
import sys

import atheris

with atheris.instrument_imports():
    from voxgate.sip.errors import RemoteProtocolError
    from voxgate.sip.message import parse_message
    from voxgate.sip.sdp import parse_sdp
    from voxgate.sip.uri import parse_name_addr

SEEDS = sorted((pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "sip").rglob("*.sip"))


def one_input(data: bytes) -> None:
    try:
        msg = parse_message(data)
        bytes(msg)
        msg.contact  # noqa: B018
        msg.record_route  # noqa: B018
    except RemoteProtocolError:
        pass
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
