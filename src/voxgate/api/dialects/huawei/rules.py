"""Huawei request rules, pure: each returns the retCode the rule names, or passes.

Order matters: a request breaking several rules gets the code of the first rule here,
in the order the vendor documents list them (tenant state, content, numbers, display
numbers, callback URL, priority, trust list, duplicates).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from voxgate.api.dialects.huawei.envelope import HuaweiFailure
from voxgate.tenancy.profile import TenantProfile

NUMBER = re.compile(r"^\+?[0-9]{3,32}$")
URL_CHARS = re.compile(r"^[A-Za-z0-9\-:./_#?&]+$")
MAX_VOICE_CONTENT = 1000
MAX_CALL_DATA = 1024


@dataclass(frozen=True)
class Segment:
    """One voiceContent segment: ``$text$`` spoken by TTS, or a voice file id."""

    text: str | None = None
    file_id: str | None = None


def parse_voice_content(content: str | None) -> list[Segment]:
    if content is None or not content.strip():
        raise HuaweiFailure(8, "The value of voiceContent is empty.")
    if len(content) > MAX_VOICE_CONTENT:
        raise HuaweiFailure(8, "The value of voiceContent exceeds 1000 characters.")
    segments = []
    for raw in content.split("~"):
        part = raw.strip()
        if len(part) >= 2 and part.startswith("$") and part.endswith("$"):
            spoken = part[1:-1].strip()
            if not spoken:
                raise HuaweiFailure(8, "voiceContent has an empty $text$ segment.")
            segments.append(Segment(text=spoken))
        elif part and "$" not in part:
            segments.append(Segment(file_id=part))
        else:
            raise HuaweiFailure(
                8, f"voiceContent segment {part!r} is neither $text$ nor a voice id."
            )
    return segments


def number(value: str | None, what: str) -> str:
    if value is None or not NUMBER.match(value.strip()):
        raise HuaweiFailure(5, f"The value of {what} is not transferred or its format is wrong.")
    return value.strip()


def display_number(
    value: str | None, profile: TenantProfile, what: str, code: int = 7
) -> str | None:
    """callerPresent / agentPresent: an access code, or 11-14 digits when anonymization is on."""
    if value is None or value == "":
        return profile.default_access_code
    value = value.strip()
    if value in profile.access_codes:
        return value
    if profile.tenant.anonymize_caller and value.isdigit() and 11 <= len(value) <= 14:
        return value
    raise HuaweiFailure(code, f"{what} fails to pass the verification.")


def callback_url(value: str | None, profile: TenantProfile) -> str | None:
    if value is None or value == "":
        return None
    bad = HuaweiFailure(9, "The value of callBackUrl does not meet the requirements.")
    try:
        url = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if len(url) > 1024 or not URL_CHARS.match(url):
        raise bad
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    if not profile.host_trusted(parts.hostname, port):
        raise HuaweiFailure(9, "The callBackUrl host is not in the callback URL trustlist.")
    return url


def priority(value: str | None) -> int:
    if value is None or value == "":
        return 9
    if value.strip() in tuple("123456789"):
        return int(value.strip())
    raise HuaweiFailure(36, "The value of priority is in an incorrect format.")


def call_data(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_CALL_DATA:
        raise HuaweiFailure(2, "The value length of callData exceeds 1024 characters.")
    return value


def vdn(profile: TenantProfile) -> None:
    if not profile.tenant.vdn_enabled:
        raise HuaweiFailure(6, "The VDN is not enabled.")


def trial_trusted(profile: TenantProfile, *numbers: str) -> None:
    if not profile.tenant.trial:
        return
    for n in numbers:
        if n.lstrip("+") not in profile.trusted_numbers:
            raise HuaweiFailure(
                16,
                "The tenant is in trial commercial use state, "
                "and the number is not in the trustlist.",
            )


# ITA tenants answer with carrier-style codes instead of the AICC ones.
ITA_CODES = {
    "1": ("90106001", "Binding relationship already exists"),
    "2": ("90100100", "Invalid Input Parameter"),
    "3": ("90100600", "Internal Server Error"),
    "5": ("90100100", "Invalid Input Parameter"),
    "6": ("90104004", "Service Unavailable"),
    "7": ("90100100", "Invalid Input Parameter"),
    "8": ("90106011", "Caller Forbid"),
    "9": ("90100100", "Invalid Input Parameter"),
    "16": ("90106012", "Callee forbid"),
    "21": ("90104029", "Too Many Requests"),
}


def as_ita(exc: HuaweiFailure) -> HuaweiFailure:
    code, message = ITA_CODES.get(exc.code, ("90104008", "Service Process Failure"))
    return HuaweiFailure(code, message)
