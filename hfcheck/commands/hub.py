"""`hfcheck hub serve`: the local Hugging Face Hub emulator (see docs/emulator.md)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hfcheck.cli import require_emulator, run_async
from hfcheck.errors import ConfigError
from hfcheck.report.catalog import msg
from hfcheck.sim.emulator.faults import DEFAULT_EXEMPT

if TYPE_CHECKING:
    from hfcheck.sim.emulator.server import ServerOptions


@click.group()
def hub() -> None:
    """Run the local Hub emulator."""


def _parse_users(values: tuple[str, ...]) -> dict[str, str]:
    users: dict[str, str] = {}
    for value in values:
        name, sep, token = value.partition(":")
        if not sep or not name or not token:
            raise ConfigError(msg("err_hub_user"))  # never echo the value: it holds a token
        users[name] = token
    return users


def _rate(name: str, value: float) -> float:
    if not 0 <= value <= 1:
        raise ConfigError(msg("err_hub_rate", name=name, value=value))
    return value


@hub.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port (0 = pick a free one).")
@click.option(
    "--data", "data_dir", required=True, type=click.Path(path_type=Path), help="State directory (created if missing)."
)
@click.option("--user", "users", multiple=True, metavar="NAME:TOKEN", help="A user and its token (repeatable).")
@click.option("--admin-token", default=None, help="Token allowed to read and write every repo.")
@click.option("--cdn-host", default=None, help="Host of LFS redirects (default: 127.0.0.1 <-> localhost).")
@click.option("--latency-ms", default=0.0, type=float, help="Added latency per request.")
@click.option("--jitter-ms", default=0.0, type=float, help="Random extra latency, uniform in [0, jitter].")
@click.option("--error-rate", default=0.0, type=float, help="Share of requests answered 500/502/503/504.")
@click.option("--reset-rate", default=0.0, type=float, help="Share of connections closed without an answer.")
@click.option(
    "--fault-exempt",
    default=",".join(DEFAULT_EXEMPT),
    show_default=True,
    help="Endpoint kinds spared by random faults (comma list).",
)
@click.option("--fault-seed", default=None, type=int, help="Seed for reproducible faults.")
@click.option(
    "--lose-commit-answers",
    default=0,
    type=click.IntRange(0),
    help="The next N commits are applied, then their answer is lost (connection reset).",
)
@click.option("--rate-window", default=300.0, show_default=True, type=float, help="Rate-limit window in seconds.")
@click.option("--quota-api", default=None, type=int, help="Requests per window for the api bucket (default unlimited).")
@click.option("--quota-resolvers", default=None, type=int, help="Requests per window for resolve HEAD/GET.")
@click.option("--quota-commits", default=None, type=int, help="Commits per window.")
@click.option("--no-xet", "no_xet", is_flag=True, help="Serve the LFS-only Hub: no Xet tokens, CAS or bridge host.")
def serve(data_dir: Path, users: tuple[str, ...], host: str, port: int, **opts: Any) -> int:
    """Serve dataset repos under --data; prints the base URL once listening."""
    require_emulator("hub serve")
    from hfcheck.sim.emulator.faults import FaultConfig
    from hfcheck.sim.emulator.server import ServerOptions

    if not 0 <= port <= 65535:
        raise ConfigError(msg("err_hub_port", port=port))
    for flag in ("latency_ms", "jitter_ms"):
        if float(opts[flag]) < 0:
            raise ConfigError(msg("err_hub_not_negative", flag="--" + flag.replace("_", "-")))
    if float(opts["rate_window"]) <= 0:
        raise ConfigError(msg("err_hub_rate_window"))
    quotas = {b: opts[f"quota_{b}"] for b in ("api", "resolvers", "commits")}
    if any(q is not None and q < 0 for q in quotas.values()):
        raise ConfigError(msg("err_hub_quotas"))
    options = ServerOptions(
        host=host,
        port=port,
        users=_parse_users(users),
        admin_token=opts["admin_token"],
        cdn_host=opts["cdn_host"],
        faults=FaultConfig(
            latency_ms=float(opts["latency_ms"]),
            jitter_ms=float(opts["jitter_ms"]),
            error_rate=_rate("--error-rate", float(opts["error_rate"])),
            reset_rate=_rate("--reset-rate", float(opts["reset_rate"])),
            exempt=[k for k in str(opts["fault_exempt"]).split(",") if k],
            seed=opts["fault_seed"],
            lose_commit_answers=int(opts["lose_commit_answers"]),
        ),
        window_s=float(opts["rate_window"]),
        quotas=quotas,
        xet=not opts["no_xet"],
    )
    return run_async(_serve(data_dir, options))


async def _serve(data_dir: Path, options: ServerOptions) -> int:
    from hfcheck.sim.emulator.server import start_server
    from hfcheck.sim.emulator.store import Store

    try:
        store = Store(data_dir)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            msg("err_hub_data", path=data_dir, error=getattr(exc, "strerror", None) or str(exc))
        ) from None
    try:
        runner, url = await start_server(store, options)
    except OSError as exc:
        raise ConfigError(
            msg("err_hub_listen", host=options.host, port=options.port, error=exc.strerror or str(exc))
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(url, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        store.close()
    print("hub emulator stopped", file=sys.stderr, flush=True)
    return 0
