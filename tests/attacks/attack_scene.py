"""The scene of the attack tests: a gateway, its secrets, an attacker and a victim."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_support import Wallet

from app.config.secrets import GatewaySecrets
from app.gateway.server import Gateway

ATTACKER = Wallet.numbered(0xA77AC4)
VICTIM = Wallet.numbered(0x51C7)


@dataclass
class Scene:
    """The gateway, its secrets, and the two sellers: the attacker owns a legitimate
    device token for their own wallet and wants the victim's events."""

    gateway: Gateway
    secrets: GatewaySecrets
    attacker: Wallet
    victim: Wallet
    victim_events: int = 0
