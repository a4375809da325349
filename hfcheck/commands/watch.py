"""`hfcheck watch`: the service that backs up new tweets, audits on a schedule and alerts (docs/watch.md)."""

from __future__ import annotations

import dataclasses

import click

from hfcheck.cli import common_options, given_flags, parsed_by, run_async
from hfcheck.config import Config, parse_duration


@click.command()
@common_options
@click.option(
    "--interval", type=click.FloatRange(0.05), help="Seconds between polls of the archive (default watch.interval, 60)."
)
@click.option(
    "--once", is_flag=True, help="One poll: back up what it finds, audit if one is due, exit (for cron and timers)."
)
@click.option(
    "--audit-every",
    callback=parsed_by(parse_duration),
    metavar="DURATION",
    help="Read-only audit this often: 24h, 30m, 90s; 0 = never (default watch.audit_every).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics; 0 = off (default watch.metrics_port).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics endpoint listens on.")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel download/encrypt tasks."
)
@click.option(
    "--allow-host", "allow_hosts", multiple=True, help="Also download from this host (repeatable; host or host:port)."
)
def watch(
    cfg: Config,
    interval: float | None,
    once: bool,
    audit_every: float | None,
    metrics_port: int | None,
    metrics_host: str,
    concurrency: int,
    allow_hosts: tuple[str, ...],
) -> int:
    """Keep the archive whole: back up new tweets as the scraper writes them, audit the backup
    on a schedule, alert through [notify] and serve metrics.

    Runs until SIGTERM or Ctrl-C (the commit in flight is finished first; exit 0).
    --once exits like `backup`: 0 all backed up, 1 some tweets failed or the audit found
    problems, 3 could not complete; 2 is a usage or configuration error.
    """
    from hfcheck.watch.service import WatchOptions, WatchService

    if allow_hosts:
        cfg = dataclasses.replace(cfg, allowed_hosts=cfg.allowed_hosts + allow_hosts)
    opts = WatchOptions(
        interval=interval if interval is not None else cfg.watch.interval,
        once=once,
        audit_every=audit_every if audit_every is not None else cfg.watch.audit_every,
        metrics_port=metrics_port if metrics_port is not None else cfg.watch.metrics_port,
        metrics_host=metrics_host,
        concurrency=concurrency,
        flags=given_flags(),
        echo=lambda line: click.echo(line),
    )
    return run_async(WatchService(cfg, opts).run())
