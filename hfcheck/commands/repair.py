"""`hfcheck repair`: fix what verify found (missing, wrong path) and lost media lists."""

from __future__ import annotations

import click

from hfcheck.atomic import write_json_atomic
from hfcheck.cli import common_options, run_async, show_progress_bar
from hfcheck.config import Config
from hfcheck.model.outcomes import UploadSource
from hfcheck.report.text import run_summary
from hfcheck.write.repair import RepairOptions, run_repair

REPORT_NAME = "repair_report.json"


@click.command()
@common_options
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing anywhere.")
@click.option("--limit", type=click.IntRange(1), help="Repair at most N tweets.")
@click.option("--file-type", type=click.Choice(["images", "videos"]), help="Only files of this type.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel encrypt tasks.")
@click.option(
    "--resume",
    is_flag=True,
    help="Finish an interrupted repair (repair is idempotent: this is the same as running again).",
)
def repair(cfg: Config, dry_run: bool, limit: int | None, file_type: str | None, concurrency: int, resume: bool) -> int:
    """Re-encrypt and re-upload missing files, fix wrong paths, recover empty media lists.

    Reads the problems of the last verify (data/hf_url_check_progress.json; runs verify when
    there is none). The database changes only after the Hub confirmed the commit.
    Exit codes: 0 all repaired, 1 some tweets failed, 2 usage error, 3 could not complete (a repo
    the Hub could not answer for left its files unrepaired; each is named once).
    """
    del resume  # every step checks what is already done; the flag documents the intent
    cfg.require("db", "media_root", "key_file", "repos")
    opts = RepairOptions(
        dry_run=dry_run,
        limit=limit,
        file_type=file_type,
        concurrency=concurrency,
        echo=click.echo,
        progress_bar=show_progress_bar(),
    )
    summary = run_async(run_repair(cfg, opts))
    click.echo(run_summary(UploadSource.REPAIR, summary, cfg.lang))
    if not dry_run:
        write_json_atomic(cfg.data_dir / REPORT_NAME, {"tool": "hfcheck repair", **summary.to_dict()})
    return summary.exit_code
