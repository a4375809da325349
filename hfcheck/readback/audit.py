"""`make full-audit`: one read-only pass that says how complete the backup is, and what to run.

    verify (fresh unless --resume; gaps too) → recorded uploads vs listing → deep sample
      → per-account table → plan (repair / backup / restore commands) → data/audit_report.json
                                                                        + data/audit_report.html

Read-only by construction: the archive is opened with SQLite `mode=ro`; the Hub gets only
GET/HEAD requests (no commit can be made: no code path here calls one); local media are only
read (deep downloads go to a temporary folder). The only writes are under data_dir: verify's
progress file (the one `repair` reads), state.db's deep-check history, the slice counter, the
audit history and the two reports.

Deep sample: by default a rotating slice of DEFAULT_SLICES (1/20, then 2/20, … on the next
audits, remembered in data_dir/audit_deep_slice.json), so twenty audits read every file back
once — restic's `--read-data-subset n/t` — at a twentieth of the download cost per audit.

History: each audit appends its counts to data_dir/audit_history.json (the last MAX_HISTORY
audits), so the page can say since when the backup is safe and whether it gets better or worse.
Coverage: the share of present files whose latest read-back within the last COVERAGE_AUDITS
audits decrypted (state.db's `deep_checks` says when each file was last read back).
"""

from __future__ import annotations

import json
import shlex
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfcheck.atomic import write_json_atomic
from hfcheck.config import DEFAULT_CONFIG_NAME, Config
from hfcheck.db.archive import Archive
from hfcheck.db.gaps import GapSummary, gap_tweets_sql, unbacked_media_sql
from hfcheck.db.state import FINAL_ON_X, STATE_DB_NAME, StateDB
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS, InputError
from hfcheck.net.hub import Hub
from hfcheck.readback.deep import run_deep
from hfcheck.readback.deep_result import PROBLEM_CATEGORIES, DeepResult, combined_exit_code
from hfcheck.readback.keycheck import require_key
from hfcheck.readback.sample import Sample
from hfcheck.report.catalog import msg
from hfcheck.verify.checkpoint import now_iso, verify_report
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.pipeline import VerifyOptions, VerifyResult, run_verify

JSON_NAME = "audit_report.json"
HTML_NAME = "audit_report.html"
SLICE_STATE_NAME = "audit_deep_slice.json"
HISTORY_NAME = "audit_history.json"
MAX_HISTORY = 1000  # audits kept in the history (~250 bytes each): years of daily audits
COVERAGE_AUDITS = 20  # the rolling read-back's window: DEFAULT_SLICES audits read every file once
PROBLEM_KEYS = ("missing", "wrong_path", "malformed", "repo_not_found")  # verify counts that are damage
DEFAULT_SLICES = 20
MAX_COMMANDS_PER_KIND = 20  # per-tweet commands listed in the plan; the count is exact


@dataclass
class AuditOptions:
    resume: bool = False
    sample: Sample | None = None  # None: the next rotating 1/20 slice
    concurrency: int = 64
    deep_concurrency: int = 4
    flags: tuple[str, ...] = ()  # the user's own common flags (`cli.given_flags`), repeated in the plan
    progress_bar: bool = False
    seed: int | None = None


# --- deep slice rotation -----------------------------------------------------------------


def next_slice(data_dir: Path, t: int = DEFAULT_SLICES) -> Sample:
    """The slice after the one the previous audit read (1/t after t/t, or on a first audit)."""
    try:
        data = json.loads((data_dir / SLICE_STATE_NAME).read_text(encoding="utf-8"))
        last = int(data["n"]) if int(data["t"]) == t else 0
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        last = 0
    return Sample.parse(f"{last % t + 1}/{t}")


def remember_slice(data_dir: Path, sample: Sample) -> None:
    if sample.t is not None:
        write_json_atomic(data_dir / SLICE_STATE_NAME, {"n": sample.n, "t": sample.t, "at": now_iso()})


# --- per account ---------------------------------------------------------------------------


