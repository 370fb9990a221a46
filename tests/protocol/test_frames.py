"""Frames: decoding what each side sends, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from app.protocol import (
    MAX_FRAME_BYTES,
    Auth,
    ErrorCode,
    EventFrame,
    NewOrder,
    ProtocolError,
    Publish,
    UnknownEvent,
    UnknownServerFrame,
    decode_client_frame,
    decode_server_frame,
    encode_frame,
)

ORDER = {"type": "new_order", "orderId": "A1", "total": "12.50", "currency": "USDC"}


def event_frame(wallet: str, seq: int = 1, event: dict[str, object] | None = None) -> str:
    return json.dumps(
        {
            "type": "event",
            "wallet": wallet,
            "seq": seq,
            "id": f"evt-{seq}",
            "ts": "2026-11-25T10:00:00Z",
            "event": event or ORDER,
        }
    )


def test_event_frame_round_trip(wallet_a: str) -> None:
    frame = decode_server_frame(event_frame(wallet_a.lower(), seq=12))
    assert isinstance(frame, EventFrame)
    assert frame.wallet == wallet_a  # normalised to the checksummed form
    assert frame.seq == 12
    assert isinstance(frame.event, NewOrder)
    wire = json.loads(encode_frame(frame))
    assert wire["event"]["orderId"] == "A1"
    assert wire["event"]["total"] == "12.50"
    assert decode_server_frame(encode_frame(frame)) == frame


def test_event_of_unknown_type_is_delivered_not_dropped(wallet_a: str) -> None:
    frame = decode_server_frame(event_frame(wallet_a, event={"type": "flash_sale", "pct": 10}))
    assert isinstance(frame, EventFrame)
    assert isinstance(frame.event, UnknownEvent)
    assert json.loads(encode_frame(frame))["event"] == {"type": "flash_sale", "pct": 10}


def test_unknown_server_frame_type_is_tolerated() -> None:
    frame = decode_server_frame('{"type": "presence", "online": 3}')
    assert isinstance(frame, UnknownServerFrame)


@pytest.mark.parametrize("seq", [0, -1, "x"])
def test_event_frame_with_invalid_seq_is_refused(wallet_a: str, seq: object) -> None:
    text = event_frame(wallet_a).replace('"seq": 1', f'"seq": {json.dumps(seq)}')
    with pytest.raises(ProtocolError) as caught:
        decode_server_frame(text)
    assert caught.value.code is ErrorCode.BAD_FRAME
    assert "seq" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", ErrorCode.BAD_FRAME),
        ("[1, 2]", ErrorCode.BAD_FRAME),
        ('{"no": "type"}', ErrorCode.BAD_FRAME),
        ('{"type": "subscribe_all"}', ErrorCode.UNKNOWN_FRAME),
        ('{"type": "auth"}', ErrorCode.BAD_FRAME),
        ('{"type": "auth", "token": "t", "wallet": "0x00"}', ErrorCode.BAD_FRAME),
        ('{"type": "auth", "token": "t", "since": -1}', ErrorCode.BAD_FRAME),
    ],
)
def test_bad_client_frames_get_a_code_and_message(text: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client_frame(text)
    assert caught.value.code is code
    assert caught.value.message
    assert "\n" not in caught.value.message


def test_auth_frame_carries_no_wallet_the_token_decides() -> None:
    # A client cannot even say which wallet it wants: the token is the only identity.
    frame = decode_client_frame('{"type": "auth", "token": "abc", "since": 5}')
    assert isinstance(frame, Auth)
    assert frame.since == 5
    assert "wallet" not in Auth.model_fields


def test_publish_with_invalid_event_names_the_field(wallet_a: str) -> None:
    text = json.dumps({"type": "publish", "wallet": wallet_a, "event": {**ORDER, "total": 1.5}})
    with pytest.raises(ProtocolError) as caught:
        decode_client_frame(text)
    assert caught.value.code is ErrorCode.INVALID_EVENT
    assert "event.total" in caught.value.message


def test_publish_with_bad_wallet_says_why() -> None:
    text = json.dumps({"type": "publish", "wallet": "0x1234", "event": ORDER})
    with pytest.raises(ProtocolError) as caught:
        decode_client_frame(text)
    assert "wallet" in caught.value.message
    assert "40 hex" in caught.value.message


def test_publish_decodes(wallet_a: str) -> None:
    text = json.dumps({"type": "publish", "wallet": wallet_a, "id": "k1", "event": ORDER})
    frame = decode_client_frame(text)
    assert isinstance(frame, Publish)
    assert frame.id == "k1"
    assert isinstance(frame.event, NewOrder)


def test_oversized_frame_is_refused_before_parsing() -> None:
    text = json.dumps({"type": "ping", "ref": "x" * MAX_FRAME_BYTES})
    with pytest.raises(ProtocolError) as caught:
        decode_client_frame(text)
    assert caught.value.code is ErrorCode.FRAME_TOO_LARGE
