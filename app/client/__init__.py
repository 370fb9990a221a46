"""The seller client core: asyncio, no Qt. Used by the tray app and ``listen``.

``SellerClient`` keeps a connection to a gateway and calls back with each new
event; ``ClientSession`` (in :mod:`app.client.session`) holds the protocol rules
without I/O. See ``docs/client-api.md``.
"""

from app.client.backoff import Backoff, Heartbeat
from app.client.connection import AuthRefused, SellerClient, Unsubscribe
from app.client.health import LinkQuality
from app.client.session import GapDetected, MessageSettled, ReplayDone
from app.client.status import ConnectionState, ConnectionStatus
from app.client.wake import WakeDetector, WakeUp, watch_for_wake

__all__ = [
    "AuthRefused",
    "Backoff",
    "ConnectionState",
    "ConnectionStatus",
    "GapDetected",
    "Heartbeat",
    "LinkQuality",
    "MessageSettled",
    "ReplayDone",
    "SellerClient",
    "Unsubscribe",
    "WakeDetector",
    "WakeUp",
    "watch_for_wake",
]
