"""Sign in with a wallet (EIP-4361), the client's side: no private key ever enters the app.

Two steps, with the seller's own wallet in between::

    request = await request_sign_in(url, wallet)      # the gateway's nonce, in a message
    show(request.message)                             # the seller signs it in their wallet
    signed_in = await finish_sign_in(request, pasted_signature)
    keep(signed_in.token)                             # a device token, for the keyring

The message names the gateway's address as its domain and URI, and its nonce is
valid for 5 minutes and once. Every failure is a :class:`SignInFailed` whose
``message`` is one sentence for the seller.
"""

from __future__ import annotations

import asyncio
import re
import ssl as ssl_module
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from app.client.refusals import (
    InsecureConnection,
    explain_connect_error,
    explain_refusal,
    refuse_insecure,
)
from app.config.log_redaction import without_frame_debug
from app.protocol.codec import ProtocolError, decode_server_frame, encode_frame
from app.protocol.frames import MAX_FRAME_BYTES, ErrorFrame, Hello, Ok, ServerFrame, SiweAuth
from app.protocol.siwe import SiweFormatError, SiweMessage
from app.protocol.wallet import InvalidWallet, normalize_wallet

DEFAULT_STATEMENT: Final = (
    "Sign in to Seller Notifier to receive this wallet's order notifications on this device."
)
DEFAULT_CHAIN_ID: Final = 1
SIGNING_WINDOW: Final = timedelta(minutes=5)
"""How long the gateway accepts a message after handing out its nonce."""
_SIGNATURE: Final = re.compile(r"^(0x)?[0-9a-fA-F]{130}$")


class SignInFailed(Exception):
    """The wallet sign-in did not work; ``message`` says why, for the seller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SignInRequest:
    """A message waiting for the seller's signature."""

    url: str
    wallet: str
    message: str
    """The exact text to sign (the wallet's "sign message" / ``personal_sign``)."""
    expires_at: datetime
    """About when the gateway stops accepting it (this computer's clock)."""


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: ``token`` is this device's new token (keep it secret)."""

    wallet: str
    token: str


def sign_in_message(
    url: str,
    wallet: str,
    nonce: str,
    *,
    issued_at: datetime,
    chain_id: int = DEFAULT_CHAIN_ID,
    statement: str = DEFAULT_STATEMENT,
) -> str:
    """The EIP-4361 text for signing in to the gateway at ``url`` as ``wallet``.

    Raises :class:`SignInFailed` for a wallet, URL or nonce a message cannot hold.
    """
    try:
        address = normalize_wallet(wallet)
    except InvalidWallet as exc:
        raise SignInFailed(str(exc)) from None
    domain = urlsplit(url).netloc
    try:
        message = SiweMessage.create(
            domain=domain,
            address=address,
            uri=url,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=issued_at,
            statement=statement,
        )
    except SiweFormatError as exc:
        raise SignInFailed(f"cannot build a sign-in message for {url}: {exc}") from None
    return message.text()


async def request_sign_in(
    url: str,
    wallet: str,
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    statement: str = DEFAULT_STATEMENT,
    ssl: ssl_module.SSLContext | None = None,
    allow_insecure: bool = False,
    timeout: float = 10.0,
) -> SignInRequest:
    """Fetch a nonce from the gateway at ``url`` and build the message to sign."""
    issued_at = datetime.now(UTC)
    async with _Connection(url, ssl, allow_insecure, timeout) as link:
        nonce = link.hello.nonce
    text = sign_in_message(
        url, wallet, nonce, issued_at=issued_at, chain_id=chain_id, statement=statement
    )
    return SignInRequest(
        url=url,
        wallet=normalize_wallet(wallet),
        message=text,
        expires_at=issued_at + SIGNING_WINDOW,
    )


