"""Refusals in a seller's words, both ways: what the gateway refused (close codes and
``error`` frames), and the connections this client refuses to make.

:func:`explain_refusal` and :func:`explain_connect_error` return a sentence for
the status line or the CLI, or None when the generic wording (which names the
gateway and its own message) says it well enough. :func:`refuse_insecure`
keeps device tokens off unencrypted links to other machines.
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import Final
from urllib.parse import urlsplit

from app.protocol.frames import CloseCode, ErrorCode

SIGNED_OUT: Final = "this device was signed out: sign in again"
TOO_MANY_CONNECTIONS: Final = "too many connections from this computer"
TOO_MANY_DEVICES: Final = "too many devices are connected to this wallet"
RATE_LIMITED: Final = "this app sent too many messages too fast"
TOO_LARGE: Final = "a message was too large for the gateway"
STORAGE_DOWN: Final = "the gateway cannot reach its event storage right now"
CERTIFICATE_NOT_TRUSTED: Final = "server certificate not trusted"

_BY_ERROR: Final = {
    ErrorCode.TOKEN_REVOKED: SIGNED_OUT,
    ErrorCode.TOO_MANY_CONNECTIONS: TOO_MANY_CONNECTIONS,
    ErrorCode.TOO_MANY_DEVICES: TOO_MANY_DEVICES,
    ErrorCode.RATE_LIMITED: RATE_LIMITED,
    ErrorCode.FRAME_TOO_LARGE: TOO_LARGE,
    ErrorCode.UNAVAILABLE: STORAGE_DOWN,
}
_BY_CLOSE: Final = {CloseCode.FORBIDDEN: SIGNED_OUT, CloseCode.TOO_BIG: TOO_LARGE}


class InsecureConnection(ValueError):
    """A ``ws://`` URL for another machine, without ``allow_insecure``; the message
    says what to do."""


def explain_refusal(close_code: int | None, error_code: str | None) -> str | None:
    """The seller's sentence for a refusal: the ``error`` frame's code first (it is
    the more specific), then the close code."""
    if error_code is not None and error_code in _BY_ERROR:
        return _BY_ERROR[ErrorCode(error_code)]
    if close_code is not None:
        return _BY_CLOSE.get(close_code)
    return None


def explain_connect_error(error: BaseException) -> str | None:
    """The seller's sentence for a failure to open a connection, if it is a TLS one."""
    if isinstance(error, ssl.SSLCertVerificationError):
        why = error.verify_message or error.reason
        return f"{CERTIFICATE_NOT_TRUSTED} ({why})" if why else CERTIFICATE_NOT_TRUSTED
    if isinstance(error, ssl.SSLError):
        why = error.reason or str(error)
        return f"the secure connection failed ({why}); is the address wss:// for a TLS gateway?"
    return None


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address: traffic that never leaves this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_insecure(url: str, *, allow_insecure: bool) -> None:
    """Raise :class:`InsecureConnection` for ``ws://`` to another machine, unless
    ``allow_insecure``: its token (or key) would cross the network unencrypted."""
    parts = urlsplit(url)
    if allow_insecure or parts.scheme != "ws" or is_loopback_host(parts.hostname or ""):
        return
    secure = parts._replace(scheme="wss").geturl()
    raise InsecureConnection(
        f"{url} is not encrypted and {parts.hostname} is another machine: use {secure} "
        "(or allow an insecure connection explicitly, e.g. --allow-insecure)"
    )
