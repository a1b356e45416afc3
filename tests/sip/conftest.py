from __future__ import annotations

import pathlib

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "sip"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
