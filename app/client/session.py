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
  ahead is kept and a resync is requested to fetch the hole; so is a replay
  that ends short of its head, a seq that goes backwards to an id this device
  does not know, and an event frame too damaged to read (after
  :data:`UNREADABLE_ATTEMPTS` tries that one event is recorded as a gap);
* a gap the gateway reports is recorded (``gaps``) and reported, never skipped silently;
* what the device tells the gateway (acks, read marks, preferences) goes through
  the ``outbox``: kept while offline, sent in order after the next sign-in,
  forgotten once the gateway confirms it;
* bad input never raises: it becomes :class:`Ignored`, with a logged reason
  naming the wallet and seq when the frame says them.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from app.protocol import (
    KNOWN_EVENTS,
    MAX_FRAME_BYTES,
    Ack,
    AppMessage,
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
    Received,
    Replayed,
    SellerEvent,
    ServerFrame,
    UnknownEvent,
    UnknownServerFrame,
    decode_server_frame,
    encode_frame,
    normalize_wallet,
)
from app.store.events import ClientStore, StoreError
from app.store.gaps import GapLog
from app.store.outbox import Outbox, OutboxMessage

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
"""Ids (with their seq) remembered per wallet; the store and seq order catch anything older."""
_STORED_DEDUPE_WINDOW: Final = 1_000
"""The same with a store, which already tells a new id from a known one: the window
then only serves to spot a stream gone wrong, and ~300 bytes an id add up."""
_CONTENT_WINDOW: Final = 1_000
"""Newest events whose content is kept, to tell a repeat from a conflicting copy."""
UNREADABLE_ATTEMPTS: Final = 3
"""Connections that may bring the same unreadable event before it is given up as a gap."""
ACK_KIND: Final = "ack"
"""The outbox kind of a position acknowledgement (sent as an ``ack`` frame)."""
ACK_EVERY: Final = 100
"""Live events between two acks; :meth:`ClientSession.due_acks` sends the rest on a timer.
Acks are advisory (``since`` decides a resume): one per event would only cost the
gateway's per-device frame budget."""
_REJECTING_CODES: Final = frozenset(
    {ErrorCode.UNKNOWN_FRAME, ErrorCode.UNSUPPORTED, ErrorCode.BAD_FRAME, ErrorCode.FORBIDDEN}
)
"""Error codes that mean the gateway will never take a message: sending it again is pointless."""


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
    """Events ``from_seq``..``to_seq`` will never arrive: tell the seller (already recorded)."""

    wallet: str
    from_seq: int
    to_seq: int
    reason: str = "no longer kept by the gateway"


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
class MessageSettled:
    """An outbox message is done with: ``delivered`` (the gateway confirmed it) or
    refused for good (``reason`` says why); either way it left the outbox."""

    key: str
    kind: str
    delivered: bool
    reason: str = ""
    duplicate: bool = False
    """The gateway had it already (sent again after an answer was lost): applied once."""


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
    | MessageSettled
    | Ignored
)


