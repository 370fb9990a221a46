"""``seller-notifier token --wallet 0x… [--ttl 30d]``: issue a device token.

The token goes to stdout alone (so ``$(seller-notifier token --wallet …)`` works);
what it grants goes to stderr. The optional action word leaves room for
``token revoke`` later: ``token`` and ``token issue`` are the same command.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any, Final

from app.cli.arguments import ExitCode, duration_argument, fail, wallet_argument

MAX_TTL: Final = timedelta(days=3650)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "token",
        help="issue a device token for a seller's wallet",
        description=(
            "Issue a token that lets the tray app of the seller owning WALLET receive "
            "that wallet's events from this machine's gateway."
        ),
    )
    parser.add_argument(
        "action", nargs="?", choices=["issue"], default="issue", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--wallet", type=wallet_argument, metavar="0x…", help="the seller's wallet address"
    )
    parser.add_argument(
        "--ttl", type=duration_argument, default=timedelta(days=30),
        help="how long the token is valid, e.g. 30d, 12h, 2w (default 30d)",
    )  # fmt: skip
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from app.config.paths import app_paths
    from app.config.secrets import SecretMissing, token_secret
    from app.gateway.tokens import issue_token, verify_token

    if args.wallet is None:
        args.parser.error("the following arguments are required: --wallet")
    if args.ttl > MAX_TTL:
        args.parser.error(f"argument --ttl: at most {MAX_TTL.days}d")
    try:
        secret = token_secret(app_paths().gateway_dir)
    except SecretMissing as exc:
        fail(str(exc))
        return ExitCode.FAILURE
    token = issue_token(secret, args.wallet, args.ttl)
    claims = verify_token(secret, token)
    print(token)
    print(
        f"token for {claims.wallet} (id {claims.token_id}), "
        f"valid until {claims.expires_at:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    return ExitCode.OK
