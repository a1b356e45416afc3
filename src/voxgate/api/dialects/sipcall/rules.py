"""PhalApi request rules, pure.

A required field that is missing is the framework's refusal (``ret`` 400, as PhalApi's
parameter rules answer); a field that is present but wrong is a business failure with
code 1002 (validation failure); an offline voice file the tenant does not have is 1029.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from voxgate.api.bodies import text
from voxgate.api.dialects.sipcall.envelope import BusinessFailure, PhalApiError
from voxgate.api.urls import usable_http_url
from voxgate.calls.script import CallScript, Dial, Gather, Hangup, Play, Transfer

NUMBER = re.compile(r"^\+?[0-9]{3,32}$")
KEY = re.compile(r"^[0-9*#]$")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
MAX_URL = 1024
MAX_FILE_NAME = 255
MAX_GROUP_NAME = 64
MAX_RULES = 12  # keys 0-9, * and #
MAX_CHENGSHUDU = 64
MAX_CUSTOMUUID = 128
DEFAULT_WAIT = 10  # seconds the menu waits for a key
MAX_WAIT = 120

VOICE_FILE = "1"
VOICE_URL = "2"


def required(data: dict[str, Any], name: str) -> str:
    value = text(data, name)
    if value is None or value.strip() == "":
        raise PhalApiError(400, f"missing required parameter {name}")
    return value.strip()


def optional(data: dict[str, Any], name: str) -> str | None:
    value = text(data, name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def destnumber(value: str) -> str:
    if not NUMBER.match(value):
        raise BusinessFailure(1002, "destnumber must be 3 to 32 digits")
    return value


def voicetype(value: str) -> str:
    if value not in (VOICE_FILE, VOICE_URL):
        raise BusinessFailure(1002, "voicetype must be 1 (offline file) or 2 (URL)")
    return value


def file_name(value: str) -> str:
    if len(value) > MAX_FILE_NAME:
        raise BusinessFailure(1002, f"voicefile is longer than {MAX_FILE_NAME} characters")
    return value


def voice_url(value: str) -> str:
    """An online voice URL; one without a scheme (``www.host/a.mp3``) is read as http."""
    url = value if URL_SCHEME.match(value) else "http://" + value
    if not usable_http_url(url, max_length=MAX_URL):
        raise BusinessFailure(1002, "voicefile is not a usable http(s) URL")
    return url


@dataclass(frozen=True)
class Menu:
    """What the callee's key does: ``branches`` by key, ``default`` with no (other) key."""

    branches: dict[str, str] = field(default_factory=dict)
    default: str | None = None

    @property
    def groups(self) -> set[str]:
        named = set(self.branches.values())
        return named | {self.default} if self.default else named


def userid(value: str) -> Menu:
    """``1@extGroup-1``, several rules comma-separated, ``@group`` for no key."""
    branches: dict[str, str] = {}
    default: str | None = None
    rules = [r.strip() for r in value.split(",") if r.strip()]
    if not rules:
        raise BusinessFailure(1002, "userid has no KEY@GROUP rule")
    if len(rules) > MAX_RULES:
        raise BusinessFailure(1002, f"userid has more than {MAX_RULES} rules")
    for rule in rules:
        key, at, group = rule.partition("@")
        key, group = key.strip(), group.strip()
        if not at or not group or len(group) > MAX_GROUP_NAME:
            raise BusinessFailure(1002, f"userid rule {rule!r} is not KEY@GROUP")
        if key == "":
            if default is not None:
                raise BusinessFailure(1002, "userid has two @GROUP rules")
            default = group
        elif KEY.match(key):
            if key in branches:
                raise BusinessFailure(1002, f"userid binds key {key} twice")
            branches[key] = group
        else:
            raise BusinessFailure(1002, f"userid key {key!r} is not one of 0-9, * or #")
    return Menu(branches, default)


def bounded(value: str | None, name: str, limit: int) -> str:
    if value is None:
        return ""
    if len(value) > limit:
        raise BusinessFailure(1002, f"{name} is longer than {limit} characters")
    return value


def waittime(value: str | None) -> int:
    if value is None:
        return DEFAULT_WAIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_WAIT:
        raise BusinessFailure(1002, f"waittime must be 1 to {MAX_WAIT} seconds")
    return int(value)


def disnumber(value: str | None, access_codes: frozenset[str]) -> str | None:
    """The caller ID: one of the tenant's access codes; blank picks one at random."""
    if value is None:
        return secrets.choice(sorted(access_codes)) if access_codes else None
    if value not in access_codes:
        raise BusinessFailure(1002, f"disnumber {value} is not a caller ID of this company")
    return value


def menu_script(dest: str, caller: str | None, play: Play, menu: Menu, wait: int) -> CallScript:
    """dial -> play -> one key -> transfer to the key's group (or the no-key group)."""
    fallback: list[Any] = [Transfer(group=menu.default)] if menu.default else [Hangup()]
    gather = Gather(
        max_digits=1,
        timeout=wait,
        branches={key: [Transfer(group=group)] for key, group in menu.branches.items()},
        no_input=list(fallback),
    )
    return CallScript(steps=[Dial(to=dest, from_=caller), play, gather, *fallback])
