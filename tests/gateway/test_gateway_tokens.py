"""Device tokens: only tokens this gateway signed, for their wallet, until they expire."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.gateway.tokens import AUDIENCE, ISSUER, TokenRefused, issue_token, verify_token
from app.protocol.wallet import InvalidWallet

SECRET = "s" * 64
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, object]:
    part = _segments(token)[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_round_trip_gives_the_checksummed_wallet_and_expiry(wallet_a: str) -> None:
    token = issue_token(SECRET, wallet_a.lower(), timedelta(days=30), now=NOW)
    claims = verify_token(SECRET, token, now=NOW + timedelta(days=29))
    assert claims.wallet == wallet_a
    assert claims.expires_at == NOW + timedelta(days=30)
    assert claims.token_id


def test_every_token_has_its_own_id(wallet_a: str) -> None:
    first = verify_token(SECRET, issue_token(SECRET, wallet_a, timedelta(hours=1)))
    second = verify_token(SECRET, issue_token(SECRET, wallet_a, timedelta(hours=1)))
    assert first.token_id != second.token_id


def test_claims_name_the_audience_and_issuer(wallet_a: str) -> None:
    payload = _payload(issue_token(SECRET, wallet_a, timedelta(hours=1), now=NOW))
    assert payload["aud"] == AUDIENCE
    assert payload["iss"] == ISSUER
    assert payload["sub"] == wallet_a


def test_expired_token_is_refused_with_its_date(wallet_a: str) -> None:
    token = issue_token(SECRET, wallet_a, timedelta(days=1), now=NOW)
    with pytest.raises(TokenRefused) as refused:
        verify_token(SECRET, token, now=NOW + timedelta(days=1, seconds=1))
    assert refused.value.expired
    assert "expired on 2026-11-04" in refused.value.reason
    assert token not in refused.value.reason


def test_token_from_another_gateway_is_refused(wallet_a: str) -> None:
    token = issue_token("x" * 64, wallet_a, timedelta(hours=1))
    with pytest.raises(TokenRefused) as refused:
        verify_token(SECRET, token)
    assert not refused.value.expired
    assert refused.value.reason == "token signature is not valid for this gateway"


def test_tampered_wallet_is_refused(wallet_a: str, wallet_b: str) -> None:
    header, payload, signature = _segments(issue_token(SECRET, wallet_a, timedelta(hours=1)))
    claims = _payload(f"{header}.{payload}.{signature}")
    claims["sub"] = wallet_b
    with pytest.raises(TokenRefused, match="signature"):
        verify_token(SECRET, f"{header}.{_b64(claims)}.{signature}")


def test_unsigned_alg_none_token_is_refused(wallet_a: str) -> None:
    claims = _payload(issue_token(SECRET, wallet_a, timedelta(hours=1)))
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(TokenRefused):
        verify_token(SECRET, forged)


def test_other_algorithms_are_refused_even_with_the_right_secret(wallet_a: str) -> None:
    claims = _payload(issue_token(SECRET, wallet_a, timedelta(hours=1)))
    forged = jwt.encode(claims, SECRET, algorithm="HS512")
    with pytest.raises(TokenRefused, match="HS256"):
        verify_token(SECRET, forged)


def test_wrong_audience_is_refused(wallet_a: str) -> None:
    claims = _payload(issue_token(SECRET, wallet_a, timedelta(hours=1)))
    claims["aud"] = "some-other-service"
    with pytest.raises(TokenRefused, match="not a seller-notifier device token"):
        verify_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"))


def test_missing_claim_is_refused(wallet_a: str) -> None:
    claims = _payload(issue_token(SECRET, wallet_a, timedelta(hours=1)))
    del claims["jti"]
    with pytest.raises(TokenRefused, match="jti"):
        verify_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "e30.e30.e30"])
def test_garbage_is_refused_not_crashing(garbage: str) -> None:
    with pytest.raises(TokenRefused):
        verify_token(SECRET, garbage)


def test_issuing_for_an_invalid_wallet_fails() -> None:
    with pytest.raises(InvalidWallet):
        issue_token(SECRET, "0x123", timedelta(hours=1))


def test_issuing_needs_a_positive_lifetime(wallet_a: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        issue_token(SECRET, wallet_a, timedelta(0))
