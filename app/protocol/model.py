"""The base class every wire model shares: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Immutable; validated from camelCase (or snake_case) and dumped as camelCase.

    Unknown fields are kept (``extra="allow"``) so that a newer gateway's
    additions survive a round trip through an older client instead of being lost.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
        str_max_length=4096,
    )


class StrictWireModel(WireModel):
    """A control frame: unknown fields are refused, since they are a client bug."""

    model_config = ConfigDict(extra="forbid")
