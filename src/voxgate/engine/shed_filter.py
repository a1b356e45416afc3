"""A socket filter that drops, in the kernel, the ACKs of our stateless refusals.

Every INVITE refused under overload comes back as an ACK (RFC 3261 §17.1.1.3) that
carries the To tag the 503 gave it. Reading and discarding that ACK costs the engine a
system call and a pass over the datagram, a third of what a refusal costs, at the moment
it has no time to spare. A classic BPF program attached to the SIP socket
(``SO_ATTACH_FILTER``) drops those ACKs before they are queued: the work happens in the
kernel, in the sender's context on loopback or in the network softirq otherwise.

The program (built here, pure) passes everything that is not an ACK after two loads.
An ACK is searched for ``tag=`` + the first six bytes of the refusal tag prefix, within
the first ``window`` bytes of its payload:

* one aligned four-byte load per four bytes, compared with the four aligned slices of
  ``=`` + prefix (so the search needs no loop, which classic BPF does not have): eight
  instructions per four bytes;
* a hit is checked in full by the verifier of its alignment, indexed by the X register;
* anything unsure is passed to the engine, which recognises the ACK itself as before:
  a tag past the window, an upper-case ``TAG=``, or an anchor before the tag that does
  not verify (the search cannot go back to where it was, so it stops there: a word
  like "finished" before the To header is enough).

A tag beginning with the prefix is only ever ours (the tags we make otherwise are hex),
so an ACK that carries one belongs to a refusal, whichever header it sits in.
"""

from __future__ import annotations

import ctypes
import logging
import socket
import struct
from dataclasses import dataclass

log = logging.getLogger(__name__)

SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>
UDP_HEADER = 8  # a UDP socket's filter sees the datagram from its UDP header on

# classic BPF opcodes (<linux/bpf_common.h>)
_LD_W_ABS, _LD_W_IND, _LD_H_IND, _LD_W_LEN, _LD_MEM = 0x20, 0x40, 0x48, 0x80, 0x60
_LDX_IMM, _ST, _ALU_SUB_K, _ALU_SUB_X = 0x01, 0x02, 0x14, 0x1C
_JA, _JEQ_K, _JGE_K, _RET_K = 0x05, 0x15, 0x35, 0x06

PASS = 0xFFFFFFFF  # keep the whole datagram
DROP = 0
MAX_JUMP = 255  # conditional jumps are 8-bit forward offsets
BLOCK = 8  # instructions per anchor block (four payload bytes)
BLOCKS_PER_GROUP = 31  # anchor blocks before their trampolines, to stay within MAX_JUMP


@dataclass(frozen=True, slots=True)
class Instruction:
    code: int
    jt: int
    jf: int
    k: int

    def pack(self) -> bytes:
        return struct.pack("HBBI", self.code, self.jt, self.jf, self.k & 0xFFFFFFFF)


def _word(data: bytes) -> int:
    return int.from_bytes(data, "big")  # BPF loads are in network order


class _Program:
    def __init__(self) -> None:
        self.code: list[Instruction] = []

    def __len__(self) -> int:
        return len(self.code)

    def add(self, code: int, k: int = 0, *, jt: int = 0, jf: int = 0) -> int:
        self.code.append(Instruction(code, jt, jf, k))
        return len(self.code) - 1


def shed_ack_program(prefix: bytes, *, window: int, base: int = UDP_HEADER) -> list[Instruction]:
    """The filter dropping ACKs that carry ``tag=`` + ``prefix`` in the first ``window``
    bytes of their payload (which starts ``base`` bytes into what the filter sees)."""
    if len(prefix) < 6:
        raise ValueError("the tag prefix must be at least 6 bytes, to be told apart")
    needle = b"tag=" + prefix[:6]  # ten bytes: two words and a half-word
    program = _Program()
    _pass_all_but_acks(program, base)
    jumps = _search(program, needle, range(base + 8, base + window, 4))
    for a in range(4):  # the verifier of each alignment, now that it has its place
        verifier = len(program)
        for at in jumps[a]:
            program.code[at] = Instruction(_JA, 0, 0, verifier - (at + 1))
        _verify(program, needle, start=3 - a)
    _check(program.code)
    return program.code


