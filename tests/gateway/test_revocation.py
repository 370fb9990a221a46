"""Signing devices out: a revoked token is refused, and a connection using it is closed
at once with 4003 — the client then tells the seller "this device was signed out"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gateway_support import DEADLINE, RawClient, StartGateway, Wallet, device, order, refusal

from app.client import AuthRefused, Backoff, ConnectionState, SellerClient
from app.client.siwe import finish_sign_in, request_sign_in
from app.config.secrets import GatewaySecrets
from app.gateway.backend import Revocation
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway
from app.gateway.tokens import issue_token, verify_token
from app.protocol import Auth, CloseCode, ErrorCode

TokenFor = Callable[[str], str]


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.asyncio
async def test_revoking_a_token_closes_its_connection_only(
    gateway: Gateway, gateway_secrets: GatewaySecrets, token_for: TokenFor, wallet_a: str
) -> None:
    doomed_token, kept_token = token_for(wallet_a), token_for(wallet_a)
    doomed, _ = await device(gateway.url, doomed_token)
    kept, _ = await device(gateway.url, kept_token)
    token_id = verify_token(gateway_secrets.token_secret, doomed_token).token_id

    await gateway.revoke(Revocation(at=_now(), token_id=token_id))

    error, code = await refusal(doomed)
    assert (error.code, code) == (ErrorCode.TOKEN_REVOKED, CloseCode.FORBIDDEN)
    assert error.message == "this device was signed out; sign in again"
    # The other device of the same wallet keeps receiving.
    await gateway.publish(wallet_a, order(1))
    [frame] = await kept.events(1)
    assert frame.wallet == wallet_a
    await kept.close()
    # And the revoked token stays out.
    again = await RawClient.open(gateway.url)
    await again.send(Auth(token=doomed_token, ref="r"))
    error, code = await refusal(again)
    assert (error.code, error.ref, code) == (ErrorCode.TOKEN_REVOKED, "r", CloseCode.FORBIDDEN)


@pytest.mark.asyncio
async def test_revoking_a_wallet_signs_out_its_devices_but_not_later_sign_ins(
    gateway: Gateway, token_for: TokenFor, wallet_b: str
) -> None:
    seller = Wallet.numbered(7)
    first, _ = await device(gateway.url, token_for(seller.address))
    second, _ = await device(gateway.url, token_for(seller.address))
    other, _ = await device(gateway.url, token_for(wallet_b))

    await gateway.revoke(Revocation(at=_now(), wallet=seller.address))

    for client in (first, second):
        error, code = await refusal(client)
        assert (error.code, code) == (ErrorCode.TOKEN_REVOKED, CloseCode.FORBIDDEN)
    await gateway.publish(wallet_b, order(1))
    [frame] = await other.events(1)
    assert frame.wallet == wallet_b
    await other.close()

    # Signing in again (with the wallet) gives a new token that works.
    request = await request_sign_in(gateway.url, seller.address)
    signed_in = await finish_sign_in(request, seller.sign(request.message))
    client, ok = await device(gateway.url, signed_in.token)
    assert ok.wallet == seller.address
    await client.close()


@pytest.mark.asyncio
async def test_the_client_stops_and_says_the_device_was_signed_out(
    gateway: Gateway, gateway_secrets: GatewaySecrets, token_for: TokenFor, wallet_a: str
) -> None:
    token = token_for(wallet_a)
    client = SellerClient(gateway.url, token, backoff=Backoff(initial=0.01, maximum=0.01))
    connected = asyncio.Event()
    client.on_status(
        lambda status: connected.set() if status.state is ConnectionState.CONNECTED else None
    )
    running = asyncio.create_task(client.run())
    await asyncio.wait_for(connected.wait(), DEADLINE)
    claims = verify_token(gateway_secrets.token_secret, token)
    await gateway.revoke(Revocation(at=_now(), token_id=claims.token_id))
    with pytest.raises(AuthRefused) as refused:
        await asyncio.wait_for(running, DEADLINE)
    assert refused.value.message == "this device was signed out: sign in again"
    assert client.status.reason == "this device was signed out: sign in again"


@pytest.mark.asyncio
async def test_a_revocation_from_another_process_reaches_a_running_gateway(
    start_gateway: StartGateway, db_path: Path, token_for: TokenFor, wallet_a: str
) -> None:
    gateway = await start_gateway(revocation_poll=0.05)
    client, _ = await device(gateway.url, token_for(wallet_a))
    # What `seller-notifier token revoke` does: write to the same file, elsewhere.
    other_process = SqliteEventLog(db_path)
    await other_process.revoke(Revocation(at=_now(), wallet=wallet_a))
    await other_process.close()
    error, code = await refusal(client)
    assert (error.code, code) == (ErrorCode.TOKEN_REVOKED, CloseCode.FORBIDDEN)


@pytest.mark.asyncio
async def test_a_wallet_revocation_only_covers_tokens_issued_before_it(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    secret = gateway_secrets.token_secret
    before = issue_token(secret, wallet_a, timedelta(hours=1), now=_now() - timedelta(minutes=1))
    await gateway.revoke(Revocation(at=_now(), wallet=wallet_a))
    after = issue_token(secret, wallet_a, timedelta(hours=1))
    refused = await RawClient.open(gateway.url)
    await refused.send(Auth(token=before))
    error, _ = await refusal(refused)
    assert error.code == ErrorCode.TOKEN_REVOKED
    accepted, ok = await device(gateway.url, after)
    assert ok.wallet == wallet_a
    await accepted.close()


def test_a_revocation_names_one_thing() -> None:
    with pytest.raises(ValueError):
        Revocation(at=_now())
    with pytest.raises(ValueError):
        Revocation(at=_now(), token_id="t", wallet="0x52908400098527886E0F7030069857D2E4169EE7")
