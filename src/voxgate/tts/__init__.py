"""Text to speech: engines behind one interface, fallback per language, a telephone-audio cache.

Kept import-light: engines are imported by :mod:`voxgate.tts.service` only when built.
piper (GPL-3.0) never runs in this process; it lives in ``voxgate.tts.piper_worker``.
"""
