"""What a gateway keeps outside its own memory: the event log, and the sign-in state
every gateway process must agree on.

A :class:`GatewayBackend` is an :class:`~app.gateway.log.EventLog` that also
stores used sign-in nonces (so a signed message works once, on any node) and
revocations (so a signed-out device stays out, on every node), and tells the
gateway what *other* processes did: events appended elsewhere (Redis) and
revocations made by ``seller-notifier token revoke``. ``bus/sqlite`` and
``bus/redis`` implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.gateway.log import EventLog
from app.gateway.tokens import TokenClaims
from app.protocol.frames import EventFrame


@dataclass(frozen=True)
class Revocation:
    """Devices signed out: the token ``token_id``, or every token of ``wallet`` issued
    at or before ``at`` (a sign-in after it is a new, valid token)."""

    at: datetime
    token_id: str | None = None
    wallet: str | None = None

    def __post_init__(self) -> None:
        if (self.token_id is None) == (self.wallet is None):
            raise ValueError("a revocation names either a token id or a wallet")

    def covers(self, claims: TokenClaims) -> bool:
        """Whether a token with these claims is signed out by this revocation."""
        if self.token_id is not None:
            return claims.token_id == self.token_id
        return claims.wallet == self.wallet and claims.issued_at <= self.at

    def describe(self) -> str:
        """For logs and the CLI (a token id is not a secret; the token is)."""
        if self.token_id is not None:
            return f"token {self.token_id}"
        return f"every token of {self.wallet} issued until {self.at:%Y-%m-%d %H:%M:%S} UTC"


class Follower(Protocol):
    """The gateway, as a backend sees it: told what happened in other processes."""

    def wants(self, wallet: str, seq: int) -> bool:
        """Whether event ``seq`` of ``wallet`` should be handed to :meth:`appended`
        (a device of the wallet is connected here and does not have it yet)."""
        ...

    def appended(self, frame: EventFrame) -> None:
        """An event another process appended (only those :meth:`wants` asked for)."""
        ...

    def lost_track(self) -> None:
        """Notifications may have been missed (the backend reconnected): the gateway
        re-reads its wallets' heads and catches up from the log."""
        ...

    def revoked(self, revocation: Revocation) -> None:
        """A revocation made anywhere; connections it covers are to be closed."""
        ...


class GatewayBackend(EventLog, Protocol):
    """An event log plus the shared sign-in state; see the module docstring."""

    async def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        """Record a sign-in nonce as used until ``expires_at``; False if it already was.
        Atomic across every gateway sharing the backend."""
        ...

    async def revoke(self, revocation: Revocation) -> None:
        """Store ``revocation`` durably and tell every following gateway."""
        ...

    async def find_revocation(self, claims: TokenClaims) -> Revocation | None:
        """The stored revocation covering a token with ``claims``, if any."""
        ...

    async def follow(self, follower: Follower) -> None:
        """Start telling ``follower`` about other processes' events and revocations;
        returns once listening (nothing announced after that is missed). Stops at
        :meth:`close`."""
        ...

    async def check(self) -> None:
        """Raise :class:`~app.gateway.log.EventLogError` if the backend cannot be used
        now (for ``/healthz``)."""
        ...
