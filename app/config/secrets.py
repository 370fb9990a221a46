"""The gateway's two secrets: the token-signing key and the publisher key.

Each comes from its environment variable when set; otherwise the gateway creates
it on first start in its data directory (owner-only file) and the ``token`` and
``publish`` commands read it from there, so one machine needs no setup.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = "SELLER_NOTIFIER_SECRET"
PUBLISH_KEY_ENV = "SELLER_NOTIFIER_PUBLISH_KEY"
_SECRET_FILE = "token-secret"
_PUBLISH_KEY_FILE = "publish-key"
MIN_SECRET_LENGTH = 32


class SecretMissing(RuntimeError):
    """No secret in the environment and none created yet; the message says what to do."""


@dataclass(frozen=True)
class GatewaySecrets:
    token_secret: str
    publish_key: str

    def __repr__(self) -> str:  # never print secrets by accident
        return "GatewaySecrets(token_secret=***, publish_key=***)"


def load_or_create(gateway_dir: Path) -> GatewaySecrets:
    """For the gateway: environment first, else the files, created if missing."""
    return GatewaySecrets(
        token_secret=_env(SECRET_ENV) or _read_or_create(gateway_dir / _SECRET_FILE),
        publish_key=_env(PUBLISH_KEY_ENV) or _read_or_create(gateway_dir / _PUBLISH_KEY_FILE),
    )


def token_secret(gateway_dir: Path) -> str:
    """For ``token``: the signing secret, without creating one (raises SecretMissing)."""
    return _env(SECRET_ENV) or _read(gateway_dir / _SECRET_FILE, SECRET_ENV)


def publish_key(gateway_dir: Path) -> str:
    """For ``publish``: the publisher key, without creating one (raises SecretMissing)."""
    return _env(PUBLISH_KEY_ENV) or _read(gateway_dir / _PUBLISH_KEY_FILE, PUBLISH_KEY_ENV)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    if value and len(value) < MIN_SECRET_LENGTH and name == SECRET_ENV:
        raise SecretMissing(f"{name} is too short: use at least {MIN_SECRET_LENGTH} characters")
    return value or None


def _read(path: Path, env_name: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretMissing(
            f"no {env_name} set and no {path} yet: start the gateway once on this machine "
            f"or set {env_name}"
        ) from None
    if not value:
        raise SecretMissing(f"{path} is empty: delete it and restart the gateway")
    return value


def _read_or_create(path: Path) -> str:
    try:
        return _read(path, "")
    except SecretMissing:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    # O_EXCL: two gateways starting at once must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path, "")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
