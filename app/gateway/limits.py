"""Limits on what one client may cost the gateway: frames per second, and connections
per computer (IP address) and per wallet.

Both are checked in O(1) with no I/O. Behind a load balancer every connection
comes from the balancer's address, so :func:`client_address` believes the
``X-Forwarded-For`` header only when the peer is one of ``trusted_proxies``.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Collection


class TokenBucket:
    """``rate`` frames per second on average, bursts of up to ``burst``.

    :meth:`take` is called per frame with the loop's clock; False means the
    frame is over the limit.
    """

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> bool:
        tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True


class ConnectionCaps:
    """Counts open connections per key (an IP address, a wallet) against a cap."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("a connection cap must be at least 1")
        self.cap = cap
        self._open: Counter[str] = Counter()

    def admit(self, key: str) -> bool:
        """Count one more connection for ``key``; False (and not counted) if at the cap."""
        if self._open[key] >= self.cap:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        """A connection :meth:`admit` counted has closed."""
        left = self._open[key] - 1
        if left > 0:
            self._open[key] = left
        else:
            del self._open[key]

    def count(self, key: str) -> int:
        return self._open.get(key, 0)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Collection[str]
) -> str:
    """The address a connection comes from, for per-computer limits and logs.

    ``forwarded_for`` (the ``X-Forwarded-For`` header) is used only when the
    peer is a trusted proxy: then the rightmost address that is not itself a
    trusted proxy is the client (earlier entries are whatever the client wrote).
    """
    address = peer or "unknown"
    if not forwarded_for or address not in trusted_proxies:
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not _is_address(hop):
            break  # a malformed hop: do not trust anything left of it
        address = hop
        if hop not in trusted_proxies:
            break
    return address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
