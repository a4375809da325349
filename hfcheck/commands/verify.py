"""`hfcheck verify`: check every recorded backup URL; with --check-missing, find the gaps."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hfcheck.cli import common_options, run_async, show_progress_bar
from hfcheck.commands.options import add_deep_options
from hfcheck.config import Config
from hfcheck.net.hub import Hub
from hfcheck.readback.deep import run_deep
from hfcheck.readback.deep_result import DeepResult, combined_exit_code
from hfcheck.readback.keycheck import require_key
from hfcheck.readback.sample import DEFAULT_VERIFY_SAMPLE, Sample
from hfcheck.report.catalog import t
from hfcheck.report.text import deep_summary, gaps_summary, verify_summary, write_report
from hfcheck.verify.checkpoint import verify_report
from hfcheck.verify.pipeline import VerifyOptions, VerifyResult, run_verify

REPORT_NAME = "verify_report.json"


def exit_code(result: VerifyResult) -> int:
    """0 all present; 1 problems found; 3 could not complete (`VerifyResult.exit_code`)."""
    return result.exit_code


async def _verify(cfg: Config, opts: VerifyOptions, deep: Sample | None) -> tuple[VerifyResult, DeepResult | None]:
    """verify, and with a `deep` sample the read-back, inside the run's one Hub. A wrong key
    is refused before verify's hours."""
    async with Hub(cfg, concurrency=opts.concurrency) as hub:
        key = await require_key(cfg, hub=hub, writing=False) if deep else None
        result = await run_verify(cfg, opts, hub)
        if deep is None:
            return result, None
        return result, await run_deep(cfg, deep, hub, progress=result.progress, key=key)


@click.command()
@common_options
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Parallel checks (default from config, 64).")
@click.option(
    "--method",
    type=click.Choice(["auto", "head", "list"]),
    default="auto",
    show_default=True,
    help="HEAD each URL, list each repo once, or pick the cheaper per repo.",
)
@click.option("--resume", is_flag=True, help="Continue from the progress file.")
@click.option("--limit", type=click.IntRange(1), help="Check at most N URLs (then --resume continues).")
@click.option("--batch-size", type=click.IntRange(1), help="With --delay: pause after every N URLs.")
@click.option("--delay", type=click.FloatRange(0), default=0.0, help="Seconds to pause after each batch.")
@click.option("--check-missing", is_flag=True, help="Also count tweets with media and no (or partial) backup.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="JSON report path (default DATA_DIR/verify_report.json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the summary.")
@click.option(
    "--checkpoint-interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Seconds between progress flushes.",
)
@add_deep_options
def verify(
    cfg: Config,
    concurrency: int | None,
    method: str,
    resume: bool,
    limit: int | None,
    batch_size: int | None,
    delay: float,
    check_missing: bool,
    report_path: Path | None,
    as_json: bool,
    checkpoint_interval: float,
    deep: bool,
    sample: Sample | None,
) -> int:
    """Check every recorded backup URL against the Hub.

    Categories: present, missing, wrong_path, repo_not_found, no_access, malformed, unverified.
    With --deep (or --sample): also read a sample back, decrypt it and compare with the local
    files; categories deep_ok, differs, decrypt_failed, local_missing, missing, unverified.
    Exit codes: 0 all present, 1 problems found, 2 usage error, 3 could not complete.
    """
    cfg.require("db")
    deep = deep or sample is not None
    if deep:
        cfg.require("media_root", "key_file")
    opts = VerifyOptions(
        concurrency=concurrency or cfg.concurrency,
        method=method,
        resume=resume,
        limit=limit,
        batch_size=batch_size,
        delay=delay,
        check_missing=check_missing,
        checkpoint_interval=checkpoint_interval,
        progress_bar=show_progress_bar() and not as_json,
    )
    chosen = (sample or Sample.parse(DEFAULT_VERIFY_SAMPLE)) if deep else None
    result, deep_result = run_async(_verify(cfg, opts, chosen))
    report = verify_report(result.progress, result.gaps, result.stats)
    if deep_result is not None:
        report["deep"] = deep_result.to_dict()
    path = report_path or cfg.data_dir / REPORT_NAME
    write_report(path, report)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        click.echo(verify_summary(result.progress, cfg.lang))
        if result.gaps is not None:
            click.echo(gaps_summary(result.gaps, cfg.lang))
        if deep_result is not None:
            click.echo(deep_summary(deep_result, cfg.lang))
        click.echo(f"{t('report_at', cfg.lang)}: {path}")
    return combined_exit_code(exit_code(result), deep_result)
