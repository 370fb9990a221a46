"""``seller-notifier gateway``: run the gateway until SIGINT or SIGTERM.

Prints ``seller-notifier gateway listening on ws://HOST:PORT`` (``wss://`` with
``--tls-cert``) on stderr once it accepts connections (with ``--port 0`` that
line tells the chosen port). The event log is a SQLite file, or Redis with
``--redis URL`` so that several gateways can serve the same sellers
(``docs/scale-out.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.arguments import ExitCode, duration_argument, fail, wallet_argument

if TYPE_CHECKING:
    from app.gateway.backend import GatewayBackend


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the notification gateway",
        description=(
            "Run the gateway: devices connect with a token (see `token`) or sign in with "
            "their wallet, backends publish events (see `publish`). Its secrets are "
            "created on first start; gateways sharing Redis must share them "
            "(SELLER_NOTIFIER_SECRET, SELLER_NOTIFIER_PUBLISH_KEY)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--port", type=_port, default=8765, help="TCP port; 0 picks a free one (default 8765)"
    )
    parser.add_argument(
        "--heartbeat", type=_positive_float, default=20.0, metavar="S",
        help="seconds between pings to each connection (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text",
        help="log lines for people (text) or for a log collector (json)",
    )  # fmt: skip

    storage = parser.add_argument_group("event log")
    where = storage.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help="SQLite event log (default: in the data folder)")
    where.add_argument(
        "--redis", metavar="URL",
        help="share the event log through Redis, e.g. redis://127.0.0.1:6379/0",
    )  # fmt: skip
    storage.add_argument(
        "--retain", type=_positive_int, default=None, metavar="N",
        help="events kept per wallet for replay (default 100000)",
    )  # fmt: skip
    storage.add_argument(
        "--retain-age", type=duration_argument, default=None, metavar="AGE",
        help="also drop events older than AGE, e.g. 30d (default: keep)",
    )  # fmt: skip
    storage.add_argument(
        "--fsync", action="store_true",
        help="SQLite: fsync every commit, so acknowledged events also survive a power loss "
        "(default: they survive a crash or kill -9 of the gateway; fsync costs ~3 ms a commit)",
    )  # fmt: skip

    security = parser.add_argument_group("security and limits")
    security.add_argument(
        "--tls-cert", type=Path, metavar="PEM", help="serve wss:// with this certificate"
    )
    security.add_argument(
        "--tls-key", type=Path, metavar="PEM", help="the certificate's private key"
    )
    security.add_argument(
        "--siwe-domain", action="append", default=[], metavar="DOMAIN",
        help="the public address sellers sign in to with their wallet, e.g. "
        "notify.example.com (repeatable; default: HOST:PORT)",
    )  # fmt: skip
    security.add_argument(
        "--allow-origin", action="append", default=[], metavar="ORIGIN",
        help="a web page origin allowed to connect, e.g. https://shop.example.com (repeatable)",
    )  # fmt: skip
    security.add_argument(
        "--trust-proxy", action="append", default=[], metavar="ADDRESS",
        help="a load balancer whose X-Forwarded-For names the client (repeatable)",
    )  # fmt: skip
    security.add_argument(
        "--max-connections-per-ip", type=_positive_int, default=100, metavar="N",
        help="connections one computer may open (default 100)",
    )  # fmt: skip
    security.add_argument(
        "--max-connections-per-wallet", type=_positive_int, default=10, metavar="N",
        help="devices one wallet may have connected (default 10)",
    )  # fmt: skip
    security.add_argument(
        "--frame-rate", type=_positive_float, default=20.0, metavar="N",
        help="frames per second a device may send on average (default 20)",
    )  # fmt: skip

    simulation = parser.add_argument_group("simulation")
    simulation.add_argument(
        "--simulate", action="store_true", help="publish realistic simulated events"
    )
    simulation.add_argument(
        "--rate", type=_positive_float, default=1.0, metavar="N",
        help="simulated events per second (default 1)",
    )  # fmt: skip
    simulation.add_argument(
        "--wallet", dest="wallets", action="append", type=wallet_argument, metavar="0x…",
        help="a wallet to simulate (repeatable; default: the demo wallet)",
    )  # fmt: skip
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    if args.wallets and not args.simulate:
        args.parser.error("--wallet only applies with --simulate")
    if (args.tls_cert is None) != (args.tls_key is None):
        args.parser.error("--tls-cert and --tls-key go together")
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        from app.gateway.log_format import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The websockets library's own lines repeat ours; keep its warnings only.
    logging.getLogger("seller_notifier.gateway.websockets").setLevel(logging.WARNING)
    return asyncio.run(_serve(args))


async def _open_log(args: argparse.Namespace, db: Path) -> GatewayBackend | int:
    """The backend, or an exit code after saying why it cannot be opened."""
    from app.gateway.bus.sqlite import DEFAULT_RETAIN, SqliteEventLog
    from app.gateway.log import EventLogError

    retain = args.retain or DEFAULT_RETAIN
    if args.redis is not None:
        from app.gateway.bus.redis import RedisEventLog

        try:
            log = RedisEventLog(args.redis, retain=retain, retain_age=args.retain_age)
        except ValueError as exc:
            fail(f"--redis: {exc}")
            return ExitCode.USAGE
        try:
            await log.connect()
        except EventLogError as exc:
            await log.close()
            fail(str(exc))
            return ExitCode.UNAVAILABLE
        return log
    try:
        return SqliteEventLog(db, retain=retain, retain_age=args.retain_age, fsync=args.fsync)
    except (sqlite3.Error, OSError) as exc:
        fail(f"cannot open the event log {db}: {exc}")
        return ExitCode.FAILURE


async def _serve(args: argparse.Namespace) -> int:
    from app.config.paths import app_paths
    from app.config.secrets import SecretMissing, load_or_create
    from app.gateway.demo import DEMO_WALLET
    from app.gateway.log import EventLogError
    from app.gateway.server import Gateway, GatewayConfig, TlsUnusable
    from app.gateway.simulator import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    paths = app_paths()
    try:
        secrets = load_or_create(paths.gateway_dir)
    except (SecretMissing, OSError) as exc:
        fail(f"cannot prepare the gateway's secrets: {exc}")
        return ExitCode.FAILURE
    opened = await _open_log(args, args.db or paths.gateway_db)
    if isinstance(opened, int):
        return opened
    log = opened

    config = GatewayConfig(
        host=args.host,
        port=args.port,
        heartbeat=args.heartbeat,
        secrets=secrets,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        siwe_domains=tuple(args.siwe_domain),
        allowed_origins=tuple(args.allow_origin),
        trusted_proxies=tuple(args.trust_proxy),
        max_connections_per_ip=args.max_connections_per_ip,
        max_connections_per_wallet=args.max_connections_per_wallet,
        frame_rate=args.frame_rate,
    )
    gateway = Gateway(config, log)
    try:
        await gateway.start()
    except TlsUnusable as exc:
        await log.close()
        fail(str(exc))
        return ExitCode.FAILURE
    except EventLogError as exc:
        await log.close()
        fail(str(exc))
        return ExitCode.UNAVAILABLE
    except OSError as exc:
        await log.close()
        where = f"{args.host}:{args.port}"
        if exc.errno == errno.EADDRINUSE:
            fail(f"cannot listen on {where}: address already in use")
        else:
            fail(f"cannot listen on {where}: {exc.strerror or exc}")
        return ExitCode.UNAVAILABLE

    print(f"seller-notifier gateway listening on {gateway.url}", file=sys.stderr, flush=True)
    simulating: asyncio.Task[None] | None = None
    if args.simulate:
        simulator = Simulator(args.wallets or [DEMO_WALLET], rate=args.rate)
        simulating = asyncio.create_task(simulator.run(gateway.publish))
        simulating.add_done_callback(lambda _: stop.set())
    try:
        await stop.wait()
    finally:
        if simulating is not None:
            simulating.cancel()
            await asyncio.gather(simulating, return_exceptions=True)
        await gateway.close()
    if simulating is not None and not simulating.cancelled() and simulating.exception():
        fail(f"the simulator stopped: {simulating.exception()}")
        return ExitCode.FAILURE
    return ExitCode.OK


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0–65535)")
    return port


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value