async def account_counts(archive: Archive) -> dict[str, dict[str, int]]:
    """Recorded URLs and gap tweets per account, counted in SQL (one pass, no rows in memory)."""
    c = archive.cfg.columns
    hf = f'"{c.huggingface_urls}"'
    n_hf = f"(CASE WHEN json_valid({hf}) AND json_type({hf}) = 'array' THEN json_array_length({hf}) ELSE 0 END)"
    kinds = ("unbacked", "partial", "empty_media", "unbacked_media")
    sums = ", ".join(
        f"coalesce(sum({gap_tweets_sql(archive, (k,)) if k != 'unbacked_media' else unbacked_media_sql(archive)}), 0)"
        for k in kinds
    )
    sql = (
        f'SELECT "{c.username}", count(*), coalesce(sum({n_hf}), 0), {sums}'
        f' FROM "{archive.cfg.table}" GROUP BY "{c.username}"'
    )
    out: dict[str, dict[str, int]] = {}
    for username, tweets, urls, *gaps in await archive.select(sql):
        name = "" if username is None else str(username)
        row = out.setdefault(name, Counter())
        row.update(
            {"tweets": int(tweets), "urls": int(urls), **{k: int(v) for k, v in zip(kinds, gaps, strict=True)}}
        )
    return out


def merge_accounts(
    base: dict[str, dict[str, int]], findings: list[Finding], deep: DeepResult | None
) -> list[dict[str, Any]]:
    """One row per account: archive counts, verify problems and deep problems; worst first."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for name, counts in base.items():
        rows[name].update(counts)
    for f in findings:
        rows[f.username or ""][f.category.value] += 1
    for d in deep.findings if deep else []:
        rows[d.username or ""][f"deep_{d.category}" if not d.category.startswith("deep_") else d.category] += 1
    problem_keys = ("missing", "wrong_path", "malformed", "unverified", "unbacked", "partial", "empty_media")
    not_present = (
        "missing",
        "wrong_path",
        "malformed",
        "unverified",
        "repo_not_found",
        "revision_not_found",
        "no_access",
    )
    out: list[dict[str, Any]] = []
    for name, c in rows.items():
        deep_problems = sum(v for k, v in c.items() if k.startswith("deep_") and k != "deep_ok")
        problems = sum(c[k] for k in problem_keys) + deep_problems
        backed_up = max(0, c["urls"] - sum(c[k] for k in not_present))  # recorded URLs found present
        out.append(
            {"username": name, "problems": problems, "deep_problems": deep_problems, "backed_up": backed_up, **dict(c)}
        )
    out.sort(key=lambda r: (-int(r["problems"]), str(r["username"])))
    return out


# --- plan ----------------------------------------------------------------------------------


def command_prefix(cfg: Config, flags: tuple[str, ...] = ()) -> tuple[str, str]:
    """(`python -m hfcheck`, the flags that reach this same archive): the user's own flags as
    given (a --db given beside --config is repeated too), else the config file read by default,
    else the settings as flags."""
    parts = ["python", "-m", "hfcheck"]
    if flags:
        return " ".join(parts), " ".join(shlex.quote(f) for f in flags)
    if Path(DEFAULT_CONFIG_NAME).is_file():
        return " ".join(parts), f"--config {DEFAULT_CONFIG_NAME}"
    settings: list[str] = []
    for flag, value in (
        ("--db", cfg.db),
        ("--media-root", cfg.media_root),
        ("--key-file", cfg.key_file),
        ("--data-dir", cfg.data_dir),
    ):
        if value is not None:
            settings.append(f"{flag} {shlex.quote(str(value))}")
    settings += [f"--repo {shlex.quote(r)}" for r in cfg.repos]
    return " ".join(parts), " ".join(settings)


def _cmd(prefix: tuple[str, str], sub: str, *extra: str) -> str:
    return " ".join(x for x in (prefix[0], sub, prefix[1], *extra) if x)


def _media_type(path: str | None) -> str:
    first = (path or "").split("/", 1)[0]
    return (
        first.removeprefix("encrypted_")
        if first in ("encrypted_images", "encrypted_videos", "images", "videos")
        else "other"
    )


async def known_deleted_on_x(archive: Archive, data_dir: Path) -> int:
    """Tweets with a lost media list that X already said are deleted (repair's memory in
    state.db): no command can recover them, so the plan does not promise it."""
    if not (data_dir / STATE_DB_NAME).is_file():
        return 0
    n = 0
    with StateDB.in_data_dir(data_dir) as state:
        async for row in archive.rows(where=gap_tweets_sql(archive, ("empty_media",))):
            known = state.x_lookup(row.tweet_id)
            n += known is not None and known.status in FINAL_ON_X
    return n


def build_plan(
    cfg: Config, vr: VerifyResult, deep: DeepResult | None, prefix: tuple[str, str], deleted_on_x: int = 0
) -> list[dict[str, Any]]:
    """Per kind of problem: how many files and tweets, and the exact commands that fix it."""
    problems = vr.progress.problems
    plan: list[dict[str, Any]] = []
    repair = [_cmd(prefix, "repair", "--dry-run"), _cmd(prefix, "repair")]
    for kind in (Category.MISSING, Category.WRONG_PATH):
        fs = [f for f in problems if f.category is kind]
        if fs:
            by_type = Counter(_media_type(f.path) for f in fs)
            plan.append(
                {
                    "kind": kind.value,
                    "tool": "repair",
                    "files": len(fs),
                    "tweets": len({f.tweet_id for f in fs}),
                    "by_type": dict(by_type),
                    "commands": repair,
                }
            )
    gaps = vr.gaps
    if gaps and gaps.empty_media > deleted_on_x:
        plan.append(
            {
                "kind": "empty_media",
                "tool": "repair",
                "files": None,
                "tweets": gaps.empty_media - deleted_on_x,
                "commands": repair,
            }
        )
    if deleted_on_x:
        plan.append({"kind": "deleted_on_x", "tool": "", "files": None, "tweets": deleted_on_x, "commands": []})
    if gaps and (gaps.unbacked or gaps.partial):
        plan.append(
            {
                "kind": "unbacked",
                "tool": "backup",
                "files": gaps.unbacked_media,
                "tweets": gaps.unbacked + gaps.partial,
                "commands": [_cmd(prefix, "backup", "--dry-run"), _cmd(prefix, "backup")],
            }
        )
    plan += _deep_plan(cfg, deep, prefix)
    plan += _rerun_plan(vr, deep, prefix)
    return plan


def _deep_plan(cfg: Config, deep: DeepResult | None, prefix: tuple[str, str]) -> list[dict[str, Any]]:
    """Read-back problems: a backup that does not decrypt is uploaded again by `repair`; one in a
    format no configured scheme knows is left alone (set `crypto.scheme`, or look at it); a lost
    local file is restored from its backup; a backup that decrypts to other bytes than the local
    file is fetched for inspection (which of the two is right is for a person to say)."""
    if deep is None:
        return []
    out: list[dict[str, Any]] = []

    def entry(category: str, tool: str, commands: list[str]) -> dict[str, Any]:
        tweets = {f.tweet_id for f in deep.findings if f.category == category and f.tweet_id}
        return {
            "kind": f"deep_{category}",
            "tool": tool,
            "files": deep.counts[category],
            "tweets": len(tweets),
            "commands": commands,
        }

    if deep.counts["decrypt_failed"]:
        out.append(entry("decrypt_failed", "repair", [_cmd(prefix, "repair", "--dry-run"), _cmd(prefix, "repair")]))
    if deep.counts["unknown_format"]:
        # no command fixes it: the file is in a format no configured scheme reads (never overwritten)
        out.append(entry("unknown_format", "", []))
    groups = {
        "local_missing": ("restore", str(cfg.media_root)),
        "differs": ("restore", str(Path(cfg.data_dir) / "restore-check")),
    }
    for kind, (tool, out_dir) in groups.items():
        fs = [f for f in deep.findings if f.category == kind]
        if not fs:
            continue
        tweets = sorted({f.tweet_id for f in fs if f.tweet_id})
        cmds = [
            _cmd(prefix, tool, f"--tweet {shlex.quote(t)}", f"--out {shlex.quote(out_dir)}")
            for t in tweets[:MAX_COMMANDS_PER_KIND]
        ]
        out.append({**entry(kind, tool, cmds), "more_tweets": max(0, len(tweets) - MAX_COMMANDS_PER_KIND)})
    rec = deep.recorded
    if rec and rec.absent:  # verify found them missing too: repair uploads them again
        out.append(
            {
                "kind": "recorded_missing",
                "tool": "repair",
                "files": rec.absent,
                "tweets": None,
                "commands": [_cmd(prefix, "repair", "--dry-run"), _cmd(prefix, "repair")],
            }
        )
    if rec and rec.differs:  # a read-back that decrypts accepts the listed file; one that does not is repair's
        out.append(
            {
                "kind": "recorded_differs",
                "tool": "verify",
                "files": rec.differs,
                "tweets": None,
                "commands": [_cmd(prefix, "verify", "--deep", "--sample all")],
            }
        )
    return out


def _rerun_plan(vr: VerifyResult, deep: DeepResult | None, prefix: tuple[str, str]) -> list[dict[str, Any]]:
    c = vr.progress.counts
    unknown = c["unverified"] + c["no_access"] + (deep.counts["unverified"] if deep else 0)
    if not unknown and vr.progress.complete:
        return []
    return [
        {
            "kind": "unverified",
            "tool": "audit",
            "files": unknown,
            "tweets": None,
            "commands": [_cmd(prefix, "audit", "--resume")],
        }
    ]


def fix_commands(cfg: Config, prefix: tuple[str, str]) -> dict[str, str]:
    """The command that fixes one row of the problem list, per kind ({tweet}: the row's tweet id,
    quoted by whoever fills it in). Kinds without a command (malformed: look at the row) are absent."""
    repair = _cmd(prefix, "repair")
    restore = _cmd(prefix, "restore", "--tweet {tweet}", f"--out {shlex.quote(str(cfg.media_root))}")
    inspect = _cmd(
        prefix, "restore", "--tweet {tweet}", f"--out {shlex.quote(str(Path(cfg.data_dir) / 'restore-check'))}"
    )
    recheck = _cmd(prefix, "verify", "--deep", "--sample all")
    return {
        "missing": repair,
        "wrong_path": repair,
        "unverified": _cmd(prefix, "audit", "--resume"),
        "deep_decrypt_failed": repair,
        "deep_local_missing": restore,
        "deep_differs": inspect,
        "deep_missing": _cmd(prefix, "verify"),
        "recorded_differs": recheck,
        "recorded_missing": repair,
    }


# --- history and headline ------------------------------------------------------------------


def load_history(data_dir: Path) -> list[dict[str, Any]]:
    """The audits recorded so far, oldest first; InputError (before anything runs) when the file
    is not a history: it is never overwritten by a fresh one, as verify's progress file is not."""
    path = Path(data_dir) / HISTORY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError(msg("err_audit_history", path=path, why=exc.__class__.__name__)) from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(msg("err_audit_history_entries", path=path))
    return entries


