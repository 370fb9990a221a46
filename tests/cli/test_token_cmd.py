"""``seller-notifier token``: a token on stdout for a valid wallet, one-line errors else;
``token revoke`` signs devices out, even of a gateway that is running."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_gateway_cmd import (
    DEADLINE,
    GatewayProcess,
    device_token,
    first_events,
    seller_notifier,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.config.paths import app_paths
from app.config.secrets import load_or_create
from app.gateway.tokens import verify_token
from app.protocol import Auth, Ok, decode_server_frame, encode_frame


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


# --- token revoke ----------------------------------------------------------------------


async def _closed_by_gateway(url: str, token: str, revoke: list[str]) -> tuple[int | None, str]:
    """Connect as a device, run ``seller-notifier token revoke …``, and return how the
    gateway then closed the connection (and the command's stderr)."""
    async with connect(url, open_timeout=DEADLINE) as ws:
        await asyncio.wait_for(ws.recv(), DEADLINE)  # hello
        await ws.send(encode_frame(Auth(token=token)))
        ok = decode_server_frame(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert isinstance(ok, Ok), ok
        result = await asyncio.to_thread(seller_notifier, "token", "revoke", *revoke)
        assert result.returncode == 0, result.stderr
        try:
            while True:
                await asyncio.wait_for(ws.recv(), DEADLINE)
        except ConnectionClosed:
            pass
        return ws.close_code, result.stderr


def test_revoking_a_wallet_signs_its_connected_device_out(wallet_a: str) -> None:
    with GatewayProcess() as gateway:
        code, stderr = asyncio.run(
            _closed_by_gateway(gateway.url, device_token(wallet_a), ["--wallet", wallet_a.lower()])
        )
        assert code == 4003
        assert stderr.startswith(f"signed out every token of {wallet_a} issued until ")
        assert gateway.stop() == 0


def test_revoking_one_token_by_its_id(wallet_a: str) -> None:
    with GatewayProcess() as gateway:
        issued = seller_notifier("token", "--wallet", wallet_a)
        token = issued.stdout.strip()
        token_id = issued.stderr.split("(id ", 1)[1].split(")", 1)[0]
        code, stderr = asyncio.run(_closed_by_gateway(gateway.url, token, ["--id", token_id]))
        assert code == 4003
        assert stderr.startswith(f"signed out token {token_id};")
        # Another token of the same wallet still works.
        [] = asyncio.run(first_events(gateway.url, device_token(wallet_a), 0, since=None))
        assert gateway.stop() == 0


def test_a_revocation_written_while_no_gateway_runs_holds_at_its_next_start(
    wallet_a: str,
) -> None:
    load_or_create(app_paths().gateway_dir)
    token = device_token(wallet_a)
    assert seller_notifier("token", "revoke", "--wallet", wallet_a).returncode == 0
    with GatewayProcess() as gateway:

        async def refused() -> int | None:
            async with connect(gateway.url, open_timeout=DEADLINE) as ws:
                await asyncio.wait_for(ws.recv(), DEADLINE)
                await ws.send(encode_frame(Auth(token=token)))
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), DEADLINE)
                return ws.close_code

        assert asyncio.run(refused()) == 4003
        assert gateway.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revoke"], "exactly one of --wallet or --id"),
        (["revoke", "--wallet", "0x52908400098527886e0f7030069857d2e4169ee7", "--id", "x"],
         "exactly one of --wallet or --id"),
        (["revoke", "--id", "x", "--ttl", "2h"], "--ttl only applies"),
        (["revoke", "--id", "  "], "not empty"),
        (["--wallet", "0x52908400098527886e0f7030069857d2e4169ee7", "--id", "x"],
         "only applies to `token revoke`"),
        (["revoke", "--id", "x", "--db", "a", "--redis", "redis://127.0.0.1:1"], "not allowed"),
        (["unissue"], "invalid choice"),
    ],
)  # fmt: skip
def test_bad_revoke_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = seller_notifier("token", *args)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_an_unusable_event_log_is_one_line_and_exit_1(tmp_path: Path) -> None:
    not_a_database = tmp_path / "events.sqlite3"
    not_a_database.write_text("this is not SQLite\n" * 100)
    result = seller_notifier("token", "revoke", "--id", "x", "--db", str(not_a_database))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f"cannot open the event log {not_a_database}" in line
