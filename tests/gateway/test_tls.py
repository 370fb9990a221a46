"""TLS: the gateway serves wss:// with a certificate made in the test; clients that
trust it get their events, clients that do not say "server certificate not trusted",
and no client sends a token over ws:// to another machine unless told to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_asyncio
from gateway_support import DEADLINE, RawClient, StartGateway, http_get, order
from tls_support import Certificates, make_certificates

from app.client import Backoff, ConnectionState, ConnectionStatus, SellerClient
from app.client.publisher import Publisher, PublisherUnavailable
from app.client.refusals import InsecureConnection
from app.client.siwe import SignInFailed, request_sign_in
from app.config.secrets import GatewaySecrets
from app.gateway.server import Gateway, TlsUnusable
from app.protocol import Auth, EventFrame, Ok

TokenFor = Callable[[str], str]


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "tls")


@pytest_asyncio.fixture
async def tls_gateway(start_gateway: StartGateway, certificates: Certificates) -> Gateway:
    return await start_gateway(tls_cert=certificates.cert, tls_key=certificates.key)


async def _first_status(
    client: SellerClient, wanted: Callable[[ConnectionStatus], bool]
) -> ConnectionStatus:
    found: asyncio.Future[ConnectionStatus] = asyncio.get_running_loop().create_future()

    def watch(status: ConnectionStatus) -> None:
        if wanted(status) and not found.done():
            found.set_result(status)

    unsubscribe = client.on_status(watch)
    try:
        return await asyncio.wait_for(found, DEADLINE)
    finally:
        unsubscribe()


@pytest.mark.asyncio
async def test_the_gateway_serves_wss_to_clients_that_trust_its_certificate(
    tls_gateway: Gateway, certificates: Certificates, token_for: TokenFor, wallet_a: str
) -> None:
    assert tls_gateway.url.startswith("wss://127.0.0.1:")
    client = await RawClient.open(tls_gateway.url, ssl=certificates.client_context())
    await client.close()
    status, _, body = await http_get(
        tls_gateway.port, "/healthz", tls=certificates.client_context()
    )
    assert (status, body.strip()) == (200, "ok")


@pytest.mark.asyncio
async def test_the_seller_client_trusts_the_certificate_named_by_ssl_cert_file(
    tls_gateway: Gateway,
    certificates: Certificates,
    token_for: TokenFor,
    wallet_a: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    client = SellerClient(tls_gateway.url, token_for(wallet_a), since=0)
    received: asyncio.Queue[EventFrame] = asyncio.Queue()
    client.on("*", received.put_nowait)
    await tls_gateway.publish(wallet_a, order(1))
    running = asyncio.create_task(client.run())
    frame = await asyncio.wait_for(received.get(), DEADLINE)
    assert (frame.wallet, frame.seq) == (wallet_a, 1)
    await client.stop()
    await running


@pytest.mark.asyncio
async def test_an_untrusted_certificate_is_named_as_such(
    tls_gateway: Gateway, token_for: TokenFor, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    client = SellerClient(tls_gateway.url, token_for(wallet_a), backoff=Backoff(initial=5))
    running = asyncio.create_task(client.run())
    status = await _first_status(client, lambda s: s.state is ConnectionState.BACKING_OFF)
    await client.stop()
    await running
    assert f"gateway unreachable at {tls_gateway.url}: server certificate not trusted" in (
        status.reason
    )


@pytest.mark.asyncio
async def test_publishing_over_wss(
    tls_gateway: Gateway,
    certificates: Certificates,
    gateway_secrets: GatewaySecrets,
    token_for: TokenFor,
    wallet_a: str,
) -> None:
    watcher = await _tls_device(tls_gateway, certificates, token_for(wallet_a))
    async with Publisher(
        tls_gateway.url, gateway_secrets.publish_key, ssl=certificates.client_context()
    ) as publisher:
        published = await publisher.publish(wallet_a, order(1))
    assert published.seq == 1
    [frame] = await watcher.events(1)
    assert frame.seq == 1
    await watcher.close()


async def _tls_device(gateway: Gateway, certificates: Certificates, token: str) -> RawClient:
    client = await RawClient.open(gateway.url, ssl=certificates.client_context())
    await client.send(Auth(token=token))
    assert isinstance(await client.recv(), Ok)
    return client


@pytest.mark.asyncio
async def test_an_unusable_certificate_stops_the_start(
    start_gateway: StartGateway, certificates: Certificates, tmp_path: Path
) -> None:
    with pytest.raises(TlsUnusable, match="cannot use the TLS certificate"):
        await start_gateway(tls_cert=certificates.cert, tls_key=tmp_path / "missing.key")
    with pytest.raises(TlsUnusable):
        await start_gateway(tls_cert=certificates.key, tls_key=certificates.cert)


# --- no tokens over ws:// to another machine ---------------------------------------


@pytest.mark.parametrize(
    "url", ["ws://192.0.2.10:8765", "ws://gateway.example.com", "ws://[2001:db8::1]:8765"]
)
def test_the_seller_client_refuses_ws_to_another_machine(url: str) -> None:
    with pytest.raises(InsecureConnection) as refused:
        SellerClient(url, "token")
    assert "not encrypted" in str(refused.value)
    assert url.replace("ws://", "wss://") in str(refused.value)
    SellerClient(url, "token", allow_insecure=True)  # the owner's explicit choice


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:8765", "ws://localhost:8765", "ws://[::1]:8765", "wss://a.example"]
)
def test_loopback_and_wss_need_no_permission(url: str) -> None:
    SellerClient(url, "token")


@pytest.mark.asyncio
async def test_publisher_and_sign_in_refuse_ws_to_another_machine_before_connecting() -> None:
    with pytest.raises(PublisherUnavailable, match="not encrypted"):
        await Publisher("ws://192.0.2.10:8765", "key").connect()
    with pytest.raises(SignInFailed, match="not encrypted"):
        await request_sign_in("ws://192.0.2.10:8765", "0x52908400098527886E0F7030069857D2E4169EE7")
