"""Several gateways on one Redis, as behind a load balancer: a publish on node A reaches
a seller on node B; a seller moving from A to B resumes without loss or repeat;
sign-in and sign-out work across nodes; without Redis, /healthz fails and publishes
are refused (never dropped), and everything resumes when Redis is back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from gateway_support import (
    DEADLINE,
    RawClient,
    Wallet,
    device,
    http_get,
    order,
    refusal,
)
from redis_process import RedisProcess, free_port

from app.client.publisher import Publisher, PublishRejected
from app.client.siwe import finish_sign_in, request_sign_in
from app.config.secrets import GatewaySecrets
from app.gateway.backend import Revocation
from app.gateway.log import EventLogError
from app.gateway.server import Gateway
from app.gateway.tokens import issue_token
from app.protocol import Auth, CloseCode, ErrorCode, EventFrame, Published, Replayed, SiweAuth

StartNode = Callable[..., Awaitable[Gateway]]


def _token(keys: GatewaySecrets, wallet: str) -> str:
    return issue_token(keys.token_secret, wallet, timedelta(hours=1))


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` until true, within the deadline (for state outside our process)."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _health(gateway: Gateway) -> int:
    status, _, _ = await http_get(gateway.port, "/healthz")
    return status


@pytest.mark.asyncio
async def test_a_publish_on_node_a_reaches_a_seller_on_node_b(
    redis_server: RedisProcess,
    start_node: StartNode,
    shared_secrets: GatewaySecrets,
    wallet_a: str,
    wallet_b: str,
) -> None:
    node_a, node_b = await start_node(redis_server.url), await start_node(redis_server.url)
    seller, _ = await device(node_b.url, _token(shared_secrets, wallet_a))
    async with Publisher(node_a.url, shared_secrets.publish_key) as publisher:
        results = await publisher.publish_many(
            [(wallet_b, order(0), None)] + [(wallet_a, order(n), None) for n in range(1, 21)]
        )
    assert [r.seq for r in results if isinstance(r, Published)] == [1, *range(1, 21)]
    frames = await seller.events(20)
    assert [f.seq for f in frames] == list(range(1, 21))
    assert {f.wallet for f in frames} == {wallet_a}
    # Node B's own publishes interleave with node A's in one sequence.
    await node_b.publish(wallet_a, order(21))
    await node_a.publish(wallet_a, order(22))
    assert [f.seq for f in await seller.events(2)] == [21, 22]
    await seller.close()


@pytest.mark.asyncio
async def test_a_seller_moving_from_a_to_b_resumes_without_loss_or_repeat(
    redis_server: RedisProcess, start_node: StartNode, shared_secrets: GatewaySecrets,
    wallet_a: str,
) -> None:  # fmt: skip
    node_a, node_b = await start_node(redis_server.url), await start_node(redis_server.url)
    token = _token(shared_secrets, wallet_a)
    on_a, _ = await device(node_a.url, token, since=0)
    assert isinstance(await on_a.recv(), Replayed)
    for n in range(1, 11):
        await node_a.publish(wallet_a, order(n))
    first = await on_a.events(10)
    await on_a.close()  # the load balancer sends the next connection elsewhere

    async def keep_publishing() -> None:
        for n in range(11, 61):
            node = node_a if n % 2 else node_b
            await node.publish(wallet_a, order(n))

    publishing = asyncio.create_task(keep_publishing())
    on_b, ok = await device(node_b.url, token, since=first[-1].seq)
    received: list[EventFrame] = []
    while len(received) < 50:
        frame = await on_b.recv()
        if isinstance(frame, EventFrame):
            received.append(frame)
        else:
            assert isinstance(frame, Replayed), frame
    await publishing
    seqs = [f.seq for f in first + received]
    assert seqs == list(range(1, 61))
    orders = [f.event.order_id for f in first + received]  # type: ignore[union-attr]
    assert orders == [f"ORD-{n}" for n in range(1, 61)]
    await on_b.close()


@pytest.mark.asyncio
async def test_a_sign_in_nonce_from_one_node_works_once_on_any(
    redis_server: RedisProcess, start_node: StartNode
) -> None:
    domain = "notify.example.com"
    node_a = await start_node(redis_server.url, siwe_domains=(domain,))
    node_b = await start_node(redis_server.url, siwe_domains=(domain,))
    seller = Wallet.numbered(42)
    # Both nodes stand behind wss://notify.example.com; the message names that.
    request = await request_sign_in(node_a.url, seller.address)
    public = request.message.replace(request.url.removeprefix("ws://"), domain).replace(
        f"URI: {request.url}", f"URI: wss://{domain}"
    )
    signed_in = await finish_sign_in(
        replace(request, url=node_b.url, message=public), seller.sign(public)
    )
    assert signed_in.wallet == seller.address
    replay = await RawClient.open(node_a.url)
    await replay.send(SiweAuth(message=public, signature=seller.sign(public)))
    error, code = await refusal(replay)
    assert code == CloseCode.AUTH_FAILED and "already used" in error.message


@pytest.mark.asyncio
async def test_a_revocation_on_one_node_signs_the_device_out_on_another(
    redis_server: RedisProcess, start_node: StartNode, shared_secrets: GatewaySecrets,
    wallet_a: str,
) -> None:  # fmt: skip
    node_a, node_b = await start_node(redis_server.url), await start_node(redis_server.url)
    on_b, _ = await device(node_b.url, _token(shared_secrets, wallet_a))
    await node_a.revoke(Revocation(at=datetime.now(UTC), wallet=wallet_a))
    error, code = await refusal(on_b)
    assert (error.code, code) == (ErrorCode.TOKEN_REVOKED, CloseCode.FORBIDDEN)


@pytest.mark.asyncio
async def test_without_redis_health_fails_and_publishes_are_refused_then_service_resumes(
    durable_redis: RedisProcess, start_node: StartNode, shared_secrets: GatewaySecrets,
    wallet_a: str,
) -> None:  # fmt: skip
    node_a, node_b = await start_node(durable_redis.url), await start_node(durable_redis.url)
    seller, _ = await device(node_b.url, _token(shared_secrets, wallet_a))
    await node_a.publish(wallet_a, order(1))
    [first] = await seller.events(1)
    assert await _health(node_a) == 200

    durable_redis.stop()
    assert await _health(node_a) == 503
    assert await _health(node_b) == 503
    async with Publisher(node_a.url, shared_secrets.publish_key) as publisher:
        with pytest.raises(PublishRejected) as refused:
            await publisher.publish(wallet_a, order(2), id="during-outage")
        assert refused.value.code == ErrorCode.UNAVAILABLE
    with pytest.raises(EventLogError):
        await node_a.publish(wallet_a, order(2))
    # A device connecting meanwhile is told to come back later.
    late = await RawClient.open(node_a.url)
    await late.send(Auth(token=_token(shared_secrets, wallet_a), since=0))
    error, code = await refusal(late)
    assert (error.code, code) == (ErrorCode.UNAVAILABLE, CloseCode.TRY_AGAIN_LATER)
    assert error.retry_after is not None

    durable_redis.start()

    async def healthy() -> bool:
        return await _health(node_a) == 200 and await _health(node_b) == 200

    await _until(healthy, "both nodes to be healthy again")
    async with Publisher(node_a.url, shared_secrets.publish_key) as publisher:
        again = await publisher.publish(wallet_a, order(2), id="during-outage")
    assert (again.seq, again.duplicate) == (2, False)  # nothing was stored during the outage
    [second] = await seller.events(1)  # the seller on node B never reconnected
    assert (first.seq, second.seq, second.id) == (1, 2, "during-outage")
    await seller.close()


@pytest.mark.asyncio
async def test_acknowledged_events_survive_a_redis_crash(
    durable_redis: RedisProcess, start_node: StartNode, shared_secrets: GatewaySecrets,
    wallet_a: str,
) -> None:  # fmt: skip
    node = await start_node(durable_redis.url)
    async with Publisher(node.url, shared_secrets.publish_key) as publisher:
        results = await publisher.publish_many([(wallet_a, order(n), f"e{n}") for n in range(30)])
    assert all(isinstance(r, Published) for r in results)
    durable_redis.stop(signal.SIGKILL)
    durable_redis.start()
    fresh = await start_node(durable_redis.url)
    seller, ok = await device(fresh.url, _token(shared_secrets, wallet_a), since=0)
    assert (ok.retained_from, ok.head) == (1, 30)
    frames = await seller.events(30)
    assert [f.id for f in frames] == [f"e{n}" for n in range(30)]
    await seller.close()


# --- the command line ------------------------------------------------------------------


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


@pytest.mark.asyncio
async def test_two_gateway_processes_and_token_revoke_share_redis(
    redis_server: RedisProcess, wallet_a: str, shared_secrets: GatewaySecrets
) -> None:
    env = os.environ | {
        "SELLER_NOTIFIER_SECRET": shared_secrets.token_secret,
        "SELLER_NOTIFIER_PUBLISH_KEY": shared_secrets.publish_key,
    }
    processes = [
        subprocess.Popen(
            _command("gateway", "--port", "0", "--redis", redis_server.url),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        urls = []
        for process in processes:
            assert process.stderr is not None
            line = await asyncio.wait_for(asyncio.to_thread(_listening, process.stderr), DEADLINE)
            urls.append(line)
        seller, _ = await device(urls[1], _token(shared_secrets, wallet_a))
        async with Publisher(urls[0], shared_secrets.publish_key) as publisher:
            await publisher.publish(wallet_a, order(1))
        [frame] = await seller.events(1)
        assert frame.seq == 1

        revoke = await asyncio.create_subprocess_exec(
            *_command("token", "revoke", "--wallet", wallet_a, "--redis", redis_server.url),
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(revoke.communicate(), DEADLINE * 3)
        assert revoke.returncode == 0, stderr
        assert f"signed out every token of {wallet_a}" in stderr.decode()
        error, code = await refusal(seller)
        assert (error.code, code) == (ErrorCode.TOKEN_REVOKED, CloseCode.FORBIDDEN)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=DEADLINE * 3) == 0
            assert process.stderr is not None
            rest = process.stderr.read()
            process.stderr.close()
            assert "Traceback" not in rest


def _listening(stream: object) -> str:
    prefix = "seller-notifier gateway listening on "
    for line in stream:  # type: ignore[attr-defined]
        if line.startswith(prefix):
            return str(line).removeprefix(prefix).strip()
    raise AssertionError("the gateway exited before listening")


def test_an_unreachable_redis_is_one_line_and_exit_4() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = subprocess.run(
        _command("gateway", "--port", "0", "--redis", url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 4
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"seller-notifier: cannot use Redis at {url}")
    revoke = subprocess.run(
        _command("token", "revoke", "--id", "abc", "--redis", url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert revoke.returncode == 4
    assert len(revoke.stderr.strip().splitlines()) == 1
