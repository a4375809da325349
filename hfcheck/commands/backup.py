"""`hfcheck backup`: back up tweets whose media were never (or only partly) backed up."""

from __future__ import annotations

import click

from hfcheck.atomic import write_json_atomic
from hfcheck.backup import BackupOptions, BackupSummary, run_backup
from hfcheck.cli import common_options, run_async
from hfcheck.config import Config
from hfcheck.errors import EXIT_OK, EXIT_PROBLEMS

REPORT_NAME = "backup_report.json"

LABELS = {
    "en": ["Tweets", "completed", "error", "Files succeeded", "Files failed", "Downloaded", "Gone at the source", "Commits", "Bytes uploaded"],
    "ja": ["対象ツイート", "完了", "エラー", "成功ファイル", "失敗ファイル", "ダウンロード", "取得元で消失", "コミット数", "アップロード量 (bytes)"],
}


def summary_text(s: BackupSummary, lang: str) -> str:
    values = [s.tweets, s.tweets_completed, s.tweets_error, s.files_succeeded, s.files_failed, s.files_downloaded, len(s.gone_at_source), s.commits, s.bytes_uploaded]
    title = {"en": "== Backup ==", "ja": "== バックアップ結果 =="}[lang]
    if s.dry_run:
        title = {"en": "== Backup plan (dry run: nothing was changed) ==", "ja": "== バックアップ計画（ドライラン：何も変更していません）=="}[lang]
    return "\n".join([title, *(f"{label}: {v:,}" for label, v in zip(LABELS[lang], values))])


@click.command()
@common_options
@click.option("--user", help="Only this account.")
@click.option("--limit", type=click.IntRange(1), help="At most N tweets.")
@click.option("--dry-run", is_flag=True, help="Print the plan; download, upload and change nothing.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel encrypt tasks.")
@click.option("--allow-host", "allow_hosts", multiple=True, help="Also download from this host (repeatable; host or host:port).")
@click.option("--resume", is_flag=True, help="Finish an interrupted backup (backup is idempotent: the same as running again).")
def backup(cfg: Config, user: str | None, limit: int | None, dry_run: bool, concurrency: int, allow_hosts: tuple[str, ...], resume: bool) -> int:
    """Back up every tweet with media and no (or a partial) backup.

    Media missing locally are downloaded from their URL (allowed hosts only), then encrypted,
    uploaded in batched commits to the first configured repo with room, and recorded.
    Exit codes: 0 all backed up, 1 some tweets failed, 2 usage error, 3 could not complete.
    """
    del resume
    if allow_hosts:
        import dataclasses

        cfg = dataclasses.replace(cfg, allowed_hosts=cfg.allowed_hosts + allow_hosts)
    opts = BackupOptions(user=user, limit=limit, dry_run=dry_run, concurrency=concurrency, echo=click.echo)
    box: list[BackupSummary] = []

    async def go() -> int:
        box.append(await run_backup(cfg, opts))
        return 0

    rc = run_async(go())
    if not box:
        return rc
    summary = box[0]
    click.echo(summary_text(summary, cfg.lang))
    if not dry_run:
        write_json_atomic(cfg.data_dir / REPORT_NAME, {"tool": "hfcheck backup", **summary.to_dict()})
    return EXIT_PROBLEMS if summary.tweets_error else EXIT_OK
