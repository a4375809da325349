"""The progress file `data/hf_url_check_progress.json`: position reached and problems found.

Its size grows with the problems, not with the archive. It is written atomically (temp file,
fsync, rename) every few seconds and at exit, and it is what `repair` reads. A corrupt file,
or one written for another archive, is refused with a clear message, never silently restarted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hfcheck.atomic import write_json_atomic
from hfcheck.config import Config
from hfcheck.db.archive import Key
from hfcheck.db.gaps import GapSummary
from hfcheck.errors import InputError
from hfcheck.report.catalog import msg
from hfcheck.verify.findings import COUNT_KEYS, REPO_LEVEL, Category, Finding
from hfcheck.verify.ledger import RowEntry

FORMAT = "hfcheck-verify-progress"
VERSION = 1
PROGRESS_NAME = "hf_url_check_progress.json"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def archive_identity(cfg: Config) -> dict[str, Any]:
    """What a progress file must match to be resumed (or repaired from): the same archive on the
    same Hub, checked at the same revision."""
    return {
        "db": str(cfg.db.resolve()) if cfg.db else None,
        "table": cfg.table,
        "columns": [cfg.columns.id, cfg.columns.username, cfg.columns.media_urls, cfg.columns.huggingface_urls],
        "endpoint": cfg.endpoint,
        "revision": cfg.revision,
    }


@dataclass
class Progress:
    """Everything a resumed run, the summary, and `repair` need; nothing per present file."""

    identity: dict[str, Any]
    method: str = "auto"
    position: Key | None = None
    complete: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Finding] = field(default_factory=list)
    repo_problems: dict[str, dict[str, Any]] = field(default_factory=dict)
    row_problems: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def settle(self, entry: RowEntry) -> None:
        """Fold one fully checked row (or a run of them) into the totals, in key order."""
        self.position = entry.key
        self.row_problems.extend(entry.extra or [])
        if entry.present:
            self.counts["total"] += entry.present
            self.counts["present"] += entry.present
        for f in entry.findings:
            self.counts["total"] += 1
            self.counts[f.category.value] += 1
            if f.category in REPO_LEVEL or f.repo_wide:
                key = f"{f.repo_id}@{f.revision}"
                rp = self.repo_problems.setdefault(
                    key,
                    {
                        "repo_id": f.repo_id,
                        "revision": f.revision,
                        "category": f.category.value,
                        "detail": f.detail,
                        "urls": 0,
                    },
                )
                rp["urls"] += 1
            elif f.category is not Category.PRESENT:
                self.problems.append(f)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "archive": self.identity,
            "method": self.method,
            "started_at": self.started_at,
            "updated_at": now_iso(),
            "complete": self.complete,
            "position": None
            if self.position is None
            else {"key": self.position, "type": "int" if isinstance(self.position, int) else "text"},
            "counts": {k: self.counts.get(k, 0) for k in COUNT_KEYS},
            "problems": [f.to_dict() for f in self.problems],
            "repo_problems": list(self.repo_problems.values()),
            "row_problems": self.row_problems,
        }

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_json(), compact=True)  # rewritten every few seconds

    @classmethod
    def load(cls, path: Path, identity: dict[str, Any]) -> Progress:
        """Read a progress file for resuming; refuse corrupt or foreign ones."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(msg("err_progress_absent", path=path)) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(msg("err_progress_corrupt", path=path, error=str(exc))) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(msg("err_progress_foreign", path=path))
        if data.get("version") != VERSION:
            raise InputError(msg("err_progress_version", path=path, version=data.get("version"), expected=VERSION))
        stored = data.get("archive")
        if isinstance(stored, dict) and "revision" not in stored:
            stored = {**stored, "revision": "main"}  # written before revisions were recorded: at the default
        if stored != identity and isinstance(stored, dict) and stored == {**identity, "revision": stored["revision"]}:
            raise InputError(msg("err_progress_revision", path=path, was=stored["revision"], now=identity["revision"]))
        if stored != identity:
            raise InputError(msg("err_progress_other_archive", path=path, db=data.get("archive", {}).get("db")))
        try:
            pos = data["position"]
            return cls(
                identity=identity,
                method=data["method"],
                position=None if pos is None else (int(pos["key"]) if pos["type"] == "int" else str(pos["key"])),
                complete=bool(data["complete"]),
                counts=Counter({k: int(v) for k, v in data["counts"].items()}),
                problems=[Finding.from_dict(d) for d in data["problems"]],
                repo_problems={f"{r['repo_id']}@{r['revision']}": r for r in data["repo_problems"]},
                row_problems=list(data["row_problems"]),
                started_at=data["started_at"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(msg("err_progress_field", path=path, field=str(exc))) from None


def verify_report(progress: Progress, gaps: GapSummary | None, stats: dict[str, Any]) -> dict[str, Any]:
    """The JSON report: counts by category, problem URLs with tweet ids, gaps, and cost."""
    data = progress.to_json()
    report = {
        "tool": "hfcheck verify",
        "generated_at": now_iso(),
        "complete": data["complete"],
        "method": data["method"],
        "counts": data["counts"],
        "problems": data["problems"],
        "repo_problems": data["repo_problems"],
        "row_problems": data["row_problems"],
        "stats": stats,
    }
    if gaps is not None:
        report["gaps"] = gaps.to_dict()
    return report
