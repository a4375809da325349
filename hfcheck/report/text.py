"""Reports, apart from checking: the summary people read and the JSON report machines read."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hfcheck.atomic import write_bytes_atomic, write_json_atomic
from hfcheck.db.gaps import GapSummary
from hfcheck.model.outcomes import RunSummary, UploadSource
from hfcheck.readback.deep_result import PROBLEM_CATEGORIES, DeepResult, RecordedComparison
from hfcheck.report.catalog import count, t
from hfcheck.verify.checkpoint import Progress


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _lines(rows: list[tuple[str, int]]) -> list[str]:
    w = max(_width(label) for label, _ in rows)
    return [f"{label}{' ' * (w - _width(label))}  {value:>10,}" for label, value in rows]


def verify_summary(progress: Progress, lang: str) -> str:
    """The users' summary: total, present, missing (wrong paths among them), then the rest."""
    c = progress.counts
    rows = [
        (t("total", lang), c["total"]),
        (t("present", lang), c["present"]),
        (t("missing_all", lang), c["missing"] + c["wrong_path"]),
        (t("wrong_path", lang), c["wrong_path"]),
    ]
    rows += [
        (t(k, lang), c[k])
        for k in ("repo_not_found", "revision_not_found", "no_access", "malformed", "unverified")
        if c[k]
    ]
    if progress.row_problems:
        rows.append((t("row_problems", lang), len(progress.row_problems)))
    out = [
        f"== {t('verify_title', lang)} ==",
        *_lines(rows),
        *repo_problem_lines(progress.repo_problems.values(), lang),
    ]
    if not progress.complete:
        out.append(t("incomplete", lang))
    return "\n".join(out)


def repo_problem_lines(problems: Iterable[dict[str, Any]], lang: str) -> list[str]:
    """One line per repo (and revision) the Hub could not answer for, with its reason: not one
    per URL. The same in verify, audit, repair, backup, migrate and restore."""
    return [
        f"{t('repo_problem', lang)}: {rp['repo_id']}@{rp['revision']}: {rp['category']}"
        f" ({rp['urls']:,} {t('urls', lang)}) — {rp['detail']}"
        for rp in problems
    ]


def gaps_summary(gaps: GapSummary, lang: str) -> str:
    rows = [(t(k, lang), getattr(gaps, k)) for k in ("unbacked", "partial", "unbacked_media", "empty_media")]
    out = [f"== {t('gaps_title', lang)} ==", *_lines(rows), t("gaps_total", lang, n=gaps.unbacked + gaps.partial)]
    if gaps.per_account:
        out.append(f"{t('per_account', lang)}:")
        for i, a in enumerate(gaps.per_account, 1):
            out.append(f"  {i:>2}. {a['username']!s:<16} {a['unbacked'] + a['partial']:>8,}")
    return "\n".join(out)


RUN_ROWS = (
    "run_tweets",
    "run_completed",
    "run_error",
    "run_files_succeeded",
    "run_files_failed",
    "run_downloaded",
    "run_gone",
    "run_commits",
    "run_bytes",
)


def run_summary(source: UploadSource, s: RunSummary, lang: str) -> str:
    """The summary of `repair` or `backup`, as the users' old repair script printed it: the
    table, then `完了: 成功 N件, 失敗 N件` (tweets completed / with an error)."""
    values = [
        s.tweets,
        s.tweets_completed,
        s.tweets_error,
        s.files_succeeded,
        s.files_failed,
        s.files_downloaded,
        len(s.gone_at_source),
        s.commits,
        s.bytes_uploaded,
    ]
    rows = [(t(key, lang), value) for key, value in zip(RUN_ROWS, values, strict=True)]
    title = t(f"run_title_{source}_dry" if s.dry_run else f"run_title_{source}", lang)
    out = [f"== {title} ==", *_lines(rows)]
    if not s.dry_run:
        out.append(t("run_done", lang, ok=s.tweets_completed, failed=s.tweets_error))
    if s.repo_problems:
        out += [*repo_problem_lines(s.repo_problems, lang), t("run_repo_problems", lang)]
    return "\n".join(out)


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_json_atomic(path, report)


def write_audit_reports(
    data_dir: Path, report: dict[str, Any], lang: str, history: list[dict[str, Any]] | None = None
) -> tuple[Path, Path]:
    """`audit_report.json` for machines, `audit_report.html` (self-contained) for people."""
    from hfcheck.readback.audit import HTML_NAME, JSON_NAME
    from hfcheck.report.html import render_audit_html

    json_path = data_dir / JSON_NAME
    html_path = data_dir / HTML_NAME
    write_json_atomic(json_path, report)
    write_bytes_atomic(html_path, render_audit_html(report, lang, history or []).encode("utf-8"))
    return json_path, html_path


def deep_summary(result: DeepResult, lang: str) -> str:
    """One line for the text summary of `verify --deep` and `audit`."""
    c = result.counts
    rec = result.recorded or RecordedComparison()
    bad = sum(c[k] for k in PROBLEM_CATEGORIES)
    sample = str(result.sample)
    return t(
        "deep_summary",
        lang,
        s=t("sample_all", lang) if sample == "all" else sample,
        n=count("file", result.checked, lang),
        ok=c["deep_ok"],
        bad=count("problem", bad, lang),
        unk=c["unverified"],
        rc=rec.compared,
        rd=rec.differs + rec.absent,
    )
