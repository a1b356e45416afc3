"""Text normalisation: digits, sentences, limits."""

from __future__ import annotations

import pytest

from voxgate.tts.text import (
    NotADigitString,
    TextTooLong,
    digit_content,
    enforce_length,
    normalise_text,
    spell_digits,
    split_sentences,
)


def test_normalise_collapses_whitespace_and_width() -> None:
    assert normalise_text("  Ｈｅｌｌｏ\n\t world ") == "Hello world"


@pytest.mark.parametrize(
    ("content", "spoken"),
    [("1-2-3-4", "1, 2, 3, 4."), ("482719", "4, 8, 2, 7, 1, 9."), (" 12 34 ", "1, 2, 3, 4.")],
)
def test_verification_content_is_read_digit_by_digit(content: str, spoken: str) -> None:
    assert digit_content(content) == spoken


@pytest.mark.parametrize("content", ["", "12a4", "one-two", "--", "1-2-"])
def test_verification_content_must_be_digits(content: str) -> None:
    with pytest.raises(NotADigitString):
        digit_content(content)


def test_verification_content_digit_limit() -> None:
    with pytest.raises(TextTooLong):
        digit_content("1" * 17)


def test_spell_digits_ignores_separators() -> None:
    assert spell_digits("4827-19") == "4, 8, 2, 7, 1, 9."


def test_enforce_length() -> None:
    assert enforce_length("abc", 3) == "abc"
    with pytest.raises(TextTooLong) as info:
        enforce_length("abcd", 3, field="content")
    assert info.value.field == "content"


def test_split_sentences() -> None:
    assert split_sentences("Hi there. How are you?  Fine! 你好。再见") == [
        "Hi there.",
        "How are you?",
        "Fine!",
        "你好。",
        "再见",
    ]


def test_long_sentences_are_cut_at_clauses_then_words() -> None:
    text = "first clause, " * 20 + "and " + "word " * 60
    parts = split_sentences(text, max_chars=50)
    assert all(len(p) <= 50 for p in parts)
    assert " ".join(parts).split() == normalise_text(text).split()


def test_first_chunk_can_be_shorter() -> None:
    text = "Hello, this is a message from your bank about your account. Thanks."
    assert split_sentences(text, first_max_chars=20) == [
        "Hello,",
        "this is a message from your bank about your account.",
        "Thanks.",
    ]
    assert split_sentences("Short one. Two.", first_max_chars=20) == ["Short one.", "Two."]
