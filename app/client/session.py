"""The seller side of protocol v1 without I/O: frames in, session events and frames out.

The connection adapter feeds every text frame it receives to
:meth:`ClientSession.receive`, acts on the returned events in order, and sends
whatever :meth:`ClientSession.frames_to_send` returns. All the rules that keep a
seller's history complete live here, so they are tested without sockets:

* ``since`` for each new connection is the last seq stored without a hole, so a
  reconnect (or an app restart, through the store) replays exactly what is missing;
* every event is recorded in the store *before* it is reported as delivered,
  so nothing is shown that would be lost by a crash;
* duplicates (by id, or a seq already covered) are dropped; a seq that skips
  ahead is kept and a resync is requested to fetch the hole;
* bad input never raises: it becomes :class:`Ignored`, with a logged reason.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from app.protocol import (
    KNOWN_EVENTS,
    Ack,
    Auth,
    ErrorCode,
    ErrorFrame,
    EventFrame,
    Gap,
    Hello,
    Ok,
    Pong,
    ProtocolError,
    Published,
    Replayed,
    UnknownEvent,
    UnknownServerFrame,
    decode_server_frame,
    encode_frame,
    normalize_wallet,
)
from app.store.events import ClientStore, StoreError

logger = logging.getLogger("seller_notifier.client")

WRONG_WALLET: Final = "wrong_wallet"
"""The :class:`Refused` code when the token authenticates a wallet other than the expected one."""

_REFUSAL_CODES: Final = frozenset(
    {ErrorCode.AUTH_FAILED, ErrorCode.TOKEN_EXPIRED, ErrorCode.FORBIDDEN, ErrorCode.AUTH_REQUIRED}
)
_PERMANENT_REFUSAL_CODES: Final = frozenset(
    {ErrorCode.AUTH_FAILED, ErrorCode.TOKEN_EXPIRED, ErrorCode.FORBIDDEN}
)
_DEDUPE_WINDOW: Final = 10_000
"""Ids remembered per wallet without a store; seq order catches anything older."""


# --- what the session reports ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivered:
    """A new event, already stored: show it. ``replayed``: it was missed while offline."""

    frame: EventFrame
    replayed: bool


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The gateway accepted the token for ``wallet``; its log's newest seq is ``head``."""

    wallet: str
    head: int
    since: int | None
    """What this connection asked to replay from."""


@dataclass(frozen=True, slots=True)
class ReplayDone:
    """Everything missed while offline has been delivered (``count`` events sent)."""

    wallet: str
    head: int
    count: int


@dataclass(frozen=True, slots=True)
class GapDetected:
    """Events ``from_seq``..``to_seq`` are gone from the gateway: tell the seller."""

    wallet: str
    from_seq: int
    to_seq: int


@dataclass(frozen=True, slots=True)
class ResyncNeeded:
    """Reconnect and ask for ``since`` (the last seq stored without a hole)."""

    wallet: str
    since: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The gateway (or this client) will not go on with this token.

    ``permanent``: retrying with the same token is pointless; stop and tell the seller.
    """

    code: str
    message: str
    permanent: bool


@dataclass(frozen=True, slots=True)
class ServerError:
    """An error frame that is not about the token. ``fatal``: the gateway closes next."""

    code: str
    message: str
    retry_after: float | None
    fatal: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame that was not used (malformed, duplicate, unexpected); already logged."""

    reason: str


SessionEvent = (
    Delivered
    | Authenticated
    | ReplayDone
    | GapDetected
    | ResyncNeeded
    | Refused
    | ServerError
    | Ignored
)


class SessionState(StrEnum):
    AWAITING_HELLO = "awaiting_hello"
    AUTHENTICATING = "authenticating"
    REPLAYING = "replaying"
    LIVE = "live"
    REFUSED = "refused"


