"""`hfcheck migrate`: re-encrypt the backups into another scheme, keeping every tweet restorable."""

from __future__ import annotations

import click

from hfcheck.atomic import write_json_atomic
from hfcheck.cli import common_options, parsed_by, run_async, show_progress_bar
from hfcheck.config import BUILTIN_SCHEMES, Config, parse_scheme
from hfcheck.errors import EXIT_OK, EXIT_PROBLEMS
from hfcheck.model.outcomes import UploadSource
from hfcheck.model.paths import BUCKET_PREFIX, destination_id
from hfcheck.report.catalog import t
from hfcheck.report.text import run_summary
from hfcheck.write.migrate import MigrateOptions, run_migrate

REPORT_NAME = "migrate_report.json"


@click.command()
@common_options
@click.option(
    "--to",
    "to",
    required=True,
    callback=parsed_by(lambda v: destination_id(v) if str(v).startswith(BUCKET_PREFIX) else parse_scheme(v)),
    metavar="SCHEME|hf://buckets/NS/NAME",
    help=f"The scheme to re-encrypt into: {' | '.join(BUILTIN_SCHEMES)} | python:package.module:attr; "
    "or a Storage Bucket to move the dataset repos' backups into (server-side copies, same bytes).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing anywhere.")
@click.option("--limit", type=click.IntRange(1), help="Migrate at most N tweets (run again for the rest).")
@click.option(
    "--delete-old", is_flag=True, help="Then delete old files whose replacement is committed, read back and recorded."
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel tweets.")
def migrate(cfg: Config, to: str, dry_run: bool, limit: int | None, delete_old: bool, concurrency: int) -> int:
    """Re-encrypt backups into scheme --to: from the local file (else the old backup, read
    back), uploaded under the new name, read back, and only then recorded in the row; the old
    file is deleted only with --delete-old, in a later commit. Resumable: run it again.

    Exit codes: 0 done, 1 some tweets failed (they keep their old, working URL), 2 usage error,
    3 could not complete (a repo the Hub could not answer for left its tweets as they were).
    """
    opts = MigrateOptions(
        to=to,
        dry_run=dry_run,
        limit=limit,
        delete_old=delete_old,
        concurrency=concurrency,
        echo=click.echo,
        progress_bar=show_progress_bar(),
    )
    if to.startswith(BUCKET_PREFIX):
        from hfcheck.write.move import run_move

        result = run_async(run_move(cfg, opts, to))
    else:
        result = run_async(run_migrate(cfg, opts))
    click.echo(run_summary(UploadSource.MIGRATE, result.run, cfg.lang))
    click.echo(t("migrate_already", cfg.lang, scheme=to, n=result.already))
    if not dry_run:
        click.echo(t("migrate_recorded", cfg.lang, scheme=to, n=result.recorded))
    if delete_old and (dry_run or result.deletable > result.deleted):
        click.echo(t("migrate_deletable", cfg.lang, n=result.deletable - result.deleted))
    if result.deleted:
        click.echo(t("migrate_deleted", cfg.lang, n=result.deleted, commits=result.delete_commits))
    for reason in result.errors:
        click.echo(t("run_error_line", cfg.lang, reason=reason), err=True)
    if not dry_run:
        write_json_atomic(cfg.data_dir / REPORT_NAME, {"tool": "hfcheck migrate", **result.to_dict()})
    return EXIT_PROBLEMS if result.errors and result.run.exit_code == EXIT_OK else result.run.exit_code
