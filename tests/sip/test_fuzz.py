"""Hostile input: the parsers raise RemoteProtocolError and nothing else."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import SipRequest, StreamFramer, parse_message
from voxgate.sip.sdp import parse_sdp
from voxgate.sip.uri import parse_name_addr, parse_uri

from .conftest import FIXTURES

SEEDS = [p.read_bytes() for p in sorted((FIXTURES / "rfc4475").glob("*.sip"))]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exercise(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except RemoteProtocolError:
        return
    bytes(msg)  # whatever parsed must serialize
    # and every typed view, built on first access, must be readable without an error
    for view in ("via", "cseq", "call_id", "from_", "to", "contact", "record_route", "route"):
        getattr(msg, view)
    msg.max_forwards  # noqa: B018
    if isinstance(msg, SipRequest):
        str(msg.uri)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    exercise(data)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(min_size=0, max_size=4)), max_size=6),
)
def test_mutated_torture_messages(seed: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(seed)
    for pos, chunk in edits:
        pos %= len(data) + 1
        data[pos : pos + len(chunk)] = chunk
    exercise(bytes(data))


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(0, 3000), st.integers(0, 3000))
def test_truncated_and_spliced(seed: bytes, a: int, b: int) -> None:
    exercise(seed[: a % (len(seed) + 1)] + seed[b % (len(seed) + 1) :])


@FUZZ
@given(st.text(max_size=120))
def test_uri_and_name_addr_text(text: str) -> None:
    for fn in (parse_uri, parse_name_addr):
        with contextlib.suppress(RemoteProtocolError):
            fn(text)


@FUZZ
@given(st.binary(max_size=300))
def test_sdp_bytes(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_sdp(b"v=0\r\no=- 1 1 IN IP4 h\r\n" + data)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_stream_framer(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_size=2000)
    try:
        for chunk in chunks:
            for frame in framer.feed(chunk):
                exercise(frame)
    except RemoteProtocolError:
        pass


@pytest.mark.slow
def test_atheris_harness_runs_clean(tmp_path: pathlib.Path) -> None:
    import atheris  # noqa: F401  (a missing fuzzer must fail, not skip)

    harness = pathlib.Path(__file__).with_name("fuzz_sip_atheris.py")
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    proc = subprocess.run(
        [sys.executable, str(harness), "-atheris_runs=20000", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