class ClientSession:
    """One seller device's view of its event stream, across connections.

    ``since``: the seq to resume after on the first connection; by default the
    store's position (``wallet``'s, or else the one the last run used), or live
    events only without a store. ``wallet``: when given, a token for another
    wallet is refused (:data:`WRONG_WALLET`). Keep one session for the life of the
    client and call :meth:`connection_made` for each new WebSocket.
    """

    def __init__(
        self,
        token: str,
        *,
        since: int | None = None,
        store: ClientStore | None = None,
        wallet: str | None = None,
    ) -> None:
        if wallet is not None:
            wallet = normalize_wallet(wallet)  # raises InvalidWallet (a ValueError)
        self._token = token
        self._store = store
        self._expected_wallet = wallet
        self._positions: dict[str, int] = {}
        self._held: dict[str, set[int]] = {}
        self._seen: dict[str, OrderedDict[str, None]] = {}
        # Before the gateway names the wallet, ``since`` belongs to _first_wallet
        # (None: whichever wallet the token is for).
        self._first_since = since
        self._first_wallet = wallet
        if since is None and store is not None:
            if wallet is not None:
                self._first_since = store.last_seq(wallet)
            elif (latest := store.latest_position()) is not None:
                self._first_wallet, self._first_since = latest
        self.state = SessionState.AWAITING_HELLO
        self.wallet: str | None = None
        """The wallet the gateway authenticated, once it has."""
        self.head = 0
        self._sent_since: int | None = None
        self._resync_requested = False
        self._outbox: list[str] = []
        self._acks: dict[str, int] = {}

    # --- the adapter's side -------------------------------------------------------

    @property
    def since(self) -> int | None:
        """What the next ``auth`` asks to replay after (None: live events only)."""
        wallet = self.wallet or self._first_wallet
        if wallet is not None and wallet in self._positions:
            return self._positions[wallet]
        if self.wallet is not None and self._first_wallet not in (None, self.wallet):
            # The stored position was another wallet's; this one has none.
            return None
        return self._first_since

    def last_seq(self, wallet: str) -> int | None:
        """The last seq of ``wallet`` received without a hole, if known."""
        return self._positions.get(wallet)

    def connection_made(self) -> None:
        """A new WebSocket is open: forget the previous one's state; wait for hello."""
        self.state = SessionState.AWAITING_HELLO
        self._resync_requested = False
        self._outbox.clear()
        self._acks.clear()

    def frames_to_send(self) -> list[str]:
        """Frames to send now, in order (``auth`` after ``hello``; acks). Empties the queue."""
        frames = self._outbox
        self._outbox = []
        for wallet, seq in self._acks.items():
            frames.append(encode_frame(Ack(wallet=wallet, seq=seq)))
        self._acks.clear()
        return frames

    def receive(self, data: str | bytes) -> list[SessionEvent]:
        """Handle one frame from the gateway; never raises for bad input."""
        try:
            frame = decode_server_frame(data)
        except ProtocolError as exc:
            return self._decode_failed(data, exc)
        match frame:
            case EventFrame():
                return self._on_event(frame)
            case Hello():
                return self._on_hello(frame)
            case Ok():
                return self._on_ok(frame)
            case Replayed():
                return self._on_replayed(frame)
            case Gap():
                return self._on_gap(frame)
            case ErrorFrame():
                return self._on_error(frame)
            case Pong():
                return []
            case Published():
                return [self._ignore("a 'published' frame, which only publishers expect")]
            case UnknownServerFrame():
                return [self._ignore(f"unknown frame type {frame.type!r}", level=logging.INFO)]
        return [self._ignore(f"unexpected frame type {frame.type!r}")]

    # --- handshake ------------------------------------------------------------------

    def _on_hello(self, hello: Hello) -> list[SessionEvent]:
        if self.state is not SessionState.AWAITING_HELLO:
            return [self._ignore("a second 'hello'")]
        self._sent_since = self.since
        self._outbox.append(encode_frame(Auth(token=self._token, since=self._sent_since)))
        self.state = SessionState.AUTHENTICATING
        return []

    def _on_ok(self, ok: Ok) -> list[SessionEvent]:
        if self.state is not SessionState.AUTHENTICATING:
            return [self._ignore("an 'ok' frame outside authentication")]
        if ok.role != "seller" or ok.wallet is None:
            self.state = SessionState.REFUSED
            return [
                Refused(
                    ErrorCode.BAD_FRAME,
                    "the gateway accepted the token but named no seller wallet",
                    permanent=False,
                )
            ]
        wallet = ok.wallet
        if self._expected_wallet is not None and wallet != self._expected_wallet:
            self.state = SessionState.REFUSED
            return [
                Refused(
                    WRONG_WALLET,
                    f"this token is for wallet {wallet}, not {self._expected_wallet}",
                    permanent=True,
                )
            ]
        self.wallet = wallet
        self.head = ok.head
        sent = self._sent_since
        self.state = SessionState.LIVE if sent is None else SessionState.REPLAYING
        events: list[SessionEvent] = [Authenticated(wallet, ok.head, sent)]
        if wallet not in self._positions:
            if sent is None:
                # Live only: nothing before the head is expected, so the next seq is head + 1.
                self._set_position(wallet, ok.head)
            elif self._first_wallet in (None, wallet):
                self._positions[wallet] = sent
            else:
                # We resumed from another wallet's position: ask again with this one's.
                self._resync_requested = True
                events.append(
                    ResyncNeeded(
                        wallet, self.since, f"the stored position was for {self._first_wallet}"
                    )
                )
                return events
        position = self._positions[wallet]
        if ok.head < position:
            # The gateway's log restarted (or it is another gateway): its seqs are new to us.
            logger.warning(
                "gateway log for %s is at seq %d, behind this device's %d: reading it again",
                wallet,
                ok.head,
                position,
            )
            self._held.pop(wallet, None)
            self._set_position(wallet, 0)
            self._resync_requested = True
            events.append(
                ResyncNeeded(
                    wallet, 0, f"the gateway's log restarted (head {ok.head} < {position})"
                )
            )
        return events

    # --- the event stream -----------------------------------------------------------

    def _on_event(self, frame: EventFrame) -> list[SessionEvent]:
        where = f"event {frame.seq} of {frame.wallet}"
        if self.wallet is None or self.state not in (SessionState.REPLAYING, SessionState.LIVE):
            return [self._ignore(f"{where} before authentication")]
        if frame.wallet != self.wallet:
            return [self._ignore(f"{where}, which is not the authenticated wallet {self.wallet}")]
        wallet = frame.wallet
        position = self._positions.get(wallet)
        if position is not None and frame.seq <= position:
            return [self._ignore(f"{where} again (already have up to {position})", logging.DEBUG)]
        held = self._held.setdefault(wallet, set())
        contiguous = position is None or frame.seq == position + 1
        if contiguous:
            new_position = frame.seq
            while new_position + 1 in held:
                new_position += 1
        else:
            assert position is not None
            new_position = position
        try:
            is_new = self._remember(frame, new_position)
        except StoreError as exc:
            logger.error("could not store %s: %s", where, exc)
            self._resync_requested = True
            return [ResyncNeeded(wallet, position, f"could not save an event: {exc}")]
        held.difference_update(range(frame.seq, new_position + 1))
        self._positions[wallet] = new_position
        events: list[SessionEvent] = []
        if is_new:
            events.append(Delivered(frame, replayed=self.state is SessionState.REPLAYING))
        else:
            events.append(self._ignore(f"{where} is a duplicate of id {frame.id!r}", logging.DEBUG))
        if contiguous:
            if self.state is SessionState.LIVE:
                self._acks[wallet] = new_position
        else:
            held.add(frame.seq)
            if not self._resync_requested:
                assert position is not None
                self._resync_requested = True
                missing = (
                    f"{position + 1}"
                    if frame.seq == position + 2
                    else (f"{position + 1}..{frame.seq - 1}")
                )
                logger.warning("%s arrived before %s: asking the gateway again", where, missing)
                events.append(
                    ResyncNeeded(wallet, position, f"events {missing} of {wallet} are missing")
                )
        return events

    def _remember(self, frame: EventFrame, position: int) -> bool:
        """Store (or, without a store, note) the event; False for an id already seen."""
        if self._store is not None:
            return self._store.record(frame, position=position)
        seen = self._seen.setdefault(frame.wallet, OrderedDict())
        if frame.id in seen:
            return False
        seen[frame.id] = None
        if len(seen) > _DEDUPE_WINDOW:
            seen.popitem(last=False)
        return True

    def _on_replayed(self, replayed: Replayed) -> list[SessionEvent]:
        if replayed.wallet != self.wallet or self.state not in (
            SessionState.REPLAYING,
            SessionState.LIVE,
        ):
            return [self._ignore(f"'replayed' for {replayed.wallet} outside a replay")]
        self.state = SessionState.LIVE
        position = self._positions.get(replayed.wallet)
        if position:
            self._acks[replayed.wallet] = position
        return [ReplayDone(replayed.wallet, replayed.head, replayed.count)]

    def _on_gap(self, gap: Gap) -> list[SessionEvent]:
        if gap.wallet != self.wallet or self.state not in (
            SessionState.REPLAYING,
            SessionState.LIVE,
        ):
            return [self._ignore(f"'gap' for {gap.wallet} outside a replay")]
        wallet = gap.wallet
        logger.warning(
            "events %d..%d of %s are no longer kept by the gateway",
            gap.from_seq,
            gap.to_seq,
            wallet,
        )
        position = max(self._positions.get(wallet, 0), gap.to_seq)
        held = self._held.get(wallet, set())
        while position + 1 in held:
            position += 1
        held.difference_update(range(position + 1))
        self._set_position(wallet, position)
        return [GapDetected(wallet, gap.from_seq, gap.to_seq)]

    def _set_position(self, wallet: str, seq: int) -> None:
        self._positions[wallet] = seq
        if self._store is not None:
            try:
                self._store.set_position(wallet, seq)
            except StoreError as exc:
                # Only costs a replay after a restart; the session goes on with its copy.
                logger.error("could not save the position of %s: %s", wallet, exc)

    # --- errors ------------------------------------------------------------------------

    def _on_error(self, error: ErrorFrame) -> list[SessionEvent]:
        if error.code in _REFUSAL_CODES:
            permanent = error.fatal and error.code in _PERMANENT_REFUSAL_CODES
            if permanent:
                self.state = SessionState.REFUSED
            logger.info("gateway refused the token (%s): %s", error.code, error.message)
            return [Refused(error.code, error.message, permanent=permanent)]
        # A gateway going down for a restart is routine, not worth a warning.
        level = logging.INFO if error.code == ErrorCode.SERVER_SHUTDOWN else logging.WARNING
        logger.log(level, "gateway error %s: %s", error.code, error.message)
        return [ServerError(error.code, error.message, error.retry_after, error.fatal)]

    def _decode_failed(self, data: str | bytes, error: ProtocolError) -> list[SessionEvent]:
        raw = _json_object(data)
        if raw is not None and raw.get("type") == "event":
            kept = self._keep_unreadable_event(raw)
            if kept is not None:
                return kept
        where = _whereabouts(raw)
        return [self._ignore(f"an unusable frame{where}: {error.message}")]

    def _keep_unreadable_event(self, raw: dict[str, Any]) -> list[SessionEvent] | None:
        """An event this version cannot read inside a good envelope is kept as unknown.

        Dropping it would lose data and make every resume ask for it again.
        """
        event = raw.get("event")
        if not isinstance(event, dict):
            return None
        try:
            frame = EventFrame.model_validate({**raw, "event": UnknownEvent.model_validate(event)})
        except ValidationError:
            return None
        logger.warning(
            "event %d of %s is a %s this version cannot read; kept as received",
            frame.seq,
            frame.wallet,
            frame.event.type,
        )
        return self._on_event(frame)

    def _ignore(self, reason: str, level: int = logging.WARNING) -> Ignored:
        logger.log(level, "ignoring %s", reason)
        return Ignored(reason)


def dispatch_key(frame: EventFrame) -> str | None:
    """The event type callbacks are registered under; None for a known type kept unread."""
    event = frame.event
    if isinstance(event, UnknownEvent) and event.type in KNOWN_EVENTS:
        return None
    return event.type


def _json_object(data: str | bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _whereabouts(raw: dict[str, Any] | None) -> str:
    if raw is None:
        return ""
    parts = [f"{key} {raw[key]!r:.60}" for key in ("type", "wallet", "seq") if key in raw]
    return f" ({', '.join(parts)})" if parts else ""


__all__ = [
    "WRONG_WALLET",
    "Authenticated",
    "ClientSession",
    "Delivered",
    "GapDetected",
    "Ignored",
    "Refused",
    "ReplayDone",
    "ResyncNeeded",
    "ServerError",
    "SessionEvent",
    "SessionState",
    "dispatch_key",
]
