"""Recorder: tracks placed by RTP timestamp, two legs aligned, WAV per leg, mixed and stereo."""

from __future__ import annotations

import io
import wave

import numpy as np

from voxgate.media.recorder import CallRecording, LegTrack, interleave, mix, write_wav


def ramp(start: int, n: int = 160) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int16)


def read_wav(data: bytes) -> tuple[int, int, np.ndarray]:
    with wave.open(io.BytesIO(data), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getnchannels(), w.getframerate(), frames


def test_frames_are_placed_by_timestamp_not_arrival_and_gaps_stay_silent() -> None:
    track = LegTrack()
    track.add(1000, ramp(1), at=0.0)
    track.add(1000 + 320, ramp(1000), at=0.047)  # one frame lost, arrival jittery
    track.add(1000 + 160 * 3, ramp(2000).tobytes(), at=0.055)
    pcm = track.render()
    assert len(pcm) == 640
    assert np.array_equal(pcm[:160], ramp(1))
    assert not pcm[160:320].any()
    assert np.array_equal(pcm[320:480], ramp(1000))
    assert np.array_equal(pcm[480:], ramp(2000))


def test_timestamp_wrap_around() -> None:
    track = LegTrack()
    track.add(0xFFFF_FF60, ramp(1), at=1.0)
    track.add(0, ramp(500), at=1.02)
    pcm = track.render()
    assert len(pcm) == 8000 + 320
    assert np.array_equal(pcm[8160:], ramp(500))


def test_two_legs_with_different_timestamp_bases_are_aligned_by_arrival_of_their_first_frame() -> (
    None
):
    rec = CallRecording()
    rec.a.add(50_000, ramp(1), at=0.0)
    rec.b.add(9, ramp(100), at=0.5)  # b answered half a second later
    rec.a.add(50_000 + 4000, ramp(200), at=0.5)
    out = io.BytesIO()
    rec.write_mixed(out, stereo=True)
    channels, rate, frames = read_wav(out.getvalue())
    assert (channels, rate) == (2, 8000)
    stereo = frames.reshape(-1, 2)
    assert len(stereo) == 4160
    assert np.array_equal(stereo[:160, 0], ramp(1))
    assert np.array_equal(stereo[4000:4160, 0], ramp(200))
    assert np.array_equal(stereo[4000:4160, 1], ramp(100))
    assert not stereo[:4000, 1].any()

    mono = io.BytesIO()
    rec.write_mixed(mono)
    _, _, mixed = read_wav(mono.getvalue())
    assert np.array_equal(mixed[4000:4160], ramp(200) + ramp(100))

    leg_b = io.BytesIO()
    rec.write_leg(leg_b, "b")
    channels, _, b = read_wav(leg_b.getvalue())
    assert channels == 1 and len(b) == 4160 and np.array_equal(b[4000:], ramp(100))


def test_a_leg_whose_timestamps_jump_is_re_anchored() -> None:
    track = LegTrack()
    track.add(1000, ramp(1), at=0.0)
    track.add(1000 + 160, ramp(2), at=0.02)
    track.add(77_777_777, ramp(3), at=0.04)  # the peer restarted its stream
    track.add(77_777_777 + 160, ramp(4), at=0.06)
    pcm = track.render()
    assert track.resyncs == 1
    assert len(pcm) == 640
    assert np.array_equal(pcm[320:480], ramp(3))
    assert "resyncs=1" in repr(track)


def test_mix_clips_and_pads() -> None:
    a = np.array([30000, -30000, 5], dtype=np.int16)
    b = np.array([10000, -10000], dtype=np.int16)
    assert mix(a, b).tolist() == [32767, -32768, 5]
    assert interleave(a, b).tolist() == [[30000, 10000], [-30000, -10000], [5, 0]]


def test_write_wav_to_any_binary_file() -> None:
    out = io.BytesIO()
    write_wav(out, ramp(0, 8))
    assert read_wav(out.getvalue())[2].tolist() == list(range(8))
