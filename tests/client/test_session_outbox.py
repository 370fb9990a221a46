"""The session's outbox: what the device tells the gateway survives being offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.client.session import ClientSession, MessageSettled, ServerError
from app.protocol import (
    Ack,
    AppMessage,
    ClientFrame,
    Received,
    decode_client_frame,
    encode_frame,
)
from app.store import ClientStore
from app.store.outbox import Outbox

if TYPE_CHECKING:
    from conftest import Wire


def sent(session: ClientSession) -> list[ClientFrame]:
    return [decode_client_frame(text) for text in session.frames_to_send()]


def sign_in(session: ClientSession, wire: Wire, wallet: str, head: int = 0) -> list[ClientFrame]:
    """hello → auth → ok; returns what the session sends once signed in."""
    session.connection_made()
    session.receive(wire.hello())
    session.frames_to_send()  # the auth
    session.receive(wire.ok(wallet, head=head))
    return sent(session)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "client.sqlite3"
    ClientStore(path).close()
    return path


def test_messages_made_offline_are_sent_in_order_after_sign_in(
    wire: Wire, wallet_a: str, db: Path
) -> None:
    session = ClientSession("t", outbox=Outbox(db))
    first = session.send_message("read_mark", {"seq": 4})
    second = session.send_message("preferences", {"sound": False})
    assert session.frames_to_send() == []  # offline: nothing goes out

    frames = sign_in(session, wire, wallet_a)

    assert frames == [
        AppMessage(id=first.key, kind="read_mark", body={"seq": 4}, ref=first.key),
        AppMessage(id=second.key, kind="preferences", body={"sound": False}, ref=second.key),
    ]


def test_a_confirmed_message_leaves_the_outbox_and_an_unconfirmed_one_is_sent_again(
    wire: Wire, wallet_a: str, db: Path
) -> None:
    outbox = Outbox(db)
    session = ClientSession("t", outbox=outbox)
    sign_in(session, wire, wallet_a)
    confirmed = session.send_message("read_mark", {"seq": 4})
    unconfirmed = session.send_message("preferences", {"sound": False})
    assert [f.id for f in sent(session) if isinstance(f, AppMessage)] == [
        confirmed.key,
        unconfirmed.key,
    ]

    settled = session.receive(encode_frame(Received(id=confirmed.key)))
    session.connection_lost()
    again = sign_in(session, wire, wallet_a)

    assert settled == [MessageSettled(confirmed.key, "read_mark", delivered=True)]
    assert [f.id for f in again if isinstance(f, AppMessage)] == [unconfirmed.key]
    assert [m.key for m in outbox.pending()] == [unconfirmed.key]


def test_the_outbox_survives_an_app_restart(wire: Wire, wallet_a: str, db: Path) -> None:
    with Outbox(db) as outbox:
        message = ClientSession("t", outbox=outbox).send_message("read_mark", {"seq": 9})

    with Outbox(db) as reopened:
        frames = sign_in(ClientSession("t", outbox=reopened), wire, wallet_a)

    assert frames == [
        AppMessage(id=message.key, kind="read_mark", body={"seq": 9}, ref=message.key)
    ]


def test_the_position_is_acknowledged_after_a_reconnect_when_the_ack_could_not_go(
    wire: Wire, wallet_a: str, db: Path
) -> None:
    outbox = Outbox(db)
    session = ClientSession("t", outbox=outbox, since=0)
    sign_in(session, wire, wallet_a, head=3)
    for seq in (1, 2, 3):
        session.receive(wire.event(wallet_a, seq))
    # The link drops before the replay is complete: no ack went out.
    session.connection_lost()
    [queued] = outbox.pending()

    frames = sign_in(session, wire, wallet_a, head=3)

    assert (queued.kind, queued.body) == ("ack", {"wallet": wallet_a, "seq": 3})
    assert frames == [Ack(wallet=wallet_a, seq=3)]
    assert outbox.pending() == []  # an ack needs no answer


def test_an_ack_is_kept_only_once_per_wallet(wire: Wire, wallet_a: str) -> None:
    session = ClientSession("t")
    for head in (1, 2):
        sign_in(session, wire, wallet_a, head=head - 1)
        session.receive(wire.event(wallet_a, head))
        session.connection_lost()

    [ack] = session.outbox.pending()
    assert ack.body == {"wallet": wallet_a, "seq": 2}  # the newest replaced the older


def test_a_gateway_that_does_not_know_messages_gets_them_dropped_not_retried_forever(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t")
    sign_in(session, wire, wallet_a)
    message = session.send_message("read_mark", {"seq": 4})
    session.frames_to_send()
    # What a gateway of the first protocol version answers to a frame type it does not know.
    refused = wire.error_for(message.key, "unknown_frame", "unknown frame type 'message'")

    events = session.receive(refused)

    assert events == [
        MessageSettled(message.key, "read_mark", False, "unknown frame type 'message'")
    ]
    assert session.outbox.pending() == []


def test_a_busy_gateway_keeps_the_message_for_the_next_connection(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t")
    sign_in(session, wire, wallet_a)
    message = session.send_message("read_mark", {"seq": 4})
    session.frames_to_send()

    events = session.receive(
        wire.error_for(message.key, "rate_limited", "slow down", retry_after=2.0, fatal=True)
    )

    assert events == [ServerError("rate_limited", "slow down", 2.0, True)]
    assert [m.key for m in session.outbox.pending()] == [message.key]


@pytest.mark.parametrize(
    ("kind", "body"),
    [("ack", {"seq": 1}), ("Read Mark", {}), ("read_mark", {"blob": "x" * 70_000})],
)
def test_messages_the_protocol_refuses_are_refused_at_once(kind: str, body: dict[str, str]) -> None:
    session = ClientSession("t")
    with pytest.raises(ValueError):
        session.send_message(kind, body)
    assert session.outbox.pending() == []
