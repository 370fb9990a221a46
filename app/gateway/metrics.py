"""The gateway's Prometheus metrics, served at ``GET /metrics`` on its own port.

Each :class:`GatewayMetrics` has its own registry, so several gateways in one
process (tests, the benchmark) never mix their numbers. Metrics carry no wallet
or token labels: a scrape must not leak who sells what, and label sets stay
small. Events delivered are counted by the connections themselves and summed
at scrape time, so the fan-out path pays no lock per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""What ``generate_latest`` writes: the classic Prometheus text format."""

REFUSALS: Final = (
    "bad_token",
    "token_expired",
    "token_revoked",
    "sign_in_refused",
    "publish_key",
    "no_auth",
)
THROTTLES: Final = ("rate_limited", "ip_cap", "wallet_cap")


class GatewayMetrics:
    """Counters, gauges and histograms of one gateway; :meth:`render` for a scrape.

    Called at scrape time: ``delivered`` returns the number of event frames sent
    so far, ``connections`` the open connections by role (``pending``,
    ``seller``, ``publisher``) — counted where they are kept, not per event.
    """

    def __init__(
        self, delivered: Callable[[], int], connections: Callable[[], dict[str, int]]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.published = Counter(
            "seller_notifier_events_published",
            "Events accepted for publishing (duplicates: repeated idempotency keys).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("stored", "duplicate", "failed"):
            self.published.labels(outcome)
        self.publish_seconds = Histogram(
            "seller_notifier_publish_seconds",
            "Time to make a published event durable in the log.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=registry,
        )
        self.replayed = Histogram(
            "seller_notifier_replay_events",
            "Events replayed to a device when it connected (its backlog).",
            buckets=(0, 1, 10, 100, 1000, 10000, 100000),
            registry=registry,
        )
        self.refused = Counter(
            "seller_notifier_auth_refused",
            "Authentications refused, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in REFUSALS:
            self.refused.labels(reason)
        self.throttled = Counter(
            "seller_notifier_throttled",
            "Connections closed or refused by a limit, by limit.",
            ["limit"],
            registry=registry,
        )
        for limit in THROTTLES:
            self.throttled.labels(limit)
        self.sign_ins = Counter(
            "seller_notifier_wallet_sign_ins",
            "Devices signed in with a wallet (EIP-4361), each given a new token.",
            registry=registry,
        )
        self.revoked = Counter(
            "seller_notifier_connections_signed_out",
            "Live connections closed because their token was revoked.",
            registry=registry,
        )
        self.backend_up = Gauge(
            "seller_notifier_backend_up",
            "1 if the event log answered the last health check, else 0.",
            registry=registry,
        )
        registry.register(_Live(delivered, connections))

    def render(self) -> bytes:
        """The scrape body, in :data:`CONTENT_TYPE`."""
        return generate_latest(self.registry)


class _Live(Collector):
    """What the gateway counts in its own structures, read at scrape time."""

    def __init__(
        self, delivered: Callable[[], int], connections: Callable[[], dict[str, int]]
    ) -> None:
        self._delivered = delivered
        self._connections = connections

    def collect(self) -> Iterable[Metric]:
        delivered, connections = self._families()
        delivered.add_metric([], float(self._delivered()))
        for role, count in self._connections().items():
            connections.add_metric([role], float(count))
        yield delivered
        yield connections

    def describe(self) -> Iterable[Metric]:
        # Described without collecting, so registering it calls nothing on the gateway.
        yield from self._families()

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "seller_notifier_events_delivered",
                "Event frames sent to seller devices (replayed and live).",
            ),
            GaugeMetricFamily(
                "seller_notifier_connections",
                "Open WebSocket connections, by role (pending: not yet authenticated).",
                labels=["role"],
            ),
        )
