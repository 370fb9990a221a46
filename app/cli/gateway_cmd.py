"""``seller-notifier gateway``: run the gateway until SIGINT or SIGTERM.

Prints ``seller-notifier gateway listening on ws://HOST:PORT`` on stderr once
it accepts connections (with ``--port 0`` that line tells the chosen port).
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
from typing import Any

from app.cli.arguments import ExitCode, fail, wallet_argument


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the notification gateway",
        description=(
            "Run the gateway: devices connect with a token (see `token`), backends "
            "publish events (see `publish`). Its secrets are created on first start."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--port", type=_port, default=8765, help="TCP port; 0 picks a free one (default 8765)"
    )
    parser.add_argument("--db", type=Path, help="event log file (default: in the data folder)")
    parser.add_argument(
        "--heartbeat", type=_positive_float, default=20.0, metavar="S",
        help="seconds between pings to each connection (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--retain", type=_positive_int, default=None, metavar="N",
        help="events kept per wallet for replay (default 100000)",
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
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The websockets library's own lines repeat ours; keep its warnings only.
    logging.getLogger("seller_notifier.gateway.websockets").setLevel(logging.WARNING)
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from app.config.paths import app_paths
    from app.config.secrets import SecretMissing, load_or_create
    from app.gateway.bus.sqlite import DEFAULT_RETAIN, SqliteEventLog
    from app.gateway.demo import DEMO_WALLET
    from app.gateway.server import Gateway, GatewayConfig
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
    db: Path = args.db or paths.gateway_db
    try:
        log = SqliteEventLog(db, retain=args.retain or DEFAULT_RETAIN)
    except (sqlite3.Error, OSError) as exc:
        fail(f"cannot open the event log {db}: {exc}")
        return ExitCode.FAILURE

    config = GatewayConfig(
        host=args.host, port=args.port, heartbeat=args.heartbeat, secrets=secrets
    )
    gateway = Gateway(config, log)
    try:
        await gateway.start()
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
