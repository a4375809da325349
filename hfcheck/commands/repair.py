"""`hfcheck repair`: fix what verify found (missing, wrong path) and lost media lists."""

from __future__ import annotations

import click

from hfcheck.atomic import write_json_atomic
from hfcheck.cli import common_options, run_async
from hfcheck.config import Config
from hfcheck.errors import EXIT_OK, EXIT_PROBLEMS
from hfcheck.repair import RepairOptions, RepairSummary, run_repair

REPORT_NAME = "repair_report.json"


def summary_text(s: RepairSummary, lang: str) -> str:
    if lang == "ja":
        rows = [("対象ツイート", s.tweets), ("完了", s.tweets_completed), ("エラー", s.tweets_error), ("成功ファイル", s.files_succeeded), ("失敗ファイル", s.files_failed), ("コミット数", s.commits), ("アップロード量 (bytes)", s.bytes_uploaded)]
        title = "== 修復結果 ==" if not s.dry_run else "== 修復計画（ドライラン：何も変更していません）=="
    else:
        rows = [("Tweets", s.tweets), ("completed", s.tweets_completed), ("error", s.tweets_error), ("Files succeeded", s.files_succeeded), ("Files failed", s.files_failed), ("Commits", s.commits), ("Bytes uploaded", s.bytes_uploaded)]
        title = "== Repair ==" if not s.dry_run else "== Repair plan (dry run: nothing was changed) =="
    return "\n".join([title, *(f"{label}: {value:,}" for label, value in rows)])


@click.command()
@common_options
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing anywhere.")
@click.option("--limit", type=click.IntRange(1), help="Repair at most N tweets.")
@click.option("--file-type", type=click.Choice(["images", "videos"]), help="Only files of this type.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel encrypt tasks.")
@click.option("--resume", is_flag=True, help="Finish an interrupted repair (repair is idempotent: this is the same as running again).")
def repair(cfg: Config, dry_run: bool, limit: int | None, file_type: str | None, concurrency: int, resume: bool) -> int:
    """Re-encrypt and re-upload missing files, fix wrong paths, recover empty media lists.

    Reads the problems of the last verify (data/hf_url_check_progress.json; runs verify when
    there is none). The database changes only after the Hub confirmed the commit.
    Exit codes: 0 all repaired, 1 some tweets failed, 2 usage error, 3 could not complete.
    """
    del resume
    cfg.require("db", "media_root", "key_file", "repos")
    opts = RepairOptions(dry_run=dry_run, limit=limit, file_type=file_type, concurrency=concurrency, echo=click.echo)
    box: list[RepairSummary] = []

    async def go() -> int:
        box.append(await run_repair(cfg, opts))
        return 0

    rc = run_async(go())
    if not box:
        return rc
    summary = box[0]
    click.echo(summary_text(summary, cfg.lang))
    if not dry_run:
        write_json_atomic(cfg.data_dir / REPORT_NAME, {"tool": "hfcheck repair", **summary.to_dict()})
    return EXIT_PROBLEMS if summary.tweets_error else EXIT_OK
