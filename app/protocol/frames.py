"""Frames: the JSON objects exchanged over one WebSocket connection.

Protocol v1, in order (``docs/protocol.md`` has an example of each):

* gateway → ``hello`` (protocol version, heartbeat, nonce);
* seller app → ``auth`` (device token, ``since``) → gateway ``ok`` (wallet, head);
  replayed ``event`` frames after ``since``, a ``gap`` if some are no longer
  retained, ``replayed``, then live ``event`` frames;
* or, to sign in with a wallet, seller app → ``siwe_auth`` (an EIP-4361 message
  built on ``hello.nonce`` and its signature) → gateway ``ok`` with a new device
  ``token``, then the same stream as after ``auth``;
* publisher → ``publisher_auth`` → ``ok``, then ``publish`` → ``published``;
* seller app → ``message`` (read mark, preference …) → gateway ``received``.

Every event frame names its ``wallet`` and a per-wallet ``seq``, so a later
protocol version can authenticate several wallets on one connection (one
``auth`` per wallet, each with its own token and ``since``) and a v1 client
still reads every frame unchanged. v1 gateways refuse a second ``auth``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import Discriminator, Field, Tag

from app.protocol.events import SellerEvent
from app.protocol.model import StrictWireModel, WireModel
from app.protocol.wallet import WalletAddress

PROTOCOL_VERSION: Final = 1
MAX_FRAME_BYTES: Final = 64 * 1024
"""Largest frame either side accepts; a larger one closes with 1009."""

Seq = Annotated[int, Field(ge=1)]
Position = Annotated[int, Field(ge=0)]
Ref = Annotated[str, Field(max_length=64)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]
MessageId = Annotated[str, Field(min_length=1, max_length=64)]


class ErrorCode(StrEnum):
    """Why the gateway refused something; ``fatal`` errors are followed by a close."""

    BAD_FRAME = "bad_frame"
    UNKNOWN_FRAME = "unknown_frame"
    AUTH_REQUIRED = "auth_required"
    AUTH_FAILED = "auth_failed"
    TOKEN_EXPIRED = "token_expired"
    FORBIDDEN = "forbidden"
    INVALID_EVENT = "invalid_event"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_DEVICES = "too_many_devices"
    TOKEN_REVOKED = "token_revoked"
    FRAME_TOO_LARGE = "frame_too_large"
    UNSUPPORTED = "unsupported"
    SERVER_SHUTDOWN = "server_shutdown"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class CloseCode:
    """WebSocket close codes the gateway uses, and what the client does about them."""

    NORMAL: Final = 1000
    GOING_AWAY: Final = 1001  # gateway shutting down: reconnect after the hinted delay
    POLICY: Final = 1008  # rate limited / too many connections: back off
    TOO_BIG: Final = 1009
    TRY_AGAIN_LATER: Final = 1013
    AUTH_FAILED: Final = 4001  # permanent: the token is refused, do not retry
    TOKEN_EXPIRED: Final = 4002  # permanent until a new token is given
    FORBIDDEN: Final = 4003  # permanent: e.g. revoked
    PROTOCOL: Final = 4400  # the peer sent something we cannot use


PERMANENT_CLOSE_CODES: Final = frozenset(
    {CloseCode.AUTH_FAILED, CloseCode.TOKEN_EXPIRED, CloseCode.FORBIDDEN}
)


# --- gateway → client -------------------------------------------------------------


class Hello(WireModel):
    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    server: str
    nonce: str
    heartbeat: float
    """Seconds between the gateway's WebSocket pings."""
    max_frame: int = MAX_FRAME_BYTES


class Ok(WireModel):
    """Authentication accepted. For a seller: where its log stands."""

    type: Literal["ok"] = "ok"
    ref: Ref | None = None
    role: Literal["seller", "publisher"] = "seller"
    wallet: WalletAddress | None = None
    head: Position = 0
    """The newest seq in the wallet's log (0 when empty)."""
    retained_from: Position = 0
    """The oldest seq still retained (0 when empty)."""
    token: str | None = None
    """Only in answer to ``siwe_auth``: the device token the wallet sign-in earned
    (keep it secret; it is what ``auth`` sends from now on)."""


class EventFrame(WireModel):
    """One delivered event. ``seq`` is per wallet, gap-free and increasing."""

    type: Literal["event"] = "event"
    wallet: WalletAddress
    seq: Seq
    id: EventId
    ts: datetime
    """When the gateway made the event durable (UTC)."""
    event: SellerEvent


class Replayed(WireModel):
    """The replay requested with ``since`` is complete; live events follow."""

    type: Literal["replayed"] = "replayed"
    wallet: WalletAddress
    head: Position
    count: Position = 0


class Gap(WireModel):
    """Events ``from_seq``..``to_seq`` are no longer retained: never silently skipped."""

    type: Literal["gap"] = "gap"
    wallet: WalletAddress
    from_seq: Seq
    to_seq: Seq


