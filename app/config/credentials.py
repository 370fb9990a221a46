"""Device tokens, kept in the OS keyring (never in the settings file).

``SELLER_NOTIFIER_TOKEN`` overrides the keyring, for headless use and scripts.
When no keyring backend is available, nothing is stored and the caller is told
why, so it can warn the seller instead of failing silently.
"""

from __future__ import annotations

import logging
import os

import keyring
from keyring.errors import KeyringError

log = logging.getLogger("seller_notifier.config")

SERVICE = "seller-notifier"
TOKEN_ENV = "SELLER_NOTIFIER_TOKEN"


class CredentialStoreUnavailable(RuntimeError):
    """No usable OS keyring; the message says what to do instead."""


_session_tokens: dict[str, str] = {}
"""Tokens kept in memory only, until the process ends (see :func:`keep_for_session`)."""


def keep_for_session(wallet: str, token: str) -> None:
    """Hold ``wallet``'s token in memory until this process ends: without a keyring, a
    token just earned by signing in still connects now (it is never written anywhere)."""
    _session_tokens[wallet] = token


def _usable_backend() -> bool:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    # The "fail" and "null" backends have priority 0 or below: they store nothing.
    return bool(priority and priority > 0)


def load_token(wallet: str) -> str | None:
    """The device token for ``wallet``: the environment first, then this session's
    (:func:`keep_for_session`), then the keyring."""
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    if wallet in _session_tokens:
        return _session_tokens[wallet]
    if not _usable_backend():
        return None
    try:
        return keyring.get_password(SERVICE, wallet)
    except KeyringError as exc:
        log.warning("could not read the keyring: %s", exc)
        return None


def save_token(wallet: str, token: str) -> None:
    """Store the token in the OS keyring; raises CredentialStoreUnavailable if there is none."""
    if not _usable_backend():
        raise CredentialStoreUnavailable(
            "no system keyring is available to store the device token; set "
            f"{TOKEN_ENV} in the environment instead"
        )
    try:
        keyring.set_password(SERVICE, wallet, token)
    except KeyringError as exc:
        raise CredentialStoreUnavailable(f"the keyring refused to store the token: {exc}") from exc


def forget_token(wallet: str) -> None:
    _session_tokens.pop(wallet, None)
    if not _usable_backend():
        return
    try:
        keyring.delete_password(SERVICE, wallet)
    except KeyringError:
        pass
