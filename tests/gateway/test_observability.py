"""``/healthz`` and ``/metrics`` on the gateway's own port: what a load balancer and
Prometheus see, and that each gateway counts only its own traffic."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from gateway_support import RawClient, StartGateway, device, http_get, order, refusal
from prometheus_client.parser import text_string_to_metric_families

from app.client.publisher import Publisher
from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.log import EventLogError
from app.gateway.log_format import JsonFormatter
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import Auth, Ping, Replayed

TokenFor = Callable[[str], str]


async def _metrics(gateway: Gateway) -> dict[str, float]:
    """Every sample of a scrape, keyed ``name{label="value",…}``."""
    status, headers, body = await http_get(gateway.port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.mark.asyncio
async def test_metrics_count_connections_events_replays_refusals_and_throttles(
    start_gateway: StartGateway,
    gateway_secrets: GatewaySecrets,
    token_for: TokenFor,
    wallet_a: str,
) -> None:
    gateway = await start_gateway(frame_rate=0.001, frame_burst=2)
    for n in range(3):
        await gateway.publish(wallet_a, order(n))
    watcher, _ = await device(gateway.url, token_for(wallet_a), since=0)
    await watcher.events(3)
    assert isinstance(await watcher.recv(), Replayed)
    async with Publisher(gateway.url, gateway_secrets.publish_key) as publisher:
        await publisher.publish(wallet_a, order(10), id="same")
        await publisher.publish(wallet_a, order(10), id="same")
        before = await _metrics(gateway)
    await watcher.events(1)

    bad = await RawClient.open(gateway.url)
    await bad.send(Auth(token=issue_token("x" * 40, wallet_a, timedelta(hours=1))))
    await refusal(bad)
    flood = await RawClient.open(gateway.url)
    for n in range(3):
        await flood.send(Ping(ref=str(n)))
    await refusal(flood)

    after = await _metrics(gateway)
    assert before['seller_notifier_connections{role="seller"}'] == 1
    assert before['seller_notifier_connections{role="publisher"}'] == 1
    assert after['seller_notifier_connections{role="publisher"}'] == 0
    assert after['seller_notifier_events_published_total{outcome="stored"}'] == 4
    assert after['seller_notifier_events_published_total{outcome="duplicate"}'] == 1
    assert after["seller_notifier_events_delivered_total"] == 4
    assert after["seller_notifier_publish_seconds_count"] == 5
    assert after['seller_notifier_auth_refused_total{reason="bad_token"}'] == 1
    assert after['seller_notifier_throttled_total{limit="rate_limited"}'] == 1
    assert after["seller_notifier_backend_up"] == 1

    await watcher.close()
    closed = await _wait_for_metric(gateway, "seller_notifier_replay_events_count", 1)
    assert closed['seller_notifier_replay_events_bucket{le="10.0"}'] == 1
    assert closed["seller_notifier_replay_events_sum"] == 3
    assert closed['seller_notifier_connections{role="seller"}'] == 0


async def _wait_for_metric(gateway: Gateway, name: str, value: float) -> dict[str, float]:
    """The scrape once ``name`` has ``value`` (a closed connection is counted by its
    handler, a moment after the client saw the close)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        samples = await _metrics(gateway)
        if samples.get(name) == value:
            return samples
        assert asyncio.get_running_loop().time() < deadline, samples.get(name)
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_two_gateways_in_one_process_count_separately(
    tmp_path: Path, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    config = GatewayConfig(host="127.0.0.1", port=0, secrets=gateway_secrets)
    async with (
        Gateway(config, SqliteEventLog(tmp_path / "one.sqlite3")) as one,
        Gateway(config, SqliteEventLog(tmp_path / "two.sqlite3")) as two,
    ):
        await one.publish(wallet_a, order(1))
        stored = 'seller_notifier_events_published_total{outcome="stored"}'
        assert (await _metrics(one))[stored] == 1
        assert (await _metrics(two))[stored] == 0


class _BreakableLog(SqliteEventLog):
    """A real SQLite log whose health check can be made to fail, as a lost disk would."""

    broken = False

    async def check(self) -> None:
        if self.broken:
            raise EventLogError("disk I/O error")
        await super().check()


@pytest.mark.asyncio
async def test_healthz_fails_while_the_event_log_is_unusable(
    tmp_path: Path, gateway_secrets: GatewaySecrets
) -> None:
    log = _BreakableLog(tmp_path / "log.sqlite3")
    async with Gateway(GatewayConfig(port=0, secrets=gateway_secrets), log) as gateway:
        assert (await http_get(gateway.port, "/healthz"))[0] == 200
        log.broken = True
        status, _, body = await http_get(gateway.port, "/healthz")
        assert (status, body.strip()) == (503, "event log unavailable: disk I/O error")
        assert (await _metrics(gateway))["seller_notifier_backend_up"] == 0
        log.broken = False
        assert (await http_get(gateway.port, "/healthz"))[0] == 200


def test_json_logs_lift_key_value_pairs_into_fields() -> None:
    record = logging.LogRecord(
        "seller_notifier.gateway", logging.INFO, __file__, 1,
        "device connected peer=%s wallet=%s since=%s", ("127.0.0.1:5", "0xABC", None), None,
    )  # fmt: skip
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "device connected"
    assert (entry["peer"], entry["wallet"], entry["since"]) == ("127.0.0.1:5", "0xABC", "None")
    assert (entry["level"], entry["logger"]) == ("info", "seller_notifier.gateway")
