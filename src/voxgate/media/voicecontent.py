"""Huawei ``voiceContent``: ``~``-separated segments, bare = voice file id, ``$text$`` = TTS.

Example: ``1133999~$Tom$~2225149`` plays file 1133999, speaks "Tom", plays file 2225149.
File ids are resolved through a lookup callable at request time, so an unknown or
unapproved id fails the request (Huawei retCode 8) instead of producing a silent call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from voxgate.errors import InvalidInput

MAX_VOICE_CONTENT = 1000
SEPARATOR = "~"
TEXT_MARK = "$"

T = TypeVar("T")
_DIGITS = re.compile(r"[0-9][0-9 ]*")


class InvalidVoiceContent(InvalidInput):
    """voiceContent is empty, too long or malformed."""

    error_id = "invalid_voice_content"


class UnknownVoiceFile(InvalidVoiceContent):
    """voiceContent refers to a voice file that does not exist or is not approved."""

    error_id = "voice_file_not_found"


@dataclass(frozen=True)
class SpeakSegment:
    """Text to synthesise. ``digits`` is True when the text is a digit string."""

    text: str
    digits: bool = False


@dataclass(frozen=True)
class FileSegment(Generic[T]):
    """A voice file; ``ref`` is whatever the lookup returned for ``file_id``."""

    file_id: str
    ref: T


Segment = SpeakSegment | FileSegment[T]


def split_voice_content(content: str, *, max_chars: int = MAX_VOICE_CONTENT) -> list[str]:
    """Split and validate the syntax only; no lookups."""
    if not content or not content.strip():
        raise InvalidVoiceContent("voiceContent is empty", field="voiceContent")
    if len(content) > max_chars:
        raise InvalidVoiceContent(
            f"voiceContent exceeds {max_chars} characters", field="voiceContent"
        )
    parts = [p.strip() for p in content.split(SEPARATOR)]
    if any(not p for p in parts):
        raise InvalidVoiceContent("voiceContent has an empty segment", field="voiceContent")
    return parts


def _text_of(part: str) -> str | None:
    if len(part) >= 2 and part.startswith(TEXT_MARK) and part.endswith(TEXT_MARK):
        text = part[1:-1].strip()
        if not text or TEXT_MARK in text:
            raise InvalidVoiceContent(f"malformed text segment {part!r}", field="voiceContent")
        return text
    if TEXT_MARK in part:
        raise InvalidVoiceContent(f"unbalanced '$' in segment {part!r}", field="voiceContent")
    return None


def parse_voice_content(
    content: str,
    lookup: Callable[[str], T | None],
    *,
    max_chars: int = MAX_VOICE_CONTENT,
) -> list[SpeakSegment | FileSegment[T]]:
    """Parse ``content``; ``lookup(file_id)`` returns a reference or None if unknown."""
    segments: list[SpeakSegment | FileSegment[T]] = []
    for part in split_voice_content(content, max_chars=max_chars):
        text = _text_of(part)
        if text is not None:
            segments.append(SpeakSegment(text, digits=_DIGITS.fullmatch(text) is not None))
            continue
        ref = lookup(part)
        if ref is None:
            raise UnknownVoiceFile(
                f"voice file {part!r} does not exist or is not approved",
                field="voiceContent",
                file_id=part,
            )
        segments.append(FileSegment(part, ref))
    return segments
