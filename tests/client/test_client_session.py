"""The sans-I/O session: what a seller's device does with each frame, without sockets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.client.session import (
    WRONG_WALLET,
    Authenticated,
    ClientSession,
    Delivered,
    GapDetected,
    Ignored,
    Refused,
    ReplayDone,
    ResyncNeeded,
    ServerError,
    SessionEvent,
    dispatch_key,
)
from app.protocol import UnknownEvent, decode_client_frame
from app.protocol.frames import Ack, Auth
from app.store import ClientStore

if TYPE_CHECKING:
    from conftest import Wire


def delivered(events: list[SessionEvent]) -> list[int]:
    return [e.frame.seq for e in events if isinstance(e, Delivered)]


def sent(session: ClientSession) -> list[Auth | Ack]:
    frames = []
    for text in session.frames_to_send():
        frame = decode_client_frame(text)
        assert isinstance(frame, Auth | Ack)
        frames.append(frame)
    return frames


def connect(session: ClientSession, wire: Wire, wallet: str, head: int = 0) -> list[SessionEvent]:
    """hello → auth → ok: the session is then authenticated."""
    session.connection_made()
    assert session.receive(wire.hello()) == []
    session.frames_to_send()
    return session.receive(wire.ok(wallet, head=head))


# --- handshake -----------------------------------------------------------------------


def test_hello_is_answered_with_the_token_and_since(wire: Wire) -> None:
    session = ClientSession("the-token", since=41)

    assert session.receive(wire.hello()) == []

    assert sent(session) == [Auth(token="the-token", since=41)]
    assert session.frames_to_send() == []


def test_without_since_or_store_the_session_asks_for_live_events_only(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t")
    session.receive(wire.hello())
    assert sent(session) == [Auth(token="t", since=None)]

    events = session.receive(wire.ok(wallet_a, head=57))

    assert events == [Authenticated(wallet_a, 57, None)]
    # Live from the head: the next event is 58, and a reconnect resumes after 57.
    assert delivered(session.receive(wire.event(wallet_a, 58))) == [58]
    assert session.since == 58


def test_a_token_for_another_wallet_is_refused_for_good(
    wire: Wire, wallet_a: str, wallet_b: str
) -> None:
    session = ClientSession("t", wallet=wallet_a)

    events = connect(session, wire, wallet_b)

    assert events == [
        Refused(WRONG_WALLET, f"this token is for wallet {wallet_b}, not {wallet_a}", True)
    ]
    assert session.receive(wire.event(wallet_b, 1)) == [
        Ignored(f"event 1 of {wallet_b} before authentication")
    ]


# --- replay and live -------------------------------------------------------------------


def test_replay_then_live_events_are_delivered_in_order_and_acknowledged(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t", since=0)
    connect(session, wire, wallet_a, head=2)

    first = session.receive(wire.event(wallet_a, 1))
    second = session.receive(wire.event(wallet_a, 2))
    assert sent(session) == []  # nothing acknowledged in the middle of a replay
    done = session.receive(wire.replayed(wallet_a, head=2, count=2))
    acked_after_replay = sent(session)
    live = session.receive(wire.event(wallet_a, 3))

    assert [e.replayed for e in first + second if isinstance(e, Delivered)] == [True, True]
    assert done == [ReplayDone(wallet_a, 2, 2)]
    assert acked_after_replay == [Ack(wallet=wallet_a, seq=2)]
    assert [(e.frame.seq, e.replayed) for e in live if isinstance(e, Delivered)] == [(3, False)]
    assert sent(session) == []  # live events are acknowledged in batches …
    assert [decode_client_frame(text) for text in session.due_acks()] == [
        Ack(wallet=wallet_a, seq=3)
    ]  # … and on the adapter's timer
    assert session.due_acks() == []


def test_a_busy_live_stream_is_acknowledged_every_hundred_events(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a, head=0)
    acks: list[Auth | Ack] = []
    for seq in range(1, 251):
        session.receive(wire.event(wallet_a, seq))
        acks += sent(session)

    assert acks == [Ack(wallet=wallet_a, seq=100), Ack(wallet=wallet_a, seq=200)]


def test_a_reconnect_resumes_after_the_last_event_received(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t", since=0)
    connect(session, wire, wallet_a, head=0)
    session.receive(wire.replayed(wallet_a, head=0, count=0))
    for seq in (1, 2, 3):
        session.receive(wire.event(wallet_a, seq))

    session.connection_made()
    session.receive(wire.hello())

    assert sent(session) == [Auth(token="t", since=3)]


def test_duplicate_ids_are_dropped(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)

    first = session.receive(wire.event(wallet_a, 1, "order-1"))
    again = session.receive(wire.event(wallet_a, 2, "order-1"))
    after = session.receive(wire.event(wallet_a, 3, "order-2"))

    assert delivered(first) == [1]
    assert delivered(again) == []
    assert isinstance(again[0], Ignored) and "duplicate" in again[0].reason
    assert delivered(after) == [3]


def test_a_repeated_event_is_dropped_quietly(
    wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    for seq in (1, 2, 3):
        session.receive(wire.event(wallet_a, seq))

    with caplog.at_level(logging.INFO, logger="seller_notifier.client"):
        again = session.receive(wire.event(wallet_a, 2)) + session.receive(wire.event(wallet_a, 3))

    assert delivered(again) == []
    assert all(isinstance(e, Ignored) for e in again)
    assert caplog.records == []  # a replay overlapping what is stored is routine
    assert session.since == 3


def test_a_seq_that_goes_back_to_another_id_is_logged_and_resynchronised(
    wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    for seq in (1, 2, 3):
        session.receive(wire.event(wallet_a, seq))

    with caplog.at_level(logging.WARNING, logger="seller_notifier.client"):
        repeated = session.receive(wire.event(wallet_a, 3, "other-id-3"))
        backwards = session.receive(wire.event(wallet_a, 2, "other-id-2"))

    assert delivered(repeated + backwards) == []
    assert [e for e in repeated + backwards if isinstance(e, ResyncNeeded)] == [
        ResyncNeeded(wallet_a, 3, f"event 3 of {wallet_a} came again with another id")
    ]  # asked once per connection
    assert session.since == 3  # nothing lost, nothing moved back
    first = caplog.records[0].getMessage()
    assert f"event 3 of {wallet_a}" in first and "other-id-3" in first


def test_garbage_is_ignored_with_a_logged_reason_and_the_next_frame_still_delivered(
    wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    garbage = [
        "not json at all",
        b"\xff\xfe binary",
        "[1, 2, 3]",
        "{}",
        json.dumps({"type": "event", "wallet": wallet_a, "seq": "twelve", "id": "x"}),
        json.dumps({"type": "ok", "head": -1}),
    ]

    with caplog.at_level(logging.WARNING, logger="seller_notifier.client"):
        results = [session.receive(text) for text in garbage]
    good = session.receive(wire.event(wallet_a, 1))

    assert all(len(r) == 1 and isinstance(r[0], Ignored) for r in results)
    assert delivered(good) == [1]
    assert len(caplog.records) == len(garbage)
    assert all(record.name == "seller_notifier.client" for record in caplog.records)
    # Where the frame says which wallet and seq it was about, the log says so too.
    assert wallet_a in caplog.records[4].getMessage()
    assert "twelve" in caplog.records[4].getMessage()


def test_a_skipped_seq_keeps_the_events_and_asks_for_a_resync(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a, head=0)
    session.receive(wire.event(wallet_a, 1))

    events = session.receive(wire.event(wallet_a, 4))
    later = session.receive(wire.event(wallet_a, 5))

    assert delivered(events) == [4]  # never lose what arrived
    assert [e for e in events if isinstance(e, ResyncNeeded)] == [
        ResyncNeeded(wallet_a, 1, f"events 2..3 of {wallet_a} are missing")
    ]
    assert delivered(later) == [5]
    assert not any(isinstance(e, ResyncNeeded) for e in later)  # asked once
    assert session.since == 1

    # The resync: the gateway replays 2..5; 4 and 5 are not shown twice.
    session.connection_made()
    session.receive(wire.hello())
    assert sent(session) == [Auth(token="t", since=1)]
    session.receive(wire.ok(wallet_a, head=5))
    refill = [session.receive(wire.event(wallet_a, seq)) for seq in (2, 3, 4, 5)]

    assert [delivered(r) for r in refill] == [[2], [3], [], []]
    assert session.since == 5


def test_events_filling_a_hole_on_the_same_connection_close_it(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    session.receive(wire.event(wallet_a, 1))
    session.receive(wire.event(wallet_a, 3))

    filled = session.receive(wire.event(wallet_a, 2))
    following = session.receive(wire.event(wallet_a, 4))

    assert delivered(filled) == [2]
    assert session.last_seq(wallet_a) == 4
    assert delivered(following) == [4]
    assert not any(isinstance(e, ResyncNeeded) for e in following)


def test_a_gap_is_reported_and_not_mistaken_for_a_skip(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t", since=3)
    connect(session, wire, wallet_a, head=12)

    gap = session.receive(wire.gap(wallet_a, 4, 9))
    events = [session.receive(wire.event(wallet_a, seq)) for seq in (10, 11, 12)]

    assert gap == [GapDetected(wallet_a, 4, 9)]
    assert [delivered(e) for e in events] == [[10], [11], [12]]
    assert not any(isinstance(e, ResyncNeeded) for batch in events for e in batch)
    assert session.since == 12


def test_an_unknown_event_type_is_delivered_with_all_its_fields(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    frame = json.loads(wire.event(wallet_a, 1))
    frame["event"] = {"type": "loyalty_points", "points": 120, "note": "spring promo"}

    events = session.receive(json.dumps(frame))

    assert len(events) == 1 and isinstance(events[0], Delivered)
    event = events[0].frame.event
    assert isinstance(event, UnknownEvent)
    assert event.model_dump() == {"type": "loyalty_points", "points": 120, "note": "spring promo"}
    assert dispatch_key(events[0].frame) == "loyalty_points"


def test_a_known_event_this_version_cannot_read_is_kept_not_dropped(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    frame = json.loads(wire.event(wallet_a, 1))
    frame["event"]["total"] = {"amount": "41.50", "precision": 2}  # a newer gateway's shape

    events = session.receive(json.dumps(frame))

    assert len(events) == 1 and isinstance(events[0], Delivered)
    kept = events[0].frame
    assert isinstance(kept.event, UnknownEvent) and kept.event.type == "new_order"
    # Not handed to new_order callbacks, which expect a readable NewOrder.
    assert dispatch_key(kept) is None
    assert delivered(session.receive(wire.event(wallet_a, 2))) == [2]


def test_frames_for_another_wallet_or_before_authentication_are_ignored(
    wire: Wire, wallet_a: str, wallet_b: str
) -> None:
    session = ClientSession("t")
    session.connection_made()
    early = session.receive(wire.event(wallet_a, 1))
    connect(session, wire, wallet_a)
    foreign = session.receive(wire.event(wallet_b, 1))
    unknown = session.receive(json.dumps({"type": "shiny_new_frame", "x": 1}))

    assert all(isinstance(e, Ignored) for e in early + foreign + unknown)
    assert "unknown frame type 'shiny_new_frame'" in unknown[0].reason  # type: ignore[union-attr]
    assert delivered(session.receive(wire.event(wallet_a, 1))) == [1]


# --- refusals and errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "fatal", "permanent"),
    [
        ("auth_failed", True, True),
        ("token_expired", True, True),
        ("forbidden", True, True),
        ("auth_failed", False, False),
        ("auth_required", True, False),
    ],
)
def test_a_refusal_is_permanent_only_when_fatal_and_about_the_token(
    wire: Wire, code: str, fatal: bool, permanent: bool
) -> None:
    session = ClientSession("t")
    session.connection_made()
    session.receive(wire.hello())

    events = session.receive(wire.error(code, "token expired on 2026-11-24 10:00 UTC", fatal=fatal))

    assert events == [Refused(code, "token expired on 2026-11-24 10:00 UTC", permanent)]


def test_other_errors_carry_the_retry_hint(wire: Wire) -> None:
    session = ClientSession("t")

    events = session.receive(
        wire.error("server_shutdown", "back in a moment", fatal=True, retry_after=1.5)
    )

    assert events == [ServerError("server_shutdown", "back in a moment", 1.5, True)]


# --- with a store ----------------------------------------------------------------------


def test_every_delivered_event_is_already_stored(wire: Wire, wallet_a: str) -> None:
    store = ClientStore(":memory:")
    session = ClientSession("t", store=store)
    connect(session, wire, wallet_a)

    for seq in (1, 2, 3):
        events = session.receive(wire.event(wallet_a, seq))
        assert delivered(events) == [seq]
        assert store.last_seq(wallet_a) == seq
        assert store.recent(1)[0] == events[0].frame  # type: ignore[union-attr]


def test_an_event_that_cannot_be_stored_is_not_shown_and_is_asked_for_again(
    wire: Wire, wallet_a: str
) -> None:
    store = ClientStore(":memory:")
    session = ClientSession("t", store=store)
    connect(session, wire, wallet_a)
    session.receive(wire.event(wallet_a, 1))
    store.close()

    events = session.receive(wire.event(wallet_a, 2))

    assert delivered(events) == []
    assert len(events) == 1 and isinstance(events[0], ResyncNeeded)
    assert events[0].since == 1
    assert session.since == 1


def test_a_restarted_app_resumes_from_its_store(wire: Wire, wallet_a: str, tmp_path: Path) -> None:
    path = tmp_path / "client.sqlite3"
    with ClientStore(path) as store:
        first_run = ClientSession("t", store=store)
        connect(first_run, wire, wallet_a)
        for seq in (1, 2, 3):
            first_run.receive(wire.event(wallet_a, seq))

    with ClientStore(path) as store:
        knows_wallet = ClientSession("t", store=store, wallet=wallet_a)
        guesses_wallet = ClientSession("t", store=store)
        for session in (knows_wallet, guesses_wallet):
            session.receive(wire.hello())
            assert sent(session) == [Auth(token="t", since=3)]
        # The store dedupes across runs too: seq 3 again under its id is not shown.
        session.receive(wire.ok(wallet_a, head=4))
        assert delivered(session.receive(wire.event(wallet_a, 4))) == [4]


def test_a_stored_position_of_another_wallet_is_not_used(
    wire: Wire, wallet_a: str, wallet_b: str
) -> None:
    store = ClientStore(":memory:")
    store.set_position(wallet_b, 40)
    session = ClientSession("t", store=store)
    session.receive(wire.hello())
    assert sent(session) == [Auth(token="t", since=40)]  # a guess: the last wallet used

    events = session.receive(wire.ok(wallet_a, head=7))

    assert events[0] == Authenticated(wallet_a, 7, 40)
    assert isinstance(events[1], ResyncNeeded) and events[1].since is None
    assert session.since is None


def test_a_gateway_whose_log_restarted_is_read_from_the_start(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t", since=100)
    events = connect(session, wire, wallet_a, head=3)

    assert isinstance(events[-1], ResyncNeeded) and events[-1].since == 0
    assert session.since == 0
    session.connection_made()
    session.receive(wire.hello())
    session.receive(wire.ok(wallet_a, head=3))
    # New events of the new log are delivered, not dropped as "old" seqs.
    assert delivered(session.receive(wire.event(wallet_a, 1, "fresh-1"))) == [1]


def test_a_frame_type_for_publishers_is_ignored(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    connect(session, wire, wallet_a)
    published = json.dumps(
        {"type": "published", "wallet": wallet_a, "seq": 1, "id": "x", "duplicate": False}
    )

    assert isinstance(session.receive(published)[0], Ignored)
    assert delivered(session.receive(wire.event(wallet_a, 1))) == [1]


def test_the_expected_wallet_may_be_spelled_in_any_valid_case(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t", wallet=wallet_a.lower())

    assert connect(session, wire, wallet_a) == [Authenticated(wallet_a, 0, None)]
    with pytest.raises(ValueError, match="not a wallet address"):
        ClientSession("t", wallet="0x1234")