async def finish_sign_in(
    request: SignInRequest,
    signature: str,
    *,
    ssl: ssl_module.SSLContext | None = None,
    allow_insecure: bool = False,
    timeout: float = 10.0,
) -> SignedIn:
    """Send the signed message; the gateway answers with a device token."""
    pasted = "".join(signature.split())  # wallets and chat apps wrap long hex
    if not _SIGNATURE.match(pasted):
        raise SignInFailed(
            "that is not a wallet signature: expected 0x followed by 130 hexadecimal digits"
        )
    if not pasted.startswith("0x"):
        pasted = "0x" + pasted
    # This connection's own nonce goes unused: the message carries the first one.
    async with _Connection(request.url, ssl, allow_insecure, timeout) as link:
        answer = await link.exchange(SiweAuth(message=request.message, signature=pasted))
    if isinstance(answer, ErrorFrame):
        told = explain_refusal(None, answer.code) or answer.message
        raise SignInFailed(f"the gateway refused the sign-in: {told}")
    if not isinstance(answer, Ok) or answer.token is None or answer.wallet is None:
        raise SignInFailed(f"the gateway at {request.url} did not answer with a token")
    if answer.wallet != request.wallet:
        raise SignInFailed(f"the gateway signed in {answer.wallet}, not {request.wallet}")
    return SignedIn(wallet=answer.wallet, token=answer.token)


class _Connection:
    """One short connection: inside ``async with``, :attr:`hello` is the gateway's
    greeting and :meth:`exchange` sends a frame and returns the answer."""

    def __init__(
        self, url: str, ssl: ssl_module.SSLContext | None, allow_insecure: bool, timeout: float
    ) -> None:
        self.url = url
        self._ssl = ssl
        self._allow_insecure = allow_insecure
        self._timeout = timeout
        self._ws: ClientConnection | None = None
        self.hello = Hello(server="", nonce="", heartbeat=1.0)

    async def __aenter__(self) -> _Connection:
        url = self.url
        try:
            refuse_insecure(url, allow_insecure=self._allow_insecure)
        except InsecureConnection as exc:
            raise SignInFailed(str(exc)) from None
        tls: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
        try:
            self._ws = await connect(
                url,
                **tls,
                open_timeout=self._timeout,
                max_size=MAX_FRAME_BYTES,
                compression=None,
                # The message, the signature and the new token must not reach a log.
                logger=without_frame_debug("seller_notifier.client.websockets"),
            )
        except InvalidURI as exc:
            raise SignInFailed(f"{url} is not a gateway address: {exc}") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            told = explain_connect_error(exc) or str(exc) or type(exc).__name__
            raise SignInFailed(f"cannot reach the gateway at {url}: {told}") from None
        try:
            first = await self._receive()
        except SignInFailed:
            await self._ws.close()
            raise
        if isinstance(first, ErrorFrame):
            await self._ws.close()
            told = explain_refusal(None, first.code) or first.message
            raise SignInFailed(f"the gateway at {url} refused the connection: {told}")
        if not isinstance(first, Hello):
            await self._ws.close()
            raise SignInFailed(f"{url} does not speak the seller-notifier protocol")
        self.hello = first
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def exchange(self, frame: SiweAuth) -> ServerFrame:
        assert self._ws is not None
        try:
            await self._ws.send(encode_frame(frame))
        except ConnectionClosed:
            pass  # the gateway's reason is read next
        return await self._receive()

    async def _receive(self) -> ServerFrame:
        assert self._ws is not None
        try:
            async with asyncio.timeout(self._timeout):
                return decode_server_frame(await self._ws.recv())
        except TimeoutError:
            raise SignInFailed(f"the gateway at {self.url} did not answer in time") from None
        except ConnectionClosed as exc:
            said = exc.rcvd.reason if exc.rcvd is not None else ""
            told = explain_refusal(exc.rcvd.code if exc.rcvd else None, None) or said
            raise SignInFailed(
                f"the gateway at {self.url} closed the connection" + (f": {told}" if told else "")
            ) from None
        except ProtocolError as exc:
            raise SignInFailed(f"unreadable answer from {self.url}: {exc.message}") from None
