"""Sign-In with Ethereum against a real gateway: a wallet's signature earns a device
token; nonces are single-use and short-lived; a message for another domain, a
signature by another key or a nonce from elsewhere is refused. Throwaway keys only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from gateway_support import RawClient, StartGateway, Wallet, device, order, refusal

from app.client.siwe import (
    SignInFailed,
    SignInRequest,
    finish_sign_in,
    request_sign_in,
    sign_in_message,
)
from app.config.secrets import GatewaySecrets
from app.gateway.server import Gateway
from app.gateway.siwe import NONCE_TTL, SignInRefused, WalletSignIn
from app.gateway.tokens import verify_token
from app.protocol import CloseCode, ErrorCode, EventFrame, Ok, Replayed, SiweAuth

SELLER = Wallet.numbered(1)
STRANGER = Wallet.numbered(2)


async def _sign_in(url: str, message: str, signature: str, since: int | None = None) -> RawClient:
    client = await RawClient.open(url)
    await client.send(SiweAuth(message=message, signature=signature, since=since, ref="s1"))
    return client


@pytest.mark.asyncio
async def test_a_signed_message_earns_a_token_and_the_wallets_events(
    gateway: Gateway, gateway_secrets: GatewaySecrets
) -> None:
    await gateway.publish(SELLER.address, order(1))
    await gateway.publish(STRANGER.address, order(2))
    greeted = await RawClient.open(gateway.url)
    text = SELLER.sign_in_text(gateway.url, greeted.hello.nonce)
    await greeted.close()

    client = await _sign_in(gateway.url, text, SELLER.sign(text), since=0)
    ok = await client.recv()
    assert isinstance(ok, Ok)
    assert (ok.ref, ok.wallet, ok.head) == ("s1", SELLER.address, 1)
    assert ok.token is not None
    assert verify_token(gateway_secrets.token_secret, ok.token).wallet == SELLER.address
    [replayed] = await client.events(1)
    assert (replayed.wallet, replayed.seq) == (SELLER.address, 1)
    assert await client.recv() == Replayed(wallet=SELLER.address, head=1, count=1)
    await client.close()

    # The token is an ordinary device token from now on.
    again, ok_again = await device(gateway.url, ok.token, since=None)
    assert ok_again.wallet == SELLER.address and ok_again.token is None
    await gateway.publish(SELLER.address, order(3))
    [live] = await again.events(1)
    assert live.seq == 2
    await again.close()


@pytest.mark.asyncio
async def test_a_nonce_works_once(gateway: Gateway) -> None:
    greeted = await RawClient.open(gateway.url)
    text = SELLER.sign_in_text(gateway.url, greeted.hello.nonce)
    await greeted.close()
    signature = SELLER.sign(text)
    first = await _sign_in(gateway.url, text, signature)
    assert isinstance(await first.recv(), Ok)
    await first.close()

    replay = await _sign_in(gateway.url, text, signature)
    error, code = await refusal(replay)
    assert (error.code, error.ref, code) == (ErrorCode.AUTH_FAILED, "s1", CloseCode.AUTH_FAILED)
    assert "already used" in error.message


@pytest.mark.asyncio
async def test_the_client_functions_sign_in_with_a_pasted_signature(gateway: Gateway) -> None:
    request = await request_sign_in(gateway.url, SELLER.address.lower())
    assert request.wallet == SELLER.address
    lines = request.message.splitlines()
    assert lines[0] == f"{gateway.url.removeprefix('ws://')} wants you to sign in with your " \
        "Ethereum account:"  # fmt: skip
    assert lines[1] == SELLER.address
    assert f"URI: {gateway.url}" in lines
    # Wallets and chat windows wrap long signatures; the pasted text may have breaks.
    signature = SELLER.sign(request.message)
    pasted = signature[:70] + "\n  " + signature[70:] + "\n"
    signed_in = await finish_sign_in(request, pasted)
    assert signed_in.wallet == SELLER.address
    client, ok = await device(gateway.url, signed_in.token)
    assert ok.wallet == SELLER.address
    await client.close()


@pytest.mark.asyncio
async def test_a_signature_by_another_key_is_refused_in_plain_words(gateway: Gateway) -> None:
    request = await request_sign_in(gateway.url, SELLER.address)
    with pytest.raises(SignInFailed) as failed:
        await finish_sign_in(request, STRANGER.sign(request.message))
    assert failed.value.message == (
        "the gateway refused the sign-in: the signature was not made by the wallet the "
        "message names"
    )
    # The refused attempt did not use the nonce up: the right signature still works.
    signed_in = await finish_sign_in(request, SELLER.sign(request.message))
    assert signed_in.wallet == SELLER.address


@pytest.mark.parametrize(
    "pasted", ["", "0x1234", "not hex at all", "0x" + "zz" * 65, "0x" + "ab" * 64]
)
@pytest.mark.asyncio
async def test_what_is_not_a_signature_is_refused_before_sending(
    gateway: Gateway, pasted: str
) -> None:
    request = await request_sign_in(gateway.url, SELLER.address)
    with pytest.raises(SignInFailed, match="not a wallet signature"):
        await finish_sign_in(request, pasted)


@pytest.mark.asyncio
async def test_an_unrecoverable_signature_is_refused(gateway: Gateway) -> None:
    request = await request_sign_in(gateway.url, SELLER.address)
    garbage = "0x" + "11" * 64 + "99"  # right length, impossible recovery id
    with pytest.raises(SignInFailed, match="not a valid Ethereum signature"):
        await finish_sign_in(request, garbage)


@pytest.mark.asyncio
async def test_a_message_for_another_domain_is_refused(gateway: Gateway) -> None:
    greeted = await RawClient.open(gateway.url)
    # A phishing page showed the seller a message for its own domain, with our nonce.
    text = sign_in_message(
        "wss://evil.example", SELLER.address, greeted.hello.nonce, issued_at=datetime.now(UTC)
    )
    await greeted.close()
    client = await _sign_in(gateway.url, text, SELLER.sign(text))
    error, code = await refusal(client)
    assert code == CloseCode.AUTH_FAILED
    assert "signs in to evil.example, not to this gateway" in error.message


@pytest.mark.asyncio
async def test_a_nonce_this_gateway_did_not_issue_is_refused(gateway: Gateway) -> None:
    text = SELLER.sign_in_text(gateway.url, "32891756abcdef")
    client = await _sign_in(gateway.url, text, SELLER.sign(text))
    error, _ = await refusal(client)
    assert error.message == "the message's nonce was not issued by this gateway"


@pytest.mark.asyncio
async def test_the_domains_a_message_may_name(start_gateway: StartGateway) -> None:
    named = await start_gateway(siwe_domains=("notify.example.com",))
    assert named.sign_in_domains == {"notify.example.com"}
    loopback = await start_gateway()
    assert loopback.sign_in_domains == {
        f"127.0.0.1:{loopback.port}",
        f"localhost:{loopback.port}",
    }


@pytest.mark.asyncio
async def test_sign_in_through_the_localhost_name_works_too(gateway: Gateway) -> None:
    url = f"ws://localhost:{gateway.port}"
    request = await request_sign_in(url, SELLER.address)
    signed_in = await finish_sign_in(request, SELLER.sign(request.message))
    assert signed_in.wallet == SELLER.address


@pytest.mark.asyncio
async def test_a_second_sign_in_on_a_device_connection_is_refused(
    gateway: Gateway, token_for: Callable[[str], str]
) -> None:
    client, _ = await device(gateway.url, token_for(SELLER.address))
    text = SELLER.sign_in_text(gateway.url, client.hello.nonce)
    await client.send(SiweAuth(message=text, signature=SELLER.sign(text), ref="again"))
    error = await client.recv()
    assert not isinstance(error, EventFrame)
    assert getattr(error, "code", None) == ErrorCode.UNSUPPORTED
    await client.close()


# --- the verifier alone, with a clock -------------------------------------------------


def _verifier() -> WalletSignIn:
    return WalletSignIn("s" * 64, {"127.0.0.1:8765"})


def _always_fresh() -> Callable[[str, datetime], Awaitable[bool]]:
    used: set[str] = set()

    async def use(nonce: str, expires_at: datetime) -> bool:
        if nonce in used:
            return False
        used.add(nonce)
        return True

    return use


@pytest.mark.asyncio
async def test_a_nonce_expires_after_five_minutes() -> None:
    verifier = _verifier()
    issued = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    nonce = verifier.nonce(now=issued)
    text = SELLER.sign_in_text("ws://127.0.0.1:8765", nonce, issued_at=issued)
    signature = SELLER.sign(text)
    late = issued + NONCE_TTL + timedelta(seconds=1)
    with pytest.raises(SignInRefused, match="expired"):
        await verifier.verify(text, signature, _always_fresh(), now=late)
    just_in_time = issued + NONCE_TTL - timedelta(seconds=1)
    message = await verifier.verify(text, signature, _always_fresh(), now=just_in_time)
    assert message.address == SELLER.address


@pytest.mark.asyncio
async def test_the_messages_own_times_are_honoured() -> None:
    verifier = _verifier()
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    nonce = verifier.nonce(now=now)
    text = SELLER.sign_in_text("ws://127.0.0.1:8765", nonce, issued_at=now)
    base = text.splitlines()
    issued_line = next(i for i, line in enumerate(base) if line.startswith("Issued At"))

    def variant(extra: str) -> str:
        return "\n".join(base[: issued_line + 1] + [extra] + base[issued_line + 1 :])

    expired = variant("Expiration Time: 2026-11-25T09:50:00Z")
    with pytest.raises(SignInRefused, match="expired at 2026-11-25T09:50:00Z"):
        await verifier.verify(expired, SELLER.sign(expired), _always_fresh(), now=now)
    early = variant("Not Before: 2026-11-25T11:00:00Z")
    with pytest.raises(SignInRefused, match="not valid before"):
        await verifier.verify(early, SELLER.sign(early), _always_fresh(), now=now)
    future = SELLER.sign_in_text(
        "ws://127.0.0.1:8765", nonce, issued_at=now + timedelta(hours=1)
    )
    with pytest.raises(SignInRefused, match="clock"):
        await verifier.verify(future, SELLER.sign(future), _always_fresh(), now=now)


@pytest.mark.asyncio
async def test_a_nonce_minted_with_another_secret_is_not_ours() -> None:
    ours, theirs = _verifier(), WalletSignIn("t" * 64, {"127.0.0.1:8765"})
    assert ours.nonce_expiry(theirs.nonce()) is None
    assert ours.nonce_expiry(ours.nonce()) is not None
    tampered = ours.nonce()
    flipped = tampered[:-1] + ("0" if tampered[-1] != "0" else "1")
    assert ours.nonce_expiry(flipped) is None


@pytest.mark.asyncio
async def test_a_uri_off_the_domain_is_refused() -> None:
    verifier = _verifier()
    nonce = verifier.nonce()
    text = SELLER.sign_in_text("ws://127.0.0.1:8765", nonce).replace(
        "URI: ws://127.0.0.1:8765", "URI: https://evil.example/login"
    )
    with pytest.raises(SignInRefused, match="URI"):
        await verifier.verify(text, SELLER.sign(text), _always_fresh())


def test_a_request_names_when_it_stops_being_accepted() -> None:
    request = SignInRequest(
        url="ws://127.0.0.1:1",
        wallet=SELLER.address,
        message="…",
        expires_at=datetime(2026, 11, 25, 10, 5, tzinfo=UTC),
    )
    assert request.expires_at - timedelta(minutes=5) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
