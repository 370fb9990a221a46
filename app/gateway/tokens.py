"""Device tokens: what a seller's tray app presents to the gateway.

A token is a JWT signed with the gateway's token secret (HS256, the only
algorithm accepted, so ``alg: none`` and RS256/HS256 confusion tricks fail). It
names one wallet (``sub``, checksummed), carries a random id (``jti``) so it can
be revoked later, and expires. ``iat`` keeps microseconds (JWT allows fractional
NumericDates) so that "revoke every token of this wallet issued until now" does
not also catch a sign-in made a moment later in the same second. Messages never
contain the token itself.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt

from app.protocol.wallet import InvalidWallet, normalize_wallet

ALGORITHM: Final = "HS256"
AUDIENCE: Final = "seller-notifier:device"
ISSUER: Final = "seller-notifier"
_REQUIRED_CLAIMS: Final = ["sub", "jti", "iat", "exp", "aud", "iss"]


@dataclass(frozen=True)
class TokenClaims:
    """A verified token: the wallet it grants, its id (for revocation), its expiry and
    issue time (UTC)."""

    wallet: str
    token_id: str
    expires_at: datetime
    issued_at: datetime


class TokenRefused(Exception):
    """The token cannot be used. ``reason`` is written for people; ``expired`` tells a
    token that was once valid (get a new one) from one that never was."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def issue_token(secret: str, wallet: str, ttl: timedelta, *, now: datetime | None = None) -> str:
    """A signed token for ``wallet`` valid for ``ttl`` from ``now`` (default: the clock).

    Raises :class:`~app.protocol.wallet.InvalidWallet` for a bad address and
    ``ValueError`` for a non-positive ``ttl``.
    """
    if ttl <= timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    issued = _utc(now)
    claims = {
        "sub": normalize_wallet(wallet),
        "jti": secrets.token_urlsafe(16),
        # Rounded down: a token never claims to be newer than it is.
        "iat": math.floor(issued.timestamp() * 1_000_000) / 1_000_000,
        "exp": int((issued + ttl).timestamp()),
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, *, now: datetime | None = None) -> TokenClaims:
    """Check signature, audience, issuer and expiry; raises :class:`TokenRefused`."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Expiry is checked below against ``now`` so tests and callers can
            # pass a clock; PyJWT would only use its own.
            options={
                "require": _REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "strict_aud": True,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenRefused("token signature is not valid for this gateway") from None
    except jwt.InvalidAlgorithmError:
        raise TokenRefused(f"token is not signed with {ALGORITHM}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused("token is not a seller-notifier device token") from None
    except jwt.InvalidIssuerError:
        raise TokenRefused("token was not issued by seller-notifier") from None
    except jwt.InvalidTokenError:
        raise TokenRefused("token is malformed") from None

    subject, token_id, expiry = payload["sub"], payload["jti"], payload["exp"]
    issued = payload["iat"]
    if not isinstance(subject, str) or not isinstance(token_id, str):
        raise TokenRefused("token is malformed")
    if isinstance(expiry, bool) or not isinstance(expiry, int | float):
        raise TokenRefused("token has no valid expiry")
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        raise TokenRefused("token has no valid issue time")
    try:
        wallet = normalize_wallet(subject)
        expires_at = datetime.fromtimestamp(expiry, tz=UTC)
        issued_at = datetime.fromtimestamp(issued, tz=UTC)
    except (InvalidWallet, OverflowError, OSError, ValueError):
        raise TokenRefused("token is malformed") from None
    if expires_at <= _utc(now):
        raise TokenRefused(
            f"token expired on {expires_at:%Y-%m-%d %H:%M} UTC: ask for a new one",
            expired=True,
        )
    return TokenClaims(
        wallet=wallet, token_id=token_id, expires_at=expires_at, issued_at=issued_at
    )


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime (UTC)")
    return moment.astimezone(UTC)
