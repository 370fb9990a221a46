"""``seller-notifier token``: a token on stdout for a valid wallet, one-line errors else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_gateway_cmd import seller_notifier

from app.config.paths import app_paths
from app.config.secrets import load_or_create
from app.gateway.tokens import verify_token


def test_without_a_gateway_secret_it_says_what_to_do(wallet_a: str) -> None:
    result = seller_notifier("token", "--wallet", wallet_a)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "start the gateway" in line


def test_a_token_for_the_checksummed_wallet_on_stdout(wallet_a: str) -> None:
    secret = load_or_create(app_paths().gateway_dir).token_secret
    result = seller_notifier("token", "--wallet", wallet_a.lower())
    assert result.returncode == 0, result.stderr
    [token] = result.stdout.splitlines()
    claims = verify_token(secret, token)
    assert claims.wallet == wallet_a
    remaining = claims.expires_at - datetime.now(UTC)
    assert timedelta(days=29) < remaining <= timedelta(days=30)
    assert wallet_a in result.stderr and token not in result.stderr


def test_the_lifetime_is_chosen_with_ttl(wallet_a: str) -> None:
    secret = load_or_create(app_paths().gateway_dir).token_secret
    result = seller_notifier("token", "issue", "--wallet", wallet_a, "--ttl", "2h")
    assert result.returncode == 0, result.stderr
    claims = verify_token(secret, result.stdout.strip())
    remaining = claims.expires_at - datetime.now(UTC)
    assert timedelta(hours=1) < remaining <= timedelta(hours=2)


def test_the_secret_can_come_from_the_environment(
    wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "from-the-environment-" + "q" * 32
    monkeypatch.setenv("SELLER_NOTIFIER_SECRET", secret)
    result = seller_notifier("token", "--wallet", wallet_a)
    assert result.returncode == 0, result.stderr
    assert verify_token(secret, result.stdout.strip()).wallet == wallet_a


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wallet", "0x1234"], "is not a wallet address"),
        (["--wallet", "0x52908400098527886E0F7030069857D2E4169Ee7"], "checksum"),
        ([], "--wallet"),
        (["--wallet", "0x52908400098527886e0f7030069857d2e4169ee7", "--ttl", "soon"], "duration"),
        (["--wallet", "0x52908400098527886e0f7030069857d2e4169ee7", "--ttl", "9999d"], "3650d"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    load_or_create(app_paths().gateway_dir)
    result = seller_notifier("token", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert message in line
