"""NXCloud request rules, pure: each returns a clean value or raises the code it names.

The one rule behind the field codes: a field that is *missing* is a parameter error (2);
a field that is present but empty or wrong gets that field's own code (phone 6/24,
country code 23, show number 21, content 4/5/10/103, audio URL 20, task time 29/31).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import phonenumbers

from voxgate.api.bodies import text
from voxgate.api.dialects.nxcloud.envelope import NxFailure
from voxgate.api.urls import usable_http_url
from voxgate.calls.script import CallScript, Dial, Hangup, Play, Say

MAX_NUMBERS = 100
MAX_NOTIFY_CONTENT = 1000  # notsend: characters of text, after URL decoding
MAX_VERIFY_CONTENT = 200  # versend: a short message around a code
MAX_SHOW_PHONE = 50
MAX_URL = 1024
MAX_EXT = 256
MAX_SCHED_HANGUP = 86_400
MAX_SCHEDULE_AHEAD = 30 * 86_400
SCHEDULE_GRACE = 60  # a task_time up to this many seconds old still counts as "now"

PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
DIGIT_GROUP = re.compile(r"\d(?:\s*-\s*\d)+")  # 1-2-3-4: read digit by digit
BARE_DIGITS = re.compile(r"\d+")
LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0000fe0f\U0001f1e6-\U0001f1ff\U0000200d]"
)
TIME_ZONE = re.compile(r"^[+-]?\d{1,2}(?:\.\d{1,2})?$")


def field(data: dict[str, Any], name: str) -> str:
    """A required field: missing (or not text) is a parameter error."""
    value = text(data, name)
    if value is None:
        raise NxFailure(2, f"{name} is required")
    return value


def optional(data: dict[str, Any], name: str) -> str | None:
    value = text(data, name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def country_code(value: str) -> int:
    raw = value.strip().lstrip("+")
    if not raw.isdigit() or len(raw) > 3:
        raise NxFailure(23, f"{value!r} is not a country code")
    code = int(raw)
    if phonenumbers.region_code_for_country_code(code) == "ZZ":
        raise NxFailure(23, f"{value!r} is not a country code")
    return code


def phone_number(entry: str, cc: int) -> str:
    """One number as E.164 digits without '+': ``8615088888888``.

    Sent with its country code (``8615088888888``, ``+8615088888888``) or without it
    (``15088888888``, read in the country of ``country_code``). The number must have a
    possible length for that country; whether the range is assigned is the carrier's call.
    """
    raw = entry.strip()
    digits = raw[1:] if raw.startswith("+") else raw
    if not digits.isdigit() or not 3 <= len(digits) <= 20:
        raise NxFailure(6, f"{entry!r}")
    tries: list[tuple[str, str | None]] = []
    if raw.startswith("+") or digits.startswith(str(cc)):
        tries.append(("+" + digits, None))
    if not raw.startswith("+"):
        tries.append((digits, phonenumbers.region_code_for_country_code(cc)))
    for candidate, region in tries:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if parsed.country_code == cc and phonenumbers.is_possible_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return str(e164).lstrip("+")
    raise NxFailure(6, f"{entry!r} is not a number of country code {cc}")


def phones(value: str, cc: int, *, single: bool) -> list[str]:
    """Comma-separated numbers, each once, in the order given."""
    entries = [e.strip() for e in value.split(",") if e.strip()]
    if not entries:
        raise NxFailure(24)
    if single and len(entries) > 1:
        raise NxFailure(6, "versend takes a single phone number")
    if len(entries) > MAX_NUMBERS:
        raise NxFailure(7, f"{len(entries)} numbers")
    return list(dict.fromkeys(phone_number(e, cc) for e in entries))


def show_phone(value: str) -> str:
    raw = value.strip()
    digits = raw[1:] if raw.startswith("+") else raw
    if not digits.isdigit() or len(digits) > MAX_SHOW_PHONE:
        raise NxFailure(21, f"show_phone must be 1 to {MAX_SHOW_PHONE} digits")
    return digits


def presented(show: str, access_codes: frozenset[str], default: str | None) -> str:
    """The number the callee sees: show_phone when it is one of the tenant's access codes.

    The vendor warns that "the actual displayed number may be modified": a tenant with
    access codes never presents another number; one without presents show_phone as sent.
    """
    if not access_codes or show in access_codes or default is None:
        return show
    return default


def content(value: str, *, limit: int) -> str:
    """TTS text as sent (form-decoded), URL-decoded once more when it still holds escapes."""
    body = value
    if PERCENT_ESCAPE.search(body):
        try:
            body = unquote(body, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise NxFailure(10) from None
    if "\ufffd" in body:
        raise NxFailure(10)
    body = body.strip()
    if not body:
        raise NxFailure(4)
    for ch in body:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            raise NxFailure(4, "content holds control or unassigned characters")
    if EMOJI.search(body):
        raise NxFailure(103)
    if len(body) > limit:
        raise NxFailure(5, f"at most {limit} characters")
    return body


@dataclass(frozen=True)
class Spoken:
    text: str
    digits: bool = False


def spoken(body: str, *, bare_digits: bool) -> list[Spoken]:
    """Split text into what TTS says: ``1-2-3-4`` groups (and, for versend, any run of
    digits) are read digit by digit; everything else is read as text."""
    pattern = (
        re.compile(f"{DIGIT_GROUP.pattern}|{BARE_DIGITS.pattern}") if bare_digits else (DIGIT_GROUP)
    )
    out: list[Spoken] = []
    pos = 0
    for match in pattern.finditer(body):
        before = body[pos : match.start()].strip()
        if before:
            out.append(Spoken(before))
        out.append(Spoken(re.sub(r"\D", "", match.group()), digits=True))
        pos = match.end()
    rest = body[pos:].strip()
    if rest:
        out.append(Spoken(rest))
    return out


def audio_url(value: str) -> str:
    url = value.strip()
    if not usable_http_url(url, max_length=MAX_URL):
        raise NxFailure(20, "url must be an http or https URL of an audio file")
    return url


def lang(value: str | None) -> str | None:
    if value is None:
        return None
    if not LANG.match(value):
        raise NxFailure(2, "lang must be a language code such as en or zh")
    return value.replace("_", "-")


def ext(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_EXT:
        raise NxFailure(2, f"ext is longer than {MAX_EXT} characters")
    return value


def sched_hangup(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or int(value) > MAX_SCHED_HANGUP:
        raise NxFailure(2, f"sched_hangup must be 0 to {MAX_SCHED_HANGUP} seconds")
    return int(value)


def schedule(task_time: str | None, time_zone: str | None, now: float) -> float | None:
    """When a group call starts: None for at once, else an epoch time.

    ``task_time`` is ``yyyy-MM-dd HH:mm:ss`` in the UTC offset ``time_zone`` (hours).
    """
    if task_time is None:
        return None
    if time_zone is None:
        raise NxFailure(31)
    if not TIME_ZONE.match(time_zone) or not -12 <= float(time_zone) <= 14:
        raise NxFailure(2, "time_zone must be a UTC offset in hours, -12 to 14")
    try:
        local = datetime.strptime(task_time, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise NxFailure(2, "task_time must be yyyy-MM-dd HH:mm:ss") from None
    offset = timezone(timedelta(hours=float(time_zone)))
    at = local.replace(tzinfo=offset).timestamp()
    if at < now - SCHEDULE_GRACE:
        raise NxFailure(29)
    if at > now + MAX_SCHEDULE_AHEAD:
        raise NxFailure(2, "task_time is more than 30 days ahead")
    return max(at, now)


def tts_script(callee: str, caller: str, parts: list[Spoken], language: str | None) -> CallScript:
    steps: list[Any] = [Dial(to=callee, from_=caller)]
    steps += [Say(text=p.text, digits=p.digits, language=language) for p in parts]
    steps.append(Hangup())
    return CallScript(steps=steps)


def audio_script(callee: str, caller: str, file_id: str) -> CallScript:
    """gpsend: the audio URL was fetched into the voice file ``file_id`` at request time."""
    return CallScript(steps=[Dial(to=callee, from_=caller), Play(file_id=file_id), Hangup()])


MAX_FILE_NAME = 255
MAX_FILE_BASE64 = 12 * 1024 * 1024
DATA_URI = re.compile(r"^data:[^,]{0,100};base64,", re.IGNORECASE)


def file_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_FILE_NAME or any(ord(c) < 32 for c in name):
        raise NxFailure(77, f"filename must be 1 to {MAX_FILE_NAME} printable characters")
    return name


def file_content(value: str) -> bytes:
    """Base64 audio. Line breaks are ignored, and spaces read as '+' (a form body whose
    '+' signs were not escaped); a ``data:...;base64,`` prefix is allowed."""
    raw = DATA_URI.sub("", value.strip())
    raw = raw.replace("\r", "").replace("\n", "").replace(" ", "+")
    if not raw:
        raise NxFailure(77, "content is empty")
    if len(raw) > MAX_FILE_BASE64:
        raise NxFailure(77, "the file is larger than 8 MB")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise NxFailure(77, "content is not Base64") from None
