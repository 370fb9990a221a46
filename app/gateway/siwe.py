"""Wallet sign-in on the gateway's side: Sign-In with Ethereum (EIP-4361) in, a wallet out.

The nonce in every ``hello`` is minted here, without storage: random bytes, an
expiry, and an HMAC under a key derived from the token secret, hex-encoded (the
EIP wants letters and digits only). Any gateway sharing the secret can check
it, so a seller may fetch the message from one node and sign in on another;
only *used* nonces are stored (in the backend, until they expire), which is
what refuses a replay.

:meth:`WalletSignIn.verify` checks the message strictly
(:func:`app.protocol.siwe.parse_siwe`), its domain and URI against this
gateway, its times, the nonce, and finally the signature. Signature recovery is
eth-account's (EIP-191 ``personal_sign``); nothing here does elliptic-curve
arithmetic. Contract wallets (EIP-1271) are not supported: they need a chain
node to ask.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct

from app.protocol.siwe import SiweFormatError, SiweMessage, format_time, parse_siwe

NONCE_TTL: Final = timedelta(minutes=5)
CLOCK_SKEW: Final = timedelta(minutes=1)
"""Tolerance for the seller's clock in the message's own times."""
_RANDOM_BYTES: Final = 9
_EXPIRY_BYTES: Final = 5
_MAC_BYTES: Final = 10
_NONCE_HEX: Final = 2 * (_RANDOM_BYTES + _EXPIRY_BYTES + _MAC_BYTES)

UseNonce = Callable[[str, datetime], Awaitable[bool]]
"""``use_nonce(nonce, expires_at) -> False if used before`` (the backend's)."""


class SignInRefused(Exception):
    """The sign-in cannot be accepted; ``reason`` is one sentence for the seller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WalletSignIn:
    """Mints ``hello`` nonces and verifies signed EIP-4361 messages.

    ``secret``: the gateway's token secret (shared by every node). ``domains``:
    the authorities a message may name (e.g. ``notify.example.com`` or
    ``127.0.0.1:8765``); a message for any other domain was shown to the seller
    by someone else, and is refused.
    """

    def __init__(
        self, secret: str, domains: Collection[str], *, nonce_ttl: timedelta = NONCE_TTL
    ) -> None:
        if nonce_ttl <= timedelta(0):
            raise ValueError("nonce_ttl must be positive")
        self._key = hashlib.sha256(b"seller-notifier siwe nonce\0" + secret.encode()).digest()
        self.domains = frozenset(domains)
        self.nonce_ttl = nonce_ttl

    def nonce(self, *, now: datetime | None = None) -> str:
        """A fresh single-use nonce, valid for ``nonce_ttl``."""
        expiry = int((_utc(now) + self.nonce_ttl).timestamp())
        body = secrets.token_bytes(_RANDOM_BYTES) + expiry.to_bytes(_EXPIRY_BYTES, "big")
        return (body + self._mac(body)).hex()

    def nonce_expiry(self, nonce: str) -> datetime | None:
        """When ``nonce`` expires, or None if this gateway (its secret) did not mint it."""
        if len(nonce) != _NONCE_HEX:
            return None
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            return None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        seconds = int.from_bytes(body[_RANDOM_BYTES:], "big")
        return datetime.fromtimestamp(seconds, tz=UTC)

    async def verify(
        self, text: str, signature: str, use_nonce: UseNonce, *, now: datetime | None = None
    ) -> SiweMessage:
        """The verified message (its ``address`` is the signed-in wallet).

        Raises :class:`SignInRefused`. The nonce is used up only by a message
        whose signature is valid, so a forgery cannot burn a seller's nonce.
        """
        moment = _utc(now)
        try:
            message = parse_siwe(text)
        except SiweFormatError as exc:
            raise SignInRefused(
                f"this is not a valid Sign-In with Ethereum message: {exc}"
            ) from None
        if message.domain not in self.domains:
            expected = ", ".join(sorted(self.domains)) or "none configured"
            raise SignInRefused(
                f"the message signs in to {message.domain}, not to this gateway ({expected})"
            )
        if urlsplit(message.uri).netloc != message.domain:
            raise SignInRefused(f"the message's URI {message.uri} is not on {message.domain}")
        if message.expiration_time is not None and message.expiration_time <= moment - CLOCK_SKEW:
            raise SignInRefused(
                f"this sign-in message expired at {format_time(message.expiration_time)}: "
                "sign in again"
            )
        if message.not_before is not None and message.not_before > moment + CLOCK_SKEW:
            raise SignInRefused(
                f"this sign-in message is not valid before {format_time(message.not_before)}"
            )
        if message.issued_at > moment + CLOCK_SKEW:
            raise SignInRefused(
                "the message is dated in the future: check this computer's clock"
            )
        expiry = self.nonce_expiry(message.nonce)
        if expiry is None:
            raise SignInRefused("the message's nonce was not issued by this gateway")
        if expiry <= moment:
            minutes = int(self.nonce_ttl.total_seconds() // 60)
            raise SignInRefused(
                f"this sign-in request expired (it is valid for {minutes} minutes): sign in again"
            )
        # eth-account's recovery is pure Python (a few ms): off the event loop.
        signer = await asyncio.to_thread(_recover, text, signature)
        if signer is None:
            raise SignInRefused("the signature is not a valid Ethereum signature")
        if signer != message.address:
            # Not naming the address: refusals never echo another seller's wallet.
            raise SignInRefused("the signature was not made by the wallet the message names")
        if not await use_nonce(message.nonce, expiry):
            raise SignInRefused("this sign-in message was already used: sign in again")
        return message

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def _recover(text: str, signature: str) -> str | None:
    """The checksummed address that signed ``text`` (EIP-191), or None if unreadable."""
    try:
        signer: Any = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # eth-account raises several unrelated types for bad signatures
        return None
    return str(signer)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime (UTC)")
    return moment.astimezone(UTC)
