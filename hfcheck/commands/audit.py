"""`hfcheck audit` (`make full-audit`): read-only verify + gaps + deep sample + plan, as reports."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click

from hfcheck.cli import common_options, given_flags, run_async, show_progress_bar
from hfcheck.commands.options import sample_option
from hfcheck.config import Config
from hfcheck.db.gaps import GapSummary
from hfcheck.net.hub import Hub
from hfcheck.readback.audit import HTML_NAME, JSON_NAME, AuditOptions, AuditResult, run_audit
from hfcheck.readback.deep_result import DeepResult
from hfcheck.readback.sample import Sample
from hfcheck.report.catalog import count, label, t
from hfcheck.report.text import deep_summary, gaps_summary, verify_summary, write_audit_reports
from hfcheck.verify.checkpoint import Progress


def summary_text(report: dict[str, Any], deep_result: DeepResult, lang: str) -> str:
    """Verify's summary and gaps as `verify` prints them, then the deep line and the plan."""
    v = report["verify"]
    progress = Progress(
        identity={},
        complete=v["complete"],
        counts=Counter(v["counts"]),
        repo_problems={f"{r['repo_id']}@{r['revision']}": r for r in v["repo_problems"]},
        row_problems=v["row_problems"],
    )
    lines = [verify_summary(progress, lang), gaps_summary(GapSummary(**report["gaps"]), lang)]
    lines.append(deep_summary(deep_result, lang))
    cov = report.get("headline", {}).get("coverage", {})
    if cov.get("unknown"):
        lines.append(t("audit_coverage_unknown", lang))
    elif cov.get("share") is not None:
        lines.append(
            t("audit_coverage", lang).format(
                n=cov["audits"], share=f"{100 * cov['share']:.1f}%", covered=cov["covered"], total=cov["candidates"]
            )
        )
    if report["plan"]:
        lines.append(f"== {t('audit_plan', lang)} ==")
        for item in report["plan"]:
            counts = [
                count(noun, item[noun + "s"], lang) for noun in ("file", "tweet") if item.get(noun + "s") is not None
            ]
            lines.append(
                t("plan_item", lang, kind=label("kind", item["kind"], lang), counts=t("list_sep", lang).join(counts))
            )
            lines += [f"    {cmd}" for cmd in item["commands"][:3]] or [t("plan_deleted_on_x", lang)]
    return "\n".join(lines)


async def _audit(cfg: Config, opts: AuditOptions) -> AuditResult:
    """The audit inside the run's one Hub: verify, the key check and the read-back share its
    session and rate-limit buckets."""
    async with Hub(cfg, concurrency=opts.concurrency) as hub:
        return await run_audit(cfg, opts, hub)


@click.command()
@common_options
@click.option(
    "--resume", is_flag=True, help="Continue the last verify from its progress file instead of starting fresh."
)
@click.option(
    "--sample",
    "sample",
    callback=sample_option,
    metavar="n/t|P%|all",
    help="Deep read-back sample (default: the next 1/20 slice; 20 audits cover every file).",
)
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Parallel URL checks (default from config, 64).")
@click.option(
    "--deep-concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel read-back downloads."
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the summary.")
def audit(
    cfg: Config, resume: bool, sample: Sample | None, concurrency: int | None, deep_concurrency: int, as_json: bool
) -> int:
    """Full read-only audit: verify every URL, count gaps, read back a sample, write
    DATA_DIR/audit_report.json and DATA_DIR/audit_report.html with the commands to run.

    Changes nothing on the Hub, in the database or in the local media.
    Exit codes: 0 complete, 1 problems found, 2 usage error, 3 could not complete.
    """
    opts = AuditOptions(
        resume=resume,
        sample=sample,
        concurrency=concurrency or cfg.concurrency,
        deep_concurrency=deep_concurrency,
        flags=given_flags(),
        progress_bar=show_progress_bar() and not as_json,
    )
    result = run_async(_audit(cfg, opts))
    write_audit_reports(cfg.data_dir, result.report, cfg.lang, result.history)
    report = result.report
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        click.echo(summary_text(report, result.deep, cfg.lang))
        click.echo(f"{t('report_at', cfg.lang)}: {cfg.data_dir / JSON_NAME}")
        click.echo(f"{t('audit_html', cfg.lang)}: {cfg.data_dir / HTML_NAME}")
    return result.exit_code
