"""``seller-notifier token``: issue a device token, or sign devices out.

``token --wallet 0x… [--ttl 30d]`` (or ``token issue …``) prints a token on
stdout alone (so ``$(seller-notifier token --wallet …)`` works); what it grants
goes to stderr.

``token revoke --wallet 0x…`` signs out every device of the wallet (every token
issued until now, including wallet sign-ins); ``token revoke --id ID`` one token
(its id is printed when it is issued, and logged by the gateway). The
revocation is stored in the gateway's event log (``--db``, or ``--redis`` for
gateways sharing Redis); running gateways close those devices' connections
(code 4003, "this device was signed out") within about a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from app.cli.arguments import ExitCode, duration_argument, fail, wallet_argument

if TYPE_CHECKING:
    from app.gateway.backend import Revocation

MAX_TTL: Final = timedelta(days=3650)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "token",
        help="issue a device token for a seller's wallet, or revoke tokens",
        description=(
            "Issue a token that lets the tray app of the seller owning WALLET receive "
            "that wallet's events from this machine's gateway; or, with `revoke`, sign "
            "devices out (by --wallet or --id)."
        ),
    )
    parser.add_argument(
        "action", nargs="?", choices=["issue", "revoke"], default="issue",
        help="issue (the default) or revoke",
    )  # fmt: skip
    parser.add_argument(
        "--wallet", type=wallet_argument, metavar="0x…", help="the seller's wallet address"
    )
    parser.add_argument(
        "--ttl", type=duration_argument, default=None,
        help="how long the token is valid, e.g. 30d, 12h, 2w (default 30d)",
    )  # fmt: skip
    parser.add_argument("--id", dest="token_id", metavar="ID", help="revoke: the token's id")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db", type=Path, metavar="FILE",
        help="revoke: the gateway's SQLite event log (default: in the data folder)",
    )  # fmt: skip
    where.add_argument(
        "--redis", metavar="URL", help="revoke: the Redis the gateways share"
    )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    if args.action == "revoke":
        return _revoke(args)
    for option, value in (("--id", args.token_id), ("--db", args.db), ("--redis", args.redis)):
        if value is not None:
            args.parser.error(f"{option} only applies to `token revoke`")
    return _issue(args)


def _issue(args: argparse.Namespace) -> int:
    from app.config.paths import app_paths
    from app.config.secrets import SecretMissing, token_secret
    from app.gateway.tokens import issue_token, verify_token

    if args.wallet is None:
        args.parser.error("the following arguments are required: --wallet")
    ttl = args.ttl or timedelta(days=30)
    if ttl > MAX_TTL:
        args.parser.error(f"argument --ttl: at most {MAX_TTL.days}d")
    try:
        secret = token_secret(app_paths().gateway_dir)
    except SecretMissing as exc:
        fail(str(exc))
        return ExitCode.FAILURE
    token = issue_token(secret, args.wallet, ttl)
    claims = verify_token(secret, token)
    print(token)
    print(
        f"token for {claims.wallet} (id {claims.token_id}), "
        f"valid until {claims.expires_at:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    return ExitCode.OK


def _revoke(args: argparse.Namespace) -> int:
    from app.gateway.backend import Revocation

    if args.ttl is not None:
        args.parser.error("--ttl only applies to issuing a token")
    if (args.wallet is None) == (args.token_id is None):
        args.parser.error("`token revoke` needs exactly one of --wallet or --id")
    if args.token_id is not None and not args.token_id.strip():
        args.parser.error("--id: a token id is not empty")
    revocation = Revocation(
        at=datetime.now(UTC),
        token_id=args.token_id.strip() if args.token_id is not None else None,
        wallet=args.wallet,
    )
    return asyncio.run(_store(args, revocation))


async def _store(args: argparse.Namespace, revocation: Revocation) -> int:
    from app.config.paths import app_paths
    from app.gateway.bus.sqlite import SqliteEventLog
    from app.gateway.log import EventLogError

    if args.redis is not None:
        from app.gateway.bus.redis import RedisEventLog

        try:
            redis_log = RedisEventLog(args.redis)
        except ValueError as exc:
            fail(f"--redis: {exc}")
            return ExitCode.USAGE
        try:
            await redis_log.connect()
            await redis_log.revoke(revocation)
        except EventLogError as exc:
            fail(str(exc))
            return ExitCode.UNAVAILABLE
        finally:
            await redis_log.close()
    else:
        db: Path = args.db or app_paths().gateway_db
        try:
            sqlite_log = SqliteEventLog(db)
        except (sqlite3.Error, OSError) as exc:
            fail(f"cannot open the event log {db}: {exc}")
            return ExitCode.FAILURE
        try:
            await sqlite_log.revoke(revocation)
        except EventLogError as exc:
            fail(str(exc))
            return ExitCode.FAILURE
        finally:
            await sqlite_log.close()
    print(
        f"signed out {revocation.describe()}; connected devices are disconnected "
        "within a second and must sign in again",
        file=sys.stderr,
    )
    return ExitCode.OK
