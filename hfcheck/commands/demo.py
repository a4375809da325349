"""`hfcheck demo init|run`: a built-in demo archive and the whole cycle run on it."""

from __future__ import annotations

from pathlib import Path

import click

from hfcheck.cli import require_emulator
from hfcheck.sim.demo import SCHEMES, build_demo
from hfcheck.sim.demo_cycle import free_port

SCHEME = click.option(
    "--scheme",
    type=click.Choice(SCHEMES),
    default="hfcheck-v1",
    show_default=True,
    help="How the archive's backups are encrypted (fernet: plain cryptography.fernet, as scrapers did).",
)


@click.group()
def demo() -> None:
    """Build a demo archive with planted damage, and run the whole cycle on it."""


@demo.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--tweets", type=click.IntRange(20), default=200, show_default=True, help="Size of the archive.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed: the same seed builds the same archive.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port the hub will be served on (default: a free one)."
)
@click.option(
    "--media-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port of the demo media server (default: a free one).",
)
@SCHEME
def init(directory: Path, tweets: int, seed: int, port: int, media_port: int, scheme: str) -> None:
    """Build DIRECTORY: database, local media, emulator state, key, config, planted counts."""
    require_emulator("demo init")
    port = port or free_port()
    plan = build_demo(
        directory,
        tweets=tweets,
        seed=seed,
        media_port=media_port or free_port(),
        endpoint=f"http://127.0.0.1:{port}",
        scheme=scheme,
    )
    click.echo(f"demo archive in {directory} ({scheme}): {sum(len(v) for v in plan.tweets.values())} tweets")
    click.echo(f"planted URL counts: {plan.counts}")
    click.echo(f"planted gaps: {plan.gaps}")


@demo.command("run")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--tweets", type=click.IntRange(20), default=200, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@SCHEME
def run(directory: Path, tweets: int, seed: int, scheme: str) -> int:
    """Build a fresh demo archive, serve it, and run: audit, repair, backup, audit, restore."""
    require_emulator("demo run")
    from hfcheck.sim.demo_cycle import run_cycle

    return run_cycle(directory, tweets=tweets, seed=seed, scheme=scheme)


@demo.command("serve")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
def serve(directory: Path) -> int:
    """Serve a built demo archive's Hub and media server (until Ctrl-C), so that the commands
    `demo run` printed run as printed."""
    require_emulator("demo serve")
    from hfcheck.sim.demo_cycle import serve as serve_demo

    return serve_demo(directory.resolve())
