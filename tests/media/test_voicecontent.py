"""Huawei voiceContent parsing and voice-file lookup at request time."""

from __future__ import annotations

import pytest

from voxgate.media.voicecontent import (
    FileSegment,
    InvalidVoiceContent,
    SpeakSegment,
    UnknownVoiceFile,
    parse_voice_content,
)

FILES = {"1133999": "file-a", "2225149": "file-b"}


def test_vendor_example() -> None:
    segments = parse_voice_content("1133999~$Tom$~2225149", FILES.get)
    assert segments == [
        FileSegment("1133999", "file-a"),
        SpeakSegment("Tom"),
        FileSegment("2225149", "file-b"),
    ]


def test_digit_segments_are_flagged() -> None:
    segments = parse_voice_content("$Your code is$~$482719$", FILES.get)
    assert segments == [SpeakSegment("Your code is"), SpeakSegment("482719", digits=True)]


def test_unknown_file_id_fails_at_parse_time() -> None:
    with pytest.raises(UnknownVoiceFile) as info:
        parse_voice_content("$Hello$~9999", FILES.get)
    assert info.value.details["file_id"] == "9999"
    assert info.value.error_id == "voice_file_not_found"


@pytest.mark.parametrize(
    "content",
    ["", "   ", "$a$~~$b$", "$unbalanced", "ab$c", "$$", "$a$b$", "x" * 1001],
)
def test_malformed(content: str) -> None:
    with pytest.raises(InvalidVoiceContent):
        parse_voice_content(content, lambda _id: "x")


def test_lookup_not_called_for_text() -> None:
    seen: list[str] = []

    def lookup(file_id: str) -> str | None:
        seen.append(file_id)
        return "ok"

    parse_voice_content("$Hi$~42", lookup)
    assert seen == ["42"]
