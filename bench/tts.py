"""TTS benchmark: speed per engine, cache-hit cost, first playable sentence latency.

Run: ``.venv/bin/python bench/tts.py [--repeat N]``. Figures are printed as absolute
numbers and as ratios against baselines measured in the same run: espeak-ng for the
engines, and reading the same bytes from a plain file for the cache hit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from voxgate.tts.base import Engine
from voxgate.tts.cache import AudioCache, CacheKey
from voxgate.tts.espeak import EspeakEngine
from voxgate.tts.flite import FliteEngine
from voxgate.tts.piper import PiperEngine
from voxgate.tts.service import Speech

PROMPT = "Your verification code is 4 8 2 7 1 9. I repeat, 4 8 2 7 1 9."
NOTIFICATION = (
    "Hello, this is an automated message from your bank. "
    "We noticed a new sign-in to your online banking account from a device we have not "
    "seen before, on Tuesday at ten fifteen in the morning. "
    "If this was you, there is nothing you need to do, and you can hang up now. "
    "If you do not recognise this activity, please press one to speak with a member of our "
    "fraud team, who will help you secure your account and review any recent transactions. "
    "For your security, we will never ask you for your full password or your card PIN over "
    "the phone, and we will never ask you to move money to a safe account. "
    "You can also review your recent activity at any time in the mobile app, under settings, "
    "security, and devices. "
    "If you would like to hear this message again, please press two. "
    "Our fraud team is available every day of the year, around the clock, and calls to this "
    "number are free from any phone in the country, including mobiles and pay phones. "
    "Thank you for banking with us, and have a pleasant day. Goodbye."
)
ENGINES: dict[str, tuple[Callable[[], Engine], str]] = {
    "espeak": (EspeakEngine, "en-us"),
    "flite": (FliteEngine, "slt"),
    "piper": (PiperEngine, "joe"),
}


def cpu_seconds(engine: Engine) -> float:
    """CPU time of this process, plus the piper worker's (it synthesises out of process)."""
    total = time.process_time()
    pid = getattr(engine, "pid", None)
    if pid:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure_engine(name: str, engine: Engine, voice: str, repeat: int) -> dict[str, float]:
    speech = Speech(engines={name: engine})
    speech.say("Warm up.", voice=f"{name}:{voice}")  # load voices, start workers
    audio_s = wall = cpu = 0.0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), cpu_seconds(engine)
        audio = speech.say(NOTIFICATION, voice=f"{name}:{voice}")
        wall += time.perf_counter() - t0
        cpu += cpu_seconds(engine) - c0
        audio_s += audio.duration
    firsts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        next(speech.stream(NOTIFICATION, voice=f"{name}:{voice}"))
        firsts.append(time.perf_counter() - t0)
    return {
        "audio_s": audio_s / repeat,
        "wall_s": wall / repeat,
        "x_realtime_cpu": audio_s / cpu if cpu else float("inf"),
        "x_realtime_wall": audio_s / wall,
        "first_sentence_s": statistics.median(firsts),
    }


def measure_cache(repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        speech = Speech(engines={"flite": FliteEngine()}, cache=AudioCache(Path(tmp) / "c"))
        audio = speech.say(PROMPT, voice="flite:slt")
        plain = Path(tmp) / "plain.g711"
        plain.write_bytes(audio.payload)
        key = CacheKey(
            "flite", "slt", "flite 2.2", "Your verification code is 4 8 2 7 1 9.", "pcmu"
        )
        assert speech.cache is not None
        n = repeat * 200

        def timed(fn: Callable[[], object]) -> float:
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
            return statistics.median(samples)

        cache = speech.cache
        return {
            "file_read_s": timed(plain.read_bytes),
            "cache_get_s": timed(lambda: cache.get(key)),
            "say_all_hits_s": timed(lambda: speech.say(PROMPT, voice="flite:slt")),
            "bytes": float(len(audio.payload)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"notification: {len(NOTIFICATION)} characters; repeat={args.repeat}; cpus={os.cpu_count()}"
    )
    results: dict[str, dict[str, float]] = {}
    for name, (factory, voice) in ENGINES.items():
        engine = factory()
        try:
            results[name] = measure_engine(name, engine, voice, args.repeat)
        finally:
            engine.close()
    base = results["espeak"]
    print(
        "\nengine   audio s  synth s  x-realtime(cpu)  x-realtime(wall)  first sentence   "
        "speed vs espeak  first vs espeak"
    )
    for name, r in results.items():
        print(
            f"{name:7}  {r['audio_s']:7.1f}  {r['wall_s']:7.3f}  {r['x_realtime_cpu']:15.1f}  "
            f"{r['x_realtime_wall']:16.1f}  {r['first_sentence_s'] * 1000:11.1f} ms  "
            f"{r['x_realtime_wall'] / base['x_realtime_wall']:14.2f}x  "
            f"{r['first_sentence_s'] / base['first_sentence_s']:14.2f}x"
        )
    c = measure_cache(args.repeat)
    print(f"\ncache ({c['bytes'] / 8000:.1f} s prompt, {c['bytes']:.0f} bytes of G.711):")
    print(f"  baseline: read the same bytes from a file  {c['file_read_s'] * 1e6:8.1f} µs  1.00x")
    for label, k in (
        ("cache.get (one sentence)", "cache_get_s"),
        ("Speech.say, all hits", "say_all_hits_s"),
    ):
        print(f"  {label:41}  {c[k] * 1e6:8.1f} µs  {c[k] / c['file_read_s']:.2f}x")


if __name__ == "__main__":
    main()