_Content = tuple[datetime, SellerEvent]
"""What an event says (its time and body), to tell a repeat from a conflicting copy."""


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
    wallet is refused (:data:`WRONG_WALLET`). ``outbox``: where messages for
    the gateway wait (default: one in memory, lost on exit); ``gaps``: where
    lost ranges are recorded (default: only logged). Keep one session for the
    life of the client; call :meth:`connection_made` for each new WebSocket and
    :meth:`connection_lost` when it ends.
    """

    def __init__(
        self,
        token: str,
        *,
        since: int | None = None,
        store: ClientStore | None = None,
        wallet: str | None = None,
        outbox: Outbox | None = None,
        gaps: GapLog | None = None,
    ) -> None:
        if wallet is not None:
            wallet = normalize_wallet(wallet)  # raises InvalidWallet (a ValueError)
        self._token = token
        self._store = store
        self._expected_wallet = wallet
        self._positions: dict[str, int] = {}
        self._held: dict[str, set[int]] = {}
        self._seen: dict[str, OrderedDict[str, int]] = {}
        self._contents: dict[str, OrderedDict[str, _Content]] = {}
        self._ids_by_seq: dict[str, dict[int, str]] = {}
        self._unreadable: dict[tuple[str, int], int] = {}
        self._owns_outbox = outbox is None
        self.outbox = outbox if outbox is not None else Outbox(":memory:")
        """Messages waiting for the gateway (:meth:`send_message` puts them there)."""
        if self._owns_outbox:
            # Closed with the session, even if nobody calls close().
            weakref.finalize(self, self.outbox.close)
        self._gaps = gaps
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
        self._queued: list[str] = []
        self._acks: dict[str, int] = {}
        self._acked: dict[str, int] = {}
        self._in_flight: dict[str, str] = {}

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
        self._queued.clear()
        self._acks.clear()
        self._acked.clear()
        self._in_flight.clear()

    def connection_lost(self) -> None:
        """The WebSocket ended: keep the acknowledgement it may not have carried.

        The newest position of the wallet is queued in the outbox (replacing an
        older ack): whether the last ack handed out got through is unknown, and one
        more costs a frame. The next sign-in sends it.
        """
        wallet = self.wallet
        if wallet is not None and self.state in (SessionState.REPLAYING, SessionState.LIVE):
            position = self._positions.get(wallet, 0)
            if position > 0:
                self._keep(ACK_KIND, {"wallet": wallet, "seq": position}, slot=f"ack:{wallet}")
        self.state = SessionState.AWAITING_HELLO
        self._queued.clear()
        self._acks.clear()
        self._in_flight.clear()

    def frames_to_send(self) -> list[str]:
        """Frames to send now, in order (``auth`` after ``hello``; messages; acks).

        Empties the queue: the caller sends them all or the connection is lost.
        """
        frames = self._queued
        self._queued = []
        for wallet, seq in self._acks.items():
            frames.append(encode_frame(Ack(wallet=wallet, seq=seq)))
            self._acked[wallet] = max(seq, self._acked.get(wallet, 0))
        self._acks.clear()
        return frames

    def due_acks(self) -> list[str]:
        """An ``ack`` for the position, if it moved since the last one (call it now and
        then, e.g. with each heartbeat: between them live events are acked in batches)."""
        wallet = self.wallet
        if wallet is None or self.state not in (SessionState.REPLAYING, SessionState.LIVE):
            return []
        position = self._positions.get(wallet, 0)
        if position <= self._acked.get(wallet, 0):
            return []
        self._acks[wallet] = position
        return self.frames_to_send()

    def send_message(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        key: str | None = None,
        slot: str | None = None,
        ttl: timedelta | None = None,
    ) -> OutboxMessage:
        """Queue a message for the gateway (durably, when the outbox is on disk).

        It is sent now if the session is signed in (collect it with
        :meth:`frames_to_send`), else after the next sign-in, and stays queued until
        the gateway confirms it (:class:`MessageSettled`). ``key``: idempotency
        key (default: a random one); ``slot``: replaces a message still queued in
        the same slot. Raises ``ValueError`` for a kind or body the protocol
        refuses, and :class:`~app.store.events.StoreError` if it cannot be queued.
        """
        if kind == ACK_KIND:
            raise ValueError("acks are the session's own business")
        frame = AppMessage(id=key or "k", kind=kind, body=body, ref=key or "k")
        if len(encode_frame(frame).encode()) > MAX_FRAME_BYTES - 200:
            raise ValueError(f"a {kind} message must fit in one {MAX_FRAME_BYTES}-byte frame")
        message = self.outbox.put(kind, body, key=key, slot=slot, ttl=ttl)
        if self.state in (SessionState.REPLAYING, SessionState.LIVE):
            self._queue_message(message)
        return message

    def close(self) -> None:
        """Close the outbox this session made for itself (not one it was given)."""
        if self._owns_outbox:
            self.outbox.close()

    def receive(self, data: str | bytes) -> list[SessionEvent]:
        """Handle one frame from the gateway; never raises for bad input."""
        return self._handle(data, self._decode(data))

    def receive_many(self, frames: Sequence[str | bytes]) -> list[SessionEvent]:
        """Handle frames received back to back, as :meth:`receive` would one by one.

        Consecutive events are stored in one transaction (one commit for a
        burst), and none of them is reported before that commit succeeded: if it
        fails, nothing of the run is reported and the session asks to resync
        from what the store holds. Stops after the frame whose events end the
        connection (:class:`ResyncNeeded`, :class:`Refused`): the frames after it
        are dropped unread, as they would be when the connection ends.
        """
        decoded = [(data, self._decode(data)) for data in frames]
        events: list[SessionEvent] = []
        index = 0
        while index < len(decoded):
            end = index
            while end < len(decoded) and isinstance(decoded[end][1], EventFrame):
                end += 1
            if self._store is not None and end - index > 1:
                run = [frame for _, frame in decoded[index:end] if isinstance(frame, EventFrame)]
                handled = self._on_events(self._store, run)
                index = end
            else:
                handled = self._handle(*decoded[index])
                index += 1
            events += handled
            if any(isinstance(event, ResyncNeeded | Refused) for event in handled):
                break
        return events

    def _on_events(self, store: ClientStore, frames: list[EventFrame]) -> list[SessionEvent]:
        """Events in a row, stored in one transaction; reported only once committed."""
        events: list[SessionEvent] = []
        try:
            with store.batch():
                for frame in frames:
                    handled = self._on_event(frame)
                    events += handled
                    if any(isinstance(event, ResyncNeeded) for event in handled):
                        break
        except StoreError as exc:
            logger.error("could not store %d events: %s", len(frames), exc)
            return self._forget_uncommitted(f"could not save events: {exc}")
        return events

    def _forget_uncommitted(self, reason: str) -> list[SessionEvent]:
        """A batch was rolled back: what this session noted of it is not stored.

        Positions go back to the store's; the in-memory dedupe windows are dropped
        (the store's unique ids and the positions still catch every repeat).
        """
        for known in list(self._positions):
            try:
                stored = self._store.last_seq(known) if self._store is not None else None
            except StoreError:
                stored = None
            if stored is None:
                del self._positions[known]
            else:
                self._positions[known] = stored
        for memory in (self._held, self._seen, self._contents, self._ids_by_seq):
            memory.clear()
        self._acks.clear()
        if self.wallet is None:
            return []
        # Even if one was asked for already: its event was rolled back with the rest.
        self._resync_requested = True
        return [ResyncNeeded(self.wallet, self._positions.get(self.wallet), reason)]

    @staticmethod
    def _decode(data: str | bytes) -> ServerFrame | ProtocolError:
        try:
            return decode_server_frame(data)
        except ProtocolError as exc:
            return exc

    def _handle(self, data: str | bytes, frame: ServerFrame | ProtocolError) -> list[SessionEvent]:
        if isinstance(frame, ProtocolError):
            return self._decode_failed(data, frame)
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
            case Received():
                return self._on_received(frame)
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
        self._queued.append(encode_frame(Auth(token=self._token, since=self._sent_since)))
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
            self._ids_by_seq.pop(wallet, None)
            self._set_position(wallet, 0)
            self._resync_requested = True
            events.append(
                ResyncNeeded(
                    wallet, 0, f"the gateway's log restarted (head {ok.head} < {position})"
                )
            )
            return events
        self._flush_outbox(wallet)
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
        content = (frame.ts, frame.event)
        if position is not None and frame.seq <= position:
            return self._on_old_seq(frame, position, content)
        held = self._held.setdefault(wallet, set())
        if frame.seq in held:
            return [self._ignore(f"{where} again (already stored, waiting for earlier ones)",
                                 logging.DEBUG)]  # fmt: skip
        contiguous = position is None or frame.seq == position + 1
        if contiguous:
            new_position = frame.seq
            while new_position + 1 in held:
                new_position += 1
        else:
            assert position is not None
            new_position = position
        known = self._known(wallet, frame.id)
        try:
            is_new = self._remember(frame, new_position)
        except StoreError as exc:
            logger.error("could not store %s: %s", where, exc)
            self._resync_requested = True
            return [ResyncNeeded(wallet, position, f"could not save an event: {exc}")]
        held.difference_update(range(frame.seq, new_position + 1))
        self._positions[wallet] = new_position
        self._unreadable.pop((wallet, frame.seq), None)
        events: list[SessionEvent] = []
        if is_new:
            events.append(Delivered(frame, replayed=self.state is SessionState.REPLAYING))
        elif known is not None and known[1] is not None and known[1] != content:
            # First write wins: what the seller was shown stays what is stored.
            events.append(
                self._ignore(
                    f"{where} is a duplicate of id {frame.id!r} (event {known[0]}) "
                    "with different content; keeping the first copy"
                )
            )
        else:
            events.append(self._ignore(f"{where} is a duplicate of id {frame.id!r}", logging.INFO))
        if contiguous:
            if (
                self.state is SessionState.LIVE
                and new_position - self._acked.get(wallet, 0) >= ACK_EVERY
            ):
                self._acks[wallet] = new_position
        else:
            held.add(frame.seq)
            assert position is not None
            first, last = position + 1, frame.seq - 1
            missing = f"{first}" if first == last else f"{first}..{last}"
            events += self._resync(wallet, f"events {missing} of {wallet} are missing",
                                   f"{where} arrived before {missing}")  # fmt: skip
        return events

    def _on_old_seq(
        self, frame: EventFrame, position: int, content: _Content
    ) -> list[SessionEvent]:
        """An event at or below the position: a harmless repeat, or a stream gone wrong."""
        where = f"event {frame.seq} of {frame.wallet}"
        wallet = frame.wallet
        known_id = self._ids_by_seq.get(wallet, {}).get(frame.seq)
        known = self._known(wallet, frame.id)
        if known_id == frame.id or (known is not None and known[0] == frame.seq):
            if known is not None and known[1] is not None and known[1] != content:
                return [
                    self._ignore(
                        f"{where} was received before with different content "
                        f"(id {frame.id!r}); keeping the first copy"
                    )
                ]
            return [self._ignore(f"{where} again (already have up to {position})", logging.DEBUG)]
        if known_id is None and known is None:
            # Older than this device remembers: the store's position says it was had.
            return [self._ignore(f"{where} again (already have up to {position})", logging.DEBUG)]
        # A seq this device holds under another id, or an id it holds under another seq:
        # the stream is not the log it was reading. Ask again from the position.
        events: list[SessionEvent] = [
            self._ignore(
                f"{where} (id {frame.id!r}) goes back to a seq already received"
                + (f" as id {known_id!r}" if known_id is not None else "")
            )
        ]
        return events + self._resync(
            wallet, f"event {frame.seq} of {wallet} came again with another id"
        )

    def _resync(self, wallet: str, reason: str, log: str | None = None) -> list[SessionEvent]:
        """Ask (once per connection) to reconnect from the last seq stored without a hole."""
        if self._resync_requested:
            return []
        self._resync_requested = True
        logger.warning("%s: asking the gateway again", log or reason)
        return [ResyncNeeded(wallet, self._positions.get(wallet), reason)]

    def _known(self, wallet: str, event_id: str) -> tuple[int, _Content | None] | None:
        """The seq an id was received at, and its content if still kept; None if unknown."""
        seen = self._seen.get(wallet)
        seq = None if seen is None else seen.get(event_id)
        if seq is None:
            return None
        contents = self._contents.get(wallet)
        return seq, None if contents is None else contents.get(event_id)

    def _remember(self, frame: EventFrame, position: int) -> bool:
        """Store (or, without a store, note) the event; False for an id already seen."""
        wallet = frame.wallet
        seen = self._seen.setdefault(wallet, OrderedDict())
        if self._store is not None:
            is_new = self._store.record(frame, position=position)
        else:
            is_new = frame.id not in seen
        if is_new or frame.id not in seen:
            seen[frame.id] = frame.seq
            by_seq = self._ids_by_seq.setdefault(wallet, {})
            by_seq[frame.seq] = frame.id
            if len(seen) > (_DEDUPE_WINDOW if self._store is None else _STORED_DEDUPE_WINDOW):
                _, old_seq = seen.popitem(last=False)
                by_seq.pop(old_seq, None)
            # Kept by reference (no copy, no serialising): compared only for a repeated id.
            contents = self._contents.setdefault(wallet, OrderedDict())
            contents[frame.id] = (frame.ts, frame.event)
            if len(contents) > _CONTENT_WINDOW:
                contents.popitem(last=False)
        return is_new

    def _on_replayed(self, replayed: Replayed) -> list[SessionEvent]:
        if replayed.wallet != self.wallet or self.state not in (
            SessionState.REPLAYING,
            SessionState.LIVE,
        ):
            return [self._ignore(f"'replayed' for {replayed.wallet} outside a replay")]
        self.state = SessionState.LIVE
        wallet = replayed.wallet
        position = self._positions.get(wallet, 0)
        if position:
            self._acks[wallet] = position
        events: list[SessionEvent] = [ReplayDone(wallet, replayed.head, replayed.count)]
        if replayed.head > position:
            events += self._resync(
                wallet,
                f"the replay of {wallet} ended at {replayed.head} "
                f"but events after {position} did not all arrive",
            )
        return events

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
        detected = GapDetected(wallet, gap.from_seq, gap.to_seq)
        self._record_gap(detected)
        self._skip_to(wallet, gap.to_seq)
        return [detected]

    def _skip_to(self, wallet: str, seq: int) -> None:
        """Move the position past ``seq`` (and past what is held right after it)."""
        position = max(self._positions.get(wallet, 0), seq)
        held = self._held.get(wallet, set())
        while position + 1 in held:
            position += 1
        held.difference_update(range(position + 1))
        self._set_position(wallet, position)

    def _record_gap(self, gap: GapDetected) -> None:
        if self._gaps is None:
            return
        try:
            self._gaps.record(gap.wallet, gap.from_seq, gap.to_seq, gap.reason)
        except StoreError as exc:
            # The seller is still told; only the later record is missing.
            logger.error("could not record the gap %d..%d of %s: %s",
                         gap.from_seq, gap.to_seq, gap.wallet, exc)  # fmt: skip

    def _set_position(self, wallet: str, seq: int) -> None:
        self._positions[wallet] = seq
        if self._store is not None:
            try:
                self._store.set_position(wallet, seq)
            except StoreError as exc:
                # Only costs a replay after a restart; the session goes on with its copy.
                logger.error("could not save the position of %s: %s", wallet, exc)

    # --- the outbox ------------------------------------------------------------------

    def _flush_outbox(self, wallet: str) -> None:
        """Signed in: queue everything the outbox holds, oldest first."""
        try:
            pending = self.outbox.pending()
        except StoreError as exc:
            logger.error("could not read the outbox: %s", exc)
            return
        for message in pending:
            if message.kind != ACK_KIND:
                self._queue_message(message)
                continue
            # An ack is only worth sending for this wallet, and needs no answer.
            seq = message.body.get("seq")
            if message.body.get("wallet") == wallet and isinstance(seq, int) and seq >= 1:
                self._acks[wallet] = max(seq, self._acks.get(wallet, 0))
            self._forget(message.key)

    def _queue_message(self, message: OutboxMessage) -> None:
        if message.key in self._in_flight:
            return
        try:
            frame = AppMessage(
                id=message.key, kind=message.kind, body=message.body, ref=message.key
            )
        except ValidationError as exc:
            logger.warning("dropping an outbox message (%s, key %s) this protocol refuses: %s",
                           message.kind, message.key, exc.errors()[0]["msg"])  # fmt: skip
            self._forget(message.key)
            return
        self._in_flight[message.key] = message.kind
        self._queued.append(encode_frame(frame))

    def _on_received(self, received: Received) -> list[SessionEvent]:
        kind = self._in_flight.pop(received.id, None)
        if kind is None:
            return [self._ignore(f"'received' for message {received.id!r}, which is not out",
                                 logging.INFO)]  # fmt: skip
        self._forget(received.id)
        return [MessageSettled(received.id, kind, delivered=True, duplicate=received.duplicate)]

    def _keep(self, kind: str, body: dict[str, Any], *, slot: str) -> None:
        try:
            self.outbox.put(kind, body, slot=slot)
        except StoreError as exc:
            logger.error("could not queue a %s for later: %s", kind, exc)

    def _forget(self, key: str) -> None:
        try:
            self.outbox.remove(key)
        except StoreError as exc:
            # Sent again after the next sign-in; its key makes that harmless.
            logger.error("could not remove message %s from the outbox: %s", key, exc)

    # --- errors ------------------------------------------------------------------------

    def _on_error(self, error: ErrorFrame) -> list[SessionEvent]:
        if error.ref is not None and error.ref in self._in_flight:
            return self._message_refused(error)
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

    def _message_refused(self, error: ErrorFrame) -> list[SessionEvent]:
        assert error.ref is not None
        key = error.ref
        kind = self._in_flight.pop(key)
        events: list[SessionEvent] = []
        if error.code in _REJECTING_CODES:
            logger.warning("the gateway refused a %s message (%s): %s; dropped",
                           kind, error.code, error.message)  # fmt: skip
            self._forget(key)
            events.append(MessageSettled(key, kind, delivered=False, reason=error.message))
        else:
            # Busy or failing: the message stays queued for the next connection.
            logger.info("the gateway could not take a %s message now (%s): %s",
                        kind, error.code, error.message)  # fmt: skip
        if error.fatal:
            events.append(ServerError(error.code, error.message, error.retry_after, fatal=True))
        return events

    def _decode_failed(self, data: str | bytes, error: ProtocolError) -> list[SessionEvent]:
        raw = _json_object(data)
        if raw is not None and raw.get("type") == "event":
            kept = self._keep_unreadable_event(raw)
            if kept is not None:
                return kept
        where = _whereabouts(raw)
        events: list[SessionEvent] = [self._ignore(f"an unusable frame{where}: {error.message}")]
        if raw is not None and raw.get("type") == "event":
            events += self._lost_event(raw)
        return events

    def _lost_event(self, raw: dict[str, Any]) -> list[SessionEvent]:
        """An event frame too damaged to keep: fetch it again, or give it up as a gap."""
        wallet = self.wallet
        if wallet is None or self.state not in (SessionState.REPLAYING, SessionState.LIVE):
            return []
        seq = raw.get("seq")
        position = self._positions.get(wallet, 0)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= position:
            # Which event it was is unknown (or already had): a skip or the replay's
            # end will show whether one is missing.
            return []
        attempts = self._unreadable.get((wallet, seq), 0) + 1
        self._unreadable[(wallet, seq)] = attempts
        if attempts < UNREADABLE_ATTEMPTS:
            return self._resync(wallet, f"event {seq} of {wallet} arrived unreadable")
        del self._unreadable[(wallet, seq)]
        logger.error(
            "event %d of %s arrived unreadable %d times: recording it as lost",
            seq,
            wallet,
            attempts,
        )
        gap = GapDetected(wallet, seq, seq, "arrived unreadable")
        self._record_gap(gap)
        self._held.setdefault(wallet, set()).add(seq)
        if seq == position + 1:
            self._skip_to(wallet, seq)
        return [gap]

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
    "MessageSettled",
    "Refused",
    "ReplayDone",
    "ResyncNeeded",
    "ServerError",
    "SessionEvent",
    "SessionState",
    "dispatch_key",
]
