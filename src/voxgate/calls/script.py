"""Call scripts: the one declarative language every dialect compiles to."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _op_required(schema: dict[str, Any]) -> None:
    """In the JSON schema, ``op`` is required: it picks the step type (the discriminator)."""
    required = schema.setdefault("required", [])
    if "op" not in required:
        required.insert(0, "op")


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_op_required)


class Dial(_Step):
    op: Literal["dial"] = "dial"
    to: str = Field(min_length=1, max_length=64)
    from_: str | None = Field(default=None, alias="from", max_length=64)
    ring_timeout: float = Field(default=45, gt=0, le=300)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Say(_Step):
    op: Literal["say"] = "say"
    text: str = Field(min_length=1, max_length=4000)
    voice: str | None = None
    language: str | None = None
    digits: bool = False  # read every digit on its own


class Play(_Step):
    op: Literal["play"] = "play"
    file_id: str | None = None
    url: str | None = None
    loop: int = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _one_source(self) -> Play:
        if (self.file_id is None) == (self.url is None):
            raise ValueError("play needs exactly one of file_id or url")
        return self


class Transfer(_Step):
    op: Literal["transfer"] = "transfer"
    group: str | None = None
    skill_id: int | None = None
    extension: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Transfer:
        if sum(x is not None for x in (self.group, self.skill_id, self.extension)) != 1:
            raise ValueError("transfer needs exactly one of group, skill_id or extension")
        return self


class Bridge(_Step):
    op: Literal["bridge"] = "bridge"
    to: str = Field(min_length=1, max_length=64)
    from_: str | None = Field(default=None, alias="from", max_length=64)
    ring_timeout: float = Field(default=45, gt=0, le=300)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Record(_Step):
    op: Literal["record"] = "record"
    max_seconds: float = Field(default=3600, gt=0, le=14400)


class Pause(_Step):
    op: Literal["pause"] = "pause"
    seconds: float = Field(gt=0, le=60)


class Hangup(_Step):
    op: Literal["hangup"] = "hangup"


class Gather(_Step):
    op: Literal["gather"] = "gather"
    max_digits: int = Field(default=1, ge=1, le=32)
    timeout: float = Field(default=5, gt=0, le=120)
    finish_on_key: str | None = Field(default=None, pattern=r"^[0-9*#]$")
    branches: dict[str, list[Step]] = Field(default_factory=dict)
    no_input: list[Step] = Field(default_factory=list)


Step = Annotated[
    Dial | Say | Play | Transfer | Bridge | Record | Pause | Hangup | Gather,
    Field(discriminator="op"),
]
Gather.model_rebuild()


class CallScript(BaseModel):
    """A call: the first step dials; the rest runs once the callee answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _starts_with_dial(self) -> CallScript:
        if not isinstance(self.steps[0], Dial):
            raise ValueError("a call script starts with a dial step")
        return self

    @property
    def dial(self) -> Dial:
        first = self.steps[0]
        assert isinstance(first, Dial)
        return first


class IvrScript(BaseModel):
    """What an inbound call runs once answered: the steps after the dial."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step] = Field(min_length=1, max_length=100)