def _pass_all_but_acks(program: _Program, base: int) -> None:
    """Pass what is not an ACK (or too short to tell); keep M[0] = the last offset a
    word can be loaded from."""
    program.add(_LD_W_LEN)
    program.add(_JGE_K, base + 4, jt=1)
    program.add(_RET_K, PASS)
    program.add(_LD_W_ABS, base)
    program.add(_JEQ_K, _word(b"ACK "), jt=1)
    program.add(_RET_K, PASS)
    program.add(_LD_W_LEN)
    program.add(_ALU_SUB_K, 4)
    program.add(_ST, 0)


def _search(program: _Program, needle: bytes, offsets: range) -> list[list[int]]:
    """One block per aligned word at ``offsets``: past the datagram's end, pass; else X =
    q - 6 and, if the word equals the aligned slice ``a`` of ``=`` + prefix (the needle
    from its fourth byte, so the needle starts at X + 3 - a), on to the verifier of that
    alignment, through the trampolines after each group of blocks (conditional jumps
    reach 255 instructions at most). Returns the trampolines' jumps per alignment."""
    tail = needle[3:]
    anchors = [_word(tail[a : a + 4]) for a in range(4)]
    jumps: list[list[int]] = [[], [], [], []]
    for first in range(0, len(offsets), BLOCKS_PER_GROUP):
        group = offsets[first : first + BLOCKS_PER_GROUP]
        trampolines = len(program) + BLOCK * len(group) + 1  # after `ja 5`
        for q in group:
            here = program.add(_LD_MEM, 0)
            program.add(_JGE_K, q, jf=trampolines + 4 - (here + 2))  # the end: pass
            program.add(_LD_W_ABS, q)
            program.add(_LDX_IMM, q - 6)
            for a, anchor in enumerate(anchors):
                at = here + 4 + a
                program.add(_JEQ_K, anchor, jt=trampolines + a - (at + 1))
        program.add(_JA, 5)
        for a in range(4):
            jumps[a].append(program.add(_JA))
        program.add(_RET_K, PASS)
    program.add(_RET_K, PASS)  # not within the window
    return jumps


def _verify(program: _Program, needle: bytes, *, start: int) -> None:
    """Drop if the ten bytes at X + ``start`` are the needle, else pass."""
    program.add(_LD_W_LEN)
    program.add(_ALU_SUB_X)
    program.add(_JGE_K, start + len(needle), jf=6)  # the needle would run past the end
    program.add(_LD_W_IND, start)
    program.add(_JEQ_K, _word(needle[:4]), jf=4)
    program.add(_LD_W_IND, start + 4)
    program.add(_JEQ_K, _word(needle[4:8]), jf=2)
    program.add(_LD_H_IND, start + 8)
    program.add(_JEQ_K, _word(needle[8:10]), jt=1)
    program.add(_RET_K, PASS)
    program.add(_RET_K, DROP)


def _check(program: list[Instruction]) -> None:
    for i, instruction in enumerate(program):
        if not (0 <= instruction.jt <= MAX_JUMP and 0 <= instruction.jf <= MAX_JUMP):
            raise AssertionError(f"jump out of range at {i}: {instruction}")
        if instruction.code in (_JA, _JEQ_K, _JGE_K):
            farthest = i + 1 + max(instruction.jt, instruction.jf, 0)
            if instruction.code == _JA:
                farthest = i + 1 + instruction.k
            if farthest >= len(program):
                raise AssertionError(f"jump past the end at {i}: {instruction}")


def attach(sock: socket.socket, program: list[Instruction]) -> None:
    """Attach ``program`` to ``sock`` (OSError when the kernel refuses it)."""
    raw = b"".join(instruction.pack() for instruction in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HP", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


WINDOWS = (1024, 768, 512, 384, 256)  # bytes searched, the largest the kernel lets us attach


def drop_shed_acks(sock: socket.socket, prefix: bytes) -> int:
    """Attach the filter with the widest window the kernel accepts (its size is bounded
    by ``net.core.optmem_max``); the window in bytes, or 0 when none was accepted and
    the engine keeps recognising those ACKs itself."""
    error: OSError | None = None
    for window in WINDOWS:
        try:
            attach(sock, shed_ack_program(prefix, window=window))
        except OSError as exc:
            error = exc
            continue
        return window
    log.info(
        "ACKs of refusals are read by the engine: the kernel refused their filter (%s)",
        error,
        extra={"action": "shed_filter_refused"},
    )
    return 0
