"""Text normalisation before synthesis: whitespace, digit strings, sentences, length limits."""

from __future__ import annotations

import re
import unicodedata

from voxgate.errors import InvalidInput

_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s+|(?<=[。！？；])")
_CLAUSE_BREAK = re.compile(r"(?<=[,:，、：])\s*")
_DIGIT_STRING = re.compile(r"[0-9](?:[\s\-.,]*[0-9])*")
MAX_SENTENCE_CHARS = 160


class TextTooLong(InvalidInput):
    """The text to speak is longer than allowed."""

    error_id = "text_too_long"


class NotADigitString(InvalidInput):
    """The content must be digits, optionally separated by '-' or spaces."""

    error_id = "invalid_digits"


def normalise_text(text: str) -> str:
    """Unicode NFKC with whitespace collapsed: the form that is spoken and cached."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def enforce_length(text: str, max_chars: int, *, field: str = "text") -> str:
    """Return ``text`` or raise :class:`TextTooLong`; dialects pass their own limits."""
    if len(text) > max_chars:
        raise TextTooLong(f"{field} exceeds {max_chars} characters", field=field, limit=max_chars)
    return text


def spell_digits(digits: str) -> str:
    """``"1-2-3-4"`` / ``"4827 19"`` → ``"4, 8, 2, 7, 1, 9."``: read one digit at a time."""
    only = [c for c in normalise_text(digits) if c.isascii() and c.isdigit()]
    if not only:
        raise NotADigitString(field="content")
    return ", ".join(only) + "."


def digit_content(content: str, *, max_digits: int = 16, field: str = "content") -> str:
    """Validate verification-code content (``1-2-3-4`` style) and spell it out."""
    text = normalise_text(content)
    if not _DIGIT_STRING.fullmatch(text):
        raise NotADigitString(field=field)
    if sum(c.isdigit() for c in text) > max_digits:
        raise TextTooLong(f"{field} has more than {max_digits} digits", field=field)
    return spell_digits(text)


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(sentence):
        pieces = [clause] if len(clause) <= max_chars else _split_words(clause, max_chars)
        for piece in pieces:
            if current and len(current) + 1 + len(piece) > max_chars:
                out.append(current)
                current = piece
            else:
                current = f"{current} {piece}".strip()
    if current:
        out.append(current)
    return out


def _split_words(clause: str, max_chars: int) -> list[str]:
    out: list[str] = []
    current = ""
    for word in clause.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        out.append(current)
    return out


def split_sentences(
    text: str, *, max_chars: int = MAX_SENTENCE_CHARS, first_max_chars: int | None = None
) -> list[str]:
    """Sentences of at most ``max_chars`` (longer ones are cut at clauses, then words).

    ``first_max_chars`` cuts the first sentence shorter, so that streaming playback can
    start sooner.
    """
    sentences = [s.strip() for s in _SENTENCE_END.split(normalise_text(text))]
    out: list[str] = []
    for sentence in sentences:
        if not sentence:
            continue
        if not out and first_max_chars is not None and len(sentence) > first_max_chars:
            head, *rest = _split_long(sentence, first_max_chars)
            out.append(head)
            sentence = " ".join(rest)
            if not sentence:
                continue
        out.extend(_split_long(sentence, max_chars))
    return out
