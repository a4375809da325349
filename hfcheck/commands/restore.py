"""`hfcheck restore`: download and decrypt backups into the local layout under --out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from hfcheck.atomic import write_json_atomic
from hfcheck.cli import common_options, run_async, show_progress_bar
from hfcheck.config import Config
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS
from hfcheck.readback.restore import REPO_LEVEL, RestoreOutcome, RestoreSummary, Selection, run_restore
from hfcheck.report.catalog import label, t
from hfcheck.report.text import repo_problem_lines

REPORT_NAME = "restore_report.json"


def exit_code(summary: RestoreSummary) -> int:
    """3 when the Hub could not answer for some files (repo, revision, access, network); 1 only
    when some files are proven lost (missing, do not decrypt)."""
    if summary.counts["incomplete"]:
        return EXIT_INCOMPLETE
    return EXIT_PROBLEMS if summary.counts["failed"] else EXIT_OK


def summary_text(summary: RestoreSummary, lang: str) -> str:
    rows = [(t("restore_tweets", lang), summary.tweets)] + [
        (t(f"restore_{k}", lang), summary.counts[k]) for k in ("restored", "exists", "failed", "incomplete")
    ]
    lines = [t("restore_title", lang), *(f"{label}: {value:,}" for label, value in rows)]
    return "\n".join(lines + repo_problem_lines(summary.repo_problems.values(), lang))


# The categories whose detail is the Hub's own answer: quoted as is, in a Japanese frame.
HUB_DETAIL = {"missing", "repo_not_found", "revision_not_found", "no_access", "failed"}


def problem_line(o: RestoreOutcome, lang: str) -> str:
    """One line per failed file: tweet id, index, where it would have gone, why. In Japanese the
    category's word, and the detail quoted when it is the Hub's answer (our own English detail
    stays in restore_report.json)."""
    return t(
        "restore_failed_line_hub" if o.category in HUB_DETAIL and o.detail else "restore_failed_line",
        lang,
        tweet_id=o.tweet_id,
        index=o.index,
        where=o.local or o.url,
        category=label("why", o.category, lang),
        detail=o.detail,
    )


@click.command()
@common_options
@click.option("--tweet", "tweets", multiple=True, help="Restore this tweet's backups (repeatable).")
@click.option("--user", help="Restore every backup of this account.")
@click.option("--all", "everything", is_flag=True, help="Restore every recorded backup.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder: images/{user}/… and videos/{user}/… are created under it.",
)
@click.option("--overwrite", is_flag=True, help="Replace files already in the output folder (default: keep them).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="Parallel downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the summary.")
def restore(
    cfg: Config,
    tweets: tuple[str, ...],
    user: str | None,
    everything: bool,
    out: Path,
    overwrite: bool,
    concurrency: int,
    as_json: bool,
) -> int:
    """Download backups and decrypt them into OUT (images/USER/ID_I.EXT, videos/...).

    A file appears under its final name only after every chunk verified; a ciphertext that
    fails authentication is reported and nothing is written for it. Interrupted downloads
    continue (HTTP Range) on the next run. Exit codes: 0 all restored, 1 some files are lost
    (missing, do not decrypt), 2 usage error, 3 could not complete (the Hub could not answer).
    """
    sel = Selection(tuple(tweets), user, everything).validate()
    bar = show_progress_bar() and not as_json

    def show(o: RestoreOutcome) -> None:
        if o.status in ("failed", "incomplete") and o.category not in REPO_LEVEL and not as_json:
            if bar:
                tqdm.write(problem_line(o, cfg.lang), file=sys.stderr)  # above the bar
            else:
                click.echo(problem_line(o, cfg.lang), err=True)

    summary = run_async(
        run_restore(cfg, sel, out, concurrency=concurrency, overwrite=overwrite, on_outcome=show, progress_bar=bar)
    )
    report = {"tool": "hfcheck restore", "out": str(out), **summary.to_dict()}
    path = cfg.data_dir / REPORT_NAME
    write_json_atomic(path, report)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        click.echo(summary_text(summary, cfg.lang))
        click.echo(f"{t('report_at', cfg.lang)}: {path}")
    return exit_code(summary)
