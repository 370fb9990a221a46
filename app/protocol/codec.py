"""Turning frames into text and back, with one-line errors a person can read."""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter, ValidationError

from app.protocol.events import KNOWN_EVENTS
from app.protocol.frames import MAX_FRAME_BYTES, ClientFrame, ErrorCode, ServerFrame

_SERVER: Final[TypeAdapter[ServerFrame]] = TypeAdapter(ServerFrame)
_CLIENT: Final[TypeAdapter[ClientFrame]] = TypeAdapter(ClientFrame)


class ProtocolError(ValueError):
    """A frame that cannot be used. ``code`` is the :class:`ErrorCode` to answer with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def describe_error(error: ValidationError, limit: int = 3, *, union: bool = False) -> str:
    """A short, single-line summary of a pydantic error: ``field.path: reason; …``.

    ``union``: the error came from a tagged union, whose tag pydantic puts first
    in every location; it is left out so the path reads like the JSON.
    """
    parts = []
    for item in error.errors(include_url=False)[:limit]:
        location = ".".join(_readable_location(item["loc"], union=union))
        reason = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {reason}" if location else reason)
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _readable_location(loc: tuple[int | str, ...], *, union: bool) -> list[str]:
    parts = [str(p) for p in loc]
    if union and parts:
        parts = parts[1:]
    readable: list[str] = []
    for index, part in enumerate(parts):
        # A nested event is a tagged union too: drop the tag that follows "event".
        follows_event = index > 0 and parts[index - 1] == "event"
        if follows_event and (part in KNOWN_EVENTS or part == "unknown"):
            continue
        readable.append(part)
    return readable


def _load(data: str | bytes) -> Any:
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}"
        )
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    if not isinstance(value.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame needs a string field 'type'")
    return value


def decode_server_frame(data: str | bytes) -> ServerFrame:
    """Parse a frame sent by the gateway. Unknown types become ``UnknownServerFrame``."""
    value = _load(data)
    try:
        return _SERVER.validate_python(value)
    except ValidationError as exc:
        raise ProtocolError(
            ErrorCode.BAD_FRAME, f"bad {value['type']} frame: {describe_error(exc, union=True)}"
        ) from None


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse a frame sent to the gateway; raises :class:`ProtocolError` if unusable."""
    value = _load(data)
    try:
        return _CLIENT.validate_python(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "unknown_frame":
            raise ProtocolError(
                ErrorCode.UNKNOWN_FRAME, f"unknown frame type {value['type']!r}"
            ) from None
        code = ErrorCode.INVALID_EVENT if value["type"] == "publish" else ErrorCode.BAD_FRAME
        reason = describe_error(exc, union=True)
        raise ProtocolError(code, f"bad {value['type']} frame: {reason}") from None


def encode_frame(frame: BaseModel) -> str:
    """Compact JSON text of a frame, camelCase, without null fields."""
    return frame.model_dump_json(exclude_none=True)
