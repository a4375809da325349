"""`hfcheck backup`: back up tweets whose media were never (or only partly) backed up."""

from __future__ import annotations

import dataclasses

import click

from hfcheck.atomic import write_json_atomic
from hfcheck.cli import common_options, run_async, show_progress_bar
from hfcheck.config import Config
from hfcheck.model.outcomes import UploadSource
from hfcheck.report.text import run_summary
from hfcheck.write.backup import BackupOptions, run_backup

REPORT_NAME = "backup_report.json"


@click.command()
@common_options
@click.option("--user", help="Only this account.")
@click.option("--limit", type=click.IntRange(1), help="At most N tweets.")
@click.option("--dry-run", is_flag=True, help="Print the plan; download, upload and change nothing.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel encrypt tasks.")
@click.option(
    "--allow-host", "allow_hosts", multiple=True, help="Also download from this host (repeatable; host or host:port)."
)
@click.option(
    "--resume", is_flag=True, help="Finish an interrupted backup (backup is idempotent: the same as running again)."
)
def backup(
    cfg: Config,
    user: str | None,
    limit: int | None,
    dry_run: bool,
    concurrency: int,
    allow_hosts: tuple[str, ...],
    resume: bool,
) -> int:
    """Back up every tweet with media and no (or a partial) backup.

    Media missing locally are downloaded from their URL (allowed hosts only), then encrypted,
    uploaded in batched commits to the first configured repo with room, and recorded.
    Exit codes: 0 all backed up, 1 some tweets failed, 2 usage error, 3 could not complete.
    """
    del resume  # every step checks what is already done; the flag documents the intent
    if allow_hosts:
        cfg = dataclasses.replace(cfg, allowed_hosts=cfg.allowed_hosts + allow_hosts)
    opts = BackupOptions(
        user=user,
        limit=limit,
        dry_run=dry_run,
        concurrency=concurrency,
        echo=click.echo,
        progress_bar=show_progress_bar(),
    )
    summary = run_async(run_backup(cfg, opts))
    click.echo(run_summary(UploadSource.BACKUP, summary, cfg.lang))
    if not dry_run:
        write_json_atomic(cfg.data_dir / REPORT_NAME, {"tool": "hfcheck backup", **summary.to_dict()})
    return summary.exit_code