def append_history(data_dir: Path, history: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """`history` + `entry`, the oldest dropped beyond MAX_HISTORY, written atomically."""
    entries = [*history, entry][-MAX_HISTORY:]
    write_json_atomic(Path(data_dir) / HISTORY_NAME, {"version": 1, "max_entries": MAX_HISTORY, "entries": entries})
    return entries


def coverage_since(history: list[dict[str, Any]]) -> float:
    """Start of the window of the last COVERAGE_AUDITS audits, this one included: when the 19th
    previous one started; 0 (every recorded read-back) while fewer audits are recorded."""
    window = history[-(COVERAGE_AUDITS - 1) :]
    if len(window) < COVERAGE_AUDITS - 1:
        return 0.0
    started = window[0].get("started")
    return float(started) if isinstance(started, (int, float)) else 0.0


def problem_keys(report: dict[str, Any]) -> set[str]:
    """One key per listed problem (kind and where), to tell what an audit found first."""
    keys = {
        f"{f.get('category')} {f.get('url')}"
        for f in report.get("verify", {}).get("problems", [])
        if f.get("category") != "unverified"
    }
    deep = report.get("deep") or {}
    keys |= {f"deep_{f.get('category')} {f.get('repo_id')}/{f.get('path')}" for f in deep.get("problems", [])}
    keys |= {
        f"recorded_{f.get('category')} {f.get('repo_id')}/{f.get('path')}"
        for f in (deep.get("recorded") or {}).get("problems", [])
    }
    return keys


def problem_count(report: dict[str, Any]) -> int:
    """Damage found: verify's problem URLs and the read-back's problems (not the unknowns)."""
    counts = report.get("verify", {}).get("counts", {})
    deep = report.get("deep") or {}
    d, rec = deep.get("counts", {}), deep.get("recorded") or {}
    return (
        sum(int(counts.get(k, 0)) for k in PROBLEM_KEYS)
        + sum(int(d.get(k, 0)) for k in PROBLEM_CATEGORIES)
        + int(rec.get("differs", 0))
        + int(rec.get("absent", 0))
    )


def previous_problem_keys(data_dir: Path) -> set[str]:
    """What the previous audit listed (its report, about to be replaced); empty without one."""
    try:
        previous = json.loads((Path(data_dir) / JSON_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return problem_keys(previous) if isinstance(previous, dict) else set()


def known_deep_keys(data_dir: Path, deep: DeepResult, before: float) -> set[str]:
    """Read-back problems already found by an earlier read-back of the same file (state.db): the
    rotating slice reads a file once in 20 audits, so the previous report cannot tell."""
    with StateDB.in_data_dir(data_dir) as state:
        return {
            f"deep_{f.category} {f.repo_id}/{f.path}"
            for f in deep.findings
            if (last := state.last_deep_check(f.repo_id, f.path, before=before)) is not None
            and last.result == f.category
        }


def history_entry(report: dict[str, Any], started: float, known: set[str]) -> dict[str, Any]:
    """This audit's line in the history; `new` counts the listed problems not `known` before."""
    v, g = report.get("verify", {}), report.get("gaps", {})
    counts, deep = v.get("counts", {}), report.get("deep") or {}
    new = len(problem_keys(report) - known)
    unknown = (
        int(counts.get("unverified", 0))
        + int(counts.get("no_access", 0))
        + int(counts.get("repo_not_found", 0))
        + int(deep.get("counts", {}).get("unverified", 0))
    )
    # No file confirmed present and some could not be checked: the repo could not be read, so
    # how much of it earlier audits read back says nothing about it now (coverage: unknown).
    unreachable = int(counts.get("present", 0)) == 0 and unknown > 0
    return {
        "at": report.get("generated_at"),
        "started": round(started, 3),
        "status": report.get("status"),
        "urls": int(counts.get("total", 0)),
        "backed_up": int(counts.get("present", 0)),
        "problems": problem_count(report),
        "unknown": int(counts.get("unverified", 0))
        + int(counts.get("no_access", 0))
        + int(deep.get("counts", {}).get("unverified", 0)),
        "gaps": int(g.get("unbacked_media", 0)),
        "gap_tweets": sum(int(g.get(k, 0)) for k in ("unbacked", "partial", "empty_media")),
        "read_back": int(deep.get("checked", 0)),
        "covered": None if unreachable else deep.get("covered"),
        "candidates": int(deep.get("candidates", 0)),
        "coverage_unknown": unreachable,
        "new": new,
    }


def headline(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Status, the last complete check, since when no problem was found, and the coverage gauge
    (from the history, the current audit last)."""
    current = history[-1]
    complete = [e for e in history if e.get("status") in ("ok", "problems")]
    safe_since = None
    for e in reversed(history):
        if e.get("status") != "ok":
            break
        safe_since = e.get("at")
    covered, candidates = current.get("covered"), int(current.get("candidates") or 0)
    return {
        "status": current.get("status"),
        **{k: current.get(k, 0) for k in ("problems", "gaps", "unknown")},
        "last_complete_at": complete[-1].get("at") if complete else None,
        "safe_since": safe_since,
        "coverage": {
            "covered": covered,
            "candidates": candidates,
            "share": round(covered / candidates, 4) if isinstance(covered, int) and candidates else None,
            "unknown": bool(current.get("coverage_unknown")),
            "audits": min(len(history), COVERAGE_AUDITS),
        },
    }


# --- run -----------------------------------------------------------------------------------


@dataclass
class AuditResult:
    report: dict[str, Any]  # what audit_report.json holds
    verify: VerifyResult
    deep: DeepResult
    history: list[dict[str, Any]]  # the bounded history, this audit last (the page draws it)

    @property
    def exit_code(self) -> int:
        return int(self.report["exit_code"])


async def run_audit(cfg: Config, opts: AuditOptions, hub: Hub) -> AuditResult:
    """Run everything read-only; the caller writes the reports (`report.text.write_audit_reports`).
    `hub` is the run's one Hub (the command's, or the watch service's beside its writer)."""
    cfg.require("db", "media_root", "key_file")
    started = time.time()
    history = load_history(cfg.data_dir)  # a bad history stops the audit now, not after hours
    previous = previous_problem_keys(cfg.data_dir)
    key = await require_key(cfg, hub=hub, writing=False)  # a wrong key: one line now, not N unreadable files later
    vopts = VerifyOptions(
        concurrency=opts.concurrency,
        resume=opts.resume,
        check_missing=True,
        progress_bar=opts.progress_bar,
    )
    vr = await run_verify(cfg, vopts, hub)
    sample = opts.sample or next_slice(cfg.data_dir)
    deep = await run_deep(
        cfg,
        sample,
        hub,
        progress=vr.progress,
        concurrency=opts.deep_concurrency,
        seed=opts.seed,
        covered_since=coverage_since(history),
        key=key,
    )
    if opts.sample is None:
        remember_slice(cfg.data_dir, sample)
    async with Archive(cfg) as archive:
        accounts = merge_accounts(await account_counts(archive), vr.progress.problems, deep)
        deleted_on_x = await known_deleted_on_x(archive, cfg.data_dir) if vr.gaps and vr.gaps.empty_media else 0
    status = combined_exit_code(vr.exit_code, deep)
    prefix = command_prefix(cfg, opts.flags)
    report: dict[str, Any] = {
        "tool": "hfcheck audit",
        "generated_at": now_iso(),
        "status": {EXIT_OK: "ok", EXIT_PROBLEMS: "problems", EXIT_INCOMPLETE: "incomplete"}[status],
        "exit_code": status,
        "read_only": True,
        "archive": {
            "db": str(cfg.db),
            "table": cfg.table,
            "media_root": str(cfg.media_root),
            "repos": list(cfg.repos),
            "revision": cfg.revision,
            "endpoint": cfg.endpoint,
        },
        "verify": verify_report(vr.progress, None, vr.stats),
        "gaps": (vr.gaps or GapSummary()).to_dict(),
        "deep": deep.to_dict(),
        "accounts": accounts,
        "plan": build_plan(cfg, vr, deep, prefix, deleted_on_x),
        "fixes": fix_commands(cfg, prefix),
    }
    known = previous | known_deep_keys(cfg.data_dir, deep, started)
    history = append_history(cfg.data_dir, history, history_entry(report, started, known))
    report["headline"] = headline(history)
    return AuditResult(report, vr, deep, history)


__all__ = [
    "AuditOptions",
    "AuditResult",
    "account_counts",
    "append_history",
    "build_plan",
    "command_prefix",
    "coverage_since",
    "fix_commands",
    "headline",
    "history_entry",
    "load_history",
    "next_slice",
    "problem_count",
    "run_audit",
]
