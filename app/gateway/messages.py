"""Messages from seller devices (``message`` frames): acknowledged once, applied once.

A device queues read marks and preference updates while offline and sends them
again after every reconnect until the gateway answers ``received``; the
message's ``id`` is its idempotency key. This inbox remembers the ids it has
answered, per wallet, so a message resent after a lost answer is reported as a
duplicate rather than applied twice. Protocol v1 gateways only acknowledge
and log these messages; what each kind does (syncing read marks between a
seller's devices …) builds on this.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final

from app.protocol.frames import AppMessage

_log = logging.getLogger("seller_notifier.gateway")

REMEMBERED_IDS: Final = 10_000
"""Message ids remembered per wallet; a device's outbox holds at most 1,000 by default."""


class MessageInbox:
    """Accepts devices' messages and tells a first delivery from a repeat."""

    def __init__(self, remembered: int = REMEMBERED_IDS) -> None:
        self._remembered = remembered
        self._seen: dict[str, OrderedDict[str, None]] = {}

    def accept(self, wallet: str, message: AppMessage) -> bool:
        """Take ``message`` from a device of ``wallet``; False if it was taken before."""
        seen = self._seen.setdefault(wallet, OrderedDict())
        if message.id in seen:
            seen.move_to_end(message.id)
            return False
        seen[message.id] = None
        if len(seen) > self._remembered:
            seen.popitem(last=False)
        _log.info("device message wallet=%s kind=%s id=%s", wallet, message.kind, message.id)
        return True