class Published(WireModel):
    """A publish is durable (or was already: ``duplicate``)."""

    type: Literal["published"] = "published"
    ref: Ref | None = None
    wallet: WalletAddress
    seq: Seq
    id: EventId
    duplicate: bool = False


class ErrorFrame(WireModel):
    type: Literal["error"] = "error"
    code: str
    """An :class:`ErrorCode` value; unknown codes from a newer gateway are kept."""
    message: str
    ref: Ref | None = None
    retry_after: float | None = None
    """Seconds the client should wait before trying again, when given."""
    fatal: bool = False


class Pong(WireModel):
    type: Literal["pong"] = "pong"
    ref: Ref | None = None


class Received(WireModel):
    """The gateway has a device's ``message`` (``duplicate``: it had it already and did
    not apply it twice). The device may forget the message."""

    type: Literal["received"] = "received"
    id: MessageId
    ref: Ref | None = None
    duplicate: bool = False


class UnknownServerFrame(WireModel):
    """A frame type from a newer gateway: ignored (and logged) by this client."""

    type: str


# --- client → gateway -------------------------------------------------------------


class Auth(StrictWireModel):
    """A seller device authenticates with its token.

    ``since``: the last seq this device has; every retained event after it is
    replayed. ``None`` means live events only; ``0`` means everything retained.
    """

    type: Literal["auth"] = "auth"
    token: Annotated[str, Field(min_length=1, max_length=4096)]
    since: Position | None = None
    ref: Ref | None = None


class SiweAuth(StrictWireModel):
    """A seller device signs in with its wallet (EIP-4361, protocol 1.1).

    ``message`` is the Sign-In with Ethereum text, whose ``Nonce`` is a
    ``hello.nonce`` from this gateway (single use, valid for 5 minutes);
    ``signature`` is the wallet's ``personal_sign`` of it (65 bytes, hex).
    Success is an ``ok`` carrying a new device ``token``; ``since`` works as in
    ``auth``.
    """

    type: Literal["siwe_auth"] = "siwe_auth"
    message: Annotated[str, Field(min_length=1, max_length=4096)]
    signature: Annotated[str, Field(pattern=r"^(0x)?[0-9a-fA-F]{130}$")]
    since: Position | None = None
    ref: Ref | None = None


class PublisherAuth(StrictWireModel):
    type: Literal["publisher_auth"] = "publisher_auth"
    key: Annotated[str, Field(min_length=1, max_length=4096)]
    ref: Ref | None = None


class Publish(StrictWireModel):
    """Append one event to a wallet's log. ``id`` is an idempotency key."""

    type: Literal["publish"] = "publish"
    wallet: WalletAddress
    event: SellerEvent
    id: EventId | None = None
    ref: Ref | None = None


class Ack(StrictWireModel):
    """The client has stored everything up to ``seq``."""

    type: Literal["ack"] = "ack"
    wallet: WalletAddress
    seq: Seq


class Ping(StrictWireModel):
    type: Literal["ping"] = "ping"
    ref: Ref | None = None


class AppMessage(StrictWireModel):
    """Something a seller's device tells the gateway (a read mark, a preference …).

    ``id`` is an idempotency key: a message sent again after a reconnect is
    answered ``received`` with ``duplicate`` but applied once. ``kind`` names what
    it is; ``body`` is its data. Clients set ``ref`` to the ``id`` so that a
    gateway that does not know this frame names it in its ``error``.
    """

    type: Literal["message"] = "message"
    id: MessageId
    kind: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]
    body: dict[str, Any] = Field(default_factory=dict)
    ref: Ref | None = None


def _server_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in _SERVER_TYPES else "unknown"


def _client_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in _CLIENT_TYPES else None


_SERVER_TYPES: Final = frozenset(
    {"hello", "ok", "event", "replayed", "gap", "published", "error", "pong", "received"}
)
_CLIENT_TYPES: Final = frozenset(
    {"auth", "siwe_auth", "publisher_auth", "publish", "ack", "ping", "message"}
)

ServerFrame = Annotated[
    Annotated[Hello, Tag("hello")]
    | Annotated[Ok, Tag("ok")]
    | Annotated[EventFrame, Tag("event")]
    | Annotated[Replayed, Tag("replayed")]
    | Annotated[Gap, Tag("gap")]
    | Annotated[Published, Tag("published")]
    | Annotated[ErrorFrame, Tag("error")]
    | Annotated[Pong, Tag("pong")]
    | Annotated[Received, Tag("received")]
    | Annotated[UnknownServerFrame, Tag("unknown")],
    Discriminator(_server_tag),
]

ClientFrame = Annotated[
    Annotated[Auth, Tag("auth")]
    | Annotated[SiweAuth, Tag("siwe_auth")]
    | Annotated[PublisherAuth, Tag("publisher_auth")]
    | Annotated[Publish, Tag("publish")]
    | Annotated[Ack, Tag("ack")]
    | Annotated[Ping, Tag("ping")]
    | Annotated[AppMessage, Tag("message")],
    Discriminator(
        _client_tag,
        custom_error_type="unknown_frame",
        custom_error_message="unknown frame type",
    ),
]
