"""Isolation, proven by attacks: a seller holding a valid token for their own wallet (or
nothing at all) tries every trick to read another seller's events. Each attempt is
refused with its own code, and every frame the attacker receives — all of them, raw —
is checked for the victim's wallet and orders while the victim's shop keeps selling."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from attack_scene import Scene
from gateway_support import DEADLINE, Wallet
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.client.siwe import sign_in_message
from app.gateway.tokens import AUDIENCE, ISSUER, issue_token
from app.protocol import CloseCode, ErrorCode, NewOrder, normalize_wallet


class Probe:
    """A raw connection that keeps every frame it receives, as text."""

    def __init__(self, ws: ClientConnection, victim: Wallet) -> None:
        self.ws = ws
        self.victim = victim
        self.received: list[str] = []

    @classmethod
    async def open(cls, scene: Scene) -> Probe:
        ws = await connect(scene.gateway.url, compression=None, open_timeout=DEADLINE)
        probe = cls(ws, scene.victim)
        hello = await probe.next()
        assert hello["type"] == "hello"
        return probe

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def next(self) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.recv(), DEADLINE)
        assert isinstance(text, str)
        self.received.append(text)
        self.assert_nothing_of_the_victim()
        frame: dict[str, Any] = json.loads(text)
        return frame

    async def until_closed(self) -> tuple[list[dict[str, Any]], int | None]:
        frames = []
        try:
            while True:
                frames.append(await self.next())
        except ConnectionClosed:
            pass
        await asyncio.wait_for(self.ws.wait_closed(), DEADLINE)
        return frames, self.ws.close_code

    async def refused(self) -> tuple[dict[str, Any], int | None]:
        """The fatal error and the close code that end this connection."""
        frames, code = await self.until_closed()
        errors = [f for f in frames if f["type"] == "error"]
        assert errors and errors[-1]["fatal"], frames
        return errors[-1], code

    async def until(self, wanted: str) -> list[dict[str, Any]]:
        """Frames up to and including the first of type ``wanted``."""
        frames = []
        while True:
            frame = await self.next()
            frames.append(frame)
            if frame["type"] == wanted:
                return frames

    def assert_nothing_of_the_victim(self) -> None:
        victim = self.victim.address.lower()
        for text in self.received:
            assert victim not in text.lower(), text
            assert "ORD-9" not in text, text  # the victim's order numbers

    async def close(self) -> None:
        await self.ws.close()
        self.assert_nothing_of_the_victim()


def _token(scene: Scene, wallet: Wallet, **kwargs: Any) -> str:
    return issue_token(scene.secrets.token_secret, wallet.address, timedelta(hours=1), **kwargs)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(wallet: Wallet) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "sub": wallet.address, "jti": "forged", "iat": now, "exp": now + 3600,
        "aud": AUDIENCE, "iss": ISSUER,
    }  # fmt: skip


async def _signed_in_as_attacker(scene: Scene, since: int | None = None) -> Probe:
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": _token(scene, scene.attacker), "since": since})
    ok = await probe.next()
    assert (ok["type"], ok["wallet"]) == ("ok", scene.attacker.address)
    return probe


async def _attacker_stream_flows(scene: Scene, probe: Probe) -> None:
    """Publish a marker for the attacker and read up to it: whatever the gateway had
    queued for this connection has arrived, and was checked."""
    marker = f"marker-{len(probe.received)}"
    await scene.gateway.publish(scene.attacker.address, _order("ORD-1"), key=marker)
    while True:
        frame = await probe.next()
        if frame["type"] == "event":
            assert frame["wallet"] == scene.attacker.address
            if frame["id"] == marker:
                return


def _order(order_id: str) -> NewOrder:
    return NewOrder(order_id=order_id, total="1.00", currency="USD")


# --- forged tokens -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_token_signed_with_another_key_is_refused(scene: Scene) -> None:
    forged = issue_token("a-secret-the-attacker-chose-" + "x" * 20, scene.victim.address,
                         timedelta(hours=1))  # fmt: skip
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": forged, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)


@pytest.mark.asyncio
async def test_a_tampered_token_is_refused(scene: Scene) -> None:
    header, _payload, signature = _token(scene, scene.attacker).split(".")
    tampered = ".".join([header, _b64(_claims(scene.victim)), signature])
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": tampered, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)
    assert "signature" in error["message"]


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE", "RS256", "HS512"])
@pytest.mark.asyncio
async def test_a_token_with_another_algorithm_is_refused(scene: Scene, algorithm: str) -> None:
    header = _b64({"alg": algorithm, "typ": "JWT"})
    unsigned = f"{header}.{_b64(_claims(scene.victim))}."
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": unsigned, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)


@pytest.mark.asyncio
async def test_a_real_hs512_token_with_the_right_secret_is_still_refused(scene: Scene) -> None:
    signing_input = f"{_b64({'alg': 'HS512', 'typ': 'JWT'})}.{_b64(_claims(scene.victim))}"
    mac = hmac.new(scene.secrets.token_secret.encode(), signing_input.encode(), hashlib.sha512)
    token = signing_input + "." + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": token, "since": 0})
    error, code = await probe.refused()
    assert "HS256" in error["message"] and code == CloseCode.AUTH_FAILED


@pytest.mark.asyncio
async def test_an_expired_token_of_the_victim_is_refused(scene: Scene) -> None:
    old = _token(scene, scene.victim, now=datetime.now(UTC) - timedelta(hours=2))
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": old, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.TOKEN_EXPIRED, CloseCode.TOKEN_EXPIRED)


@pytest.mark.asyncio
async def test_a_token_for_another_audience_is_refused(scene: Scene) -> None:
    claims = _claims(scene.victim) | {"aud": "some-other-service"}
    token = jwt.encode(claims, scene.secrets.token_secret, algorithm="HS256")
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": token, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)


@pytest.mark.asyncio
async def test_the_publish_key_is_not_a_seller_token(scene: Scene) -> None:
    probe = await Probe.open(scene)
    await probe.send({"type": "auth", "token": scene.secrets.publish_key, "since": 0})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)


@pytest.mark.asyncio
async def test_a_seller_token_is_not_the_publish_key(scene: Scene) -> None:
    probe = await Probe.open(scene)
    await probe.send({"type": "publisher_auth", "key": _token(scene, scene.attacker)})
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)
    # Nor is the token secret, should it leak in a log line somewhere.
    probe = await Probe.open(scene)
    await probe.send({"type": "publisher_auth", "key": scene.secrets.token_secret})
    error, code = await probe.refused()
    assert code == CloseCode.AUTH_FAILED


# --- forged wallet fields ------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_auth_frame_naming_a_wallet_is_refused(scene: Scene) -> None:
    probe = await Probe.open(scene)
    await probe.send(
        {"type": "auth", "token": _token(scene, scene.attacker), "wallet": scene.victim.address,
         "since": 0}
    )  # fmt: skip
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.BAD_FRAME, CloseCode.PROTOCOL)


@pytest.mark.asyncio
async def test_wallet_fields_in_frames_after_auth_change_nothing(scene: Scene) -> None:
    probe = await _signed_in_as_attacker(scene, since=0)
    await probe.until("replayed")
    victim = scene.victim.address
    forged = [
        ({"type": "ack", "wallet": victim, "seq": 1}, ErrorCode.FORBIDDEN),
        ({"type": "ack", "wallet": victim.lower(), "seq": 1}, ErrorCode.FORBIDDEN),
        ({"type": "publish", "wallet": victim, "ref": "p",
          "event": {"type": "new_order", "orderId": "X", "total": "1", "currency": "USD"}},
         ErrorCode.FORBIDDEN),
        ({"type": "auth", "token": _token(scene, scene.attacker), "since": 0, "ref": "again"},
         ErrorCode.UNSUPPORTED),
        ({"type": "event", "wallet": victim, "seq": 1}, ErrorCode.UNKNOWN_FRAME),
        ({"type": "replay", "wallet": victim, "since": 0}, ErrorCode.UNKNOWN_FRAME),
        ({"type": "ping", "wallet": victim}, ErrorCode.BAD_FRAME),
    ]  # fmt: skip
    for frame, code in forged:
        await probe.send(frame)
        answer = await probe.next()
        while answer["type"] == "event":  # live events of the attacker's own wallet
            assert answer["wallet"] == scene.attacker.address
            answer = await probe.next()
        assert (answer["type"], answer["code"], answer["fatal"]) == ("error", code, False)
    # A message may mention any wallet: it is filed under the sender's wallet, and
    # never makes the gateway send anything of the wallet it names.
    await probe.send({"type": "message", "id": "m1", "kind": "read_mark",
                      "body": {"wallet": victim, "seq": 3}, "ref": "m1"})  # fmt: skip
    await _attacker_stream_flows(scene, probe)
    await probe.close()


@pytest.mark.parametrize("since", [0, 3, 5, 7, 10**9])
@pytest.mark.asyncio
async def test_since_from_the_victims_log_replays_only_the_attackers(
    scene: Scene, since: int
) -> None:
    probe = await _signed_in_as_attacker(scene, since=since)
    frames = await probe.until("replayed")
    events = [f for f in frames if f["type"] == "event"]
    assert all(f["wallet"] == scene.attacker.address for f in events)
    assert [f["seq"] for f in events] == list(range(since + 1, 6))
    await _attacker_stream_flows(scene, probe)
    await probe.close()


# --- wallet sign-in ------------------------------------------------------------------


async def _nonce(scene: Scene) -> str:
    probe = await Probe.open(scene)
    nonce = json.loads(probe.received[0])["nonce"]
    await probe.close()
    assert isinstance(nonce, str)
    return nonce


async def _siwe(scene: Scene, message: str, signature: str) -> Probe:
    probe = await Probe.open(scene)
    await probe.send({"type": "siwe_auth", "message": message, "signature": signature,
                      "since": 0})  # fmt: skip
    return probe


@pytest.mark.asyncio
async def test_a_replayed_sign_in_of_the_victim_is_refused(scene: Scene) -> None:
    # The victim signed in once; the attacker captured the message and the signature.
    message = scene.victim.sign_in_text(scene.gateway.url, await _nonce(scene))
    signature = scene.victim.sign(message)
    victims_own = await _siwe(scene, message, signature)
    victims_own.victim = scene.attacker  # this connection is the victim's: no leak check
    ok = json.loads(await asyncio.wait_for(victims_own.ws.recv(), DEADLINE))
    assert ok["type"] == "ok" and ok["wallet"] == scene.victim.address
    await victims_own.ws.close()

    replay = await _siwe(scene, message, signature)
    error, code = await replay.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED)
    assert "already used" in error["message"]


@pytest.mark.asyncio
async def test_signing_in_as_the_victim_with_the_attackers_key_is_refused(scene: Scene) -> None:
    message = sign_in_message(scene.gateway.url, scene.victim.address, await _nonce(scene),
                              issued_at=datetime.now(UTC))  # fmt: skip
    probe = await _siwe(scene, message, scene.attacker.sign(message))
    error, code = await probe.refused()
    assert code == CloseCode.AUTH_FAILED
    assert error["message"] == "the signature was not made by the wallet the message names"


@pytest.mark.asyncio
async def test_an_edited_signed_message_is_refused(scene: Scene) -> None:
    message = scene.victim.sign_in_text(scene.gateway.url, await _nonce(scene))
    signature = scene.victim.sign(message)
    edited = message.replace("Chain ID: 1", "Chain ID: 5")
    probe = await _siwe(scene, edited, signature)
    error, code = await probe.refused()
    assert code == CloseCode.AUTH_FAILED
    assert "not made by" in error["message"]


@pytest.mark.asyncio
async def test_a_sign_in_the_victim_made_for_a_phishing_site_is_refused(scene: Scene) -> None:
    # The phishing page fetched one of our nonces and showed the victim its own domain.
    message = sign_in_message("wss://gateway.example.net", scene.victim.address,
                              await _nonce(scene), issued_at=datetime.now(UTC))  # fmt: skip
    probe = await _siwe(scene, message, scene.victim.sign(message))
    error, code = await probe.refused()
    assert code == CloseCode.AUTH_FAILED
    assert "not to this gateway" in error["message"]


@pytest.mark.asyncio
async def test_a_sign_in_frame_naming_a_wallet_is_refused(scene: Scene) -> None:
    message = scene.attacker.sign_in_text(scene.gateway.url, await _nonce(scene))
    probe = await Probe.open(scene)
    await probe.send({"type": "siwe_auth", "message": message, "wallet": scene.victim.address,
                      "signature": scene.attacker.sign(message)})  # fmt: skip
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.BAD_FRAME, CloseCode.PROTOCOL)


# --- before authenticating -----------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ack", "wallet": "VICTIM", "seq": 1},
        {"type": "message", "id": "m", "kind": "read_mark", "body": {"wallet": "VICTIM"}},
        {"type": "publish", "wallet": "VICTIM",
         "event": {"type": "new_order", "orderId": "X", "total": "1", "currency": "USD"}},
    ],
)  # fmt: skip
@pytest.mark.asyncio
async def test_nothing_is_served_before_authentication(scene: Scene, frame: dict[str, Any]) -> None:
    probe = await Probe.open(scene)
    filled = {k: (scene.victim.address if v == "VICTIM" else v) for k, v in frame.items()}
    if "body" in filled:
        filled["body"] = {"wallet": scene.victim.address}
    await probe.send(filled)
    error, code = await probe.refused()
    assert (error["code"], code) == (ErrorCode.AUTH_REQUIRED, CloseCode.PROTOCOL)


def test_the_attacker_and_the_victim_are_different_sellers(scene: Scene) -> None:
    assert normalize_wallet(scene.attacker.address) != normalize_wallet(scene.victim.address)
    assert scene.victim_events >= 5
