"""What `watch` remembers across restarts, and when the next audit is due.

`data/watch_state.json` (written atomically) holds when the last audit completed, so a restart
does not audit again at once, and when the last complete backup was (the metric and the alerts
read it). Each audit's report is kept with its date under `data/audits/`, besides the usual
latest `audit_report.json`/`.html` that `hfcheck audit` writes.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from hfcheck.atomic import write_bytes_atomic, write_json_atomic
from hfcheck.errors import InputError
from hfcheck.report.catalog import msg

STATE_NAME = "watch_state.json"
AUDITS_DIR = "audits"
KEEP_AUDITS = 400  # dated reports kept: more than a year of daily audits
AUDIT_RETRY_S = 900.0  # an audit that could not run is tried again this soon (or at audit_every if sooner)


@dataclass
class WatchState:
    """Unix times (None: never) and this run's tallies, as `watch_state.json` holds them."""

    last_audit_at: float | None = None
    last_audit_try_at: float | None = None
    last_complete_backup_at: float | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    tweets_backed_up: int = 0
    tweets_failed: int = 0

    @classmethod
    def load(cls, data_dir: Path) -> WatchState:
        """The saved state; InputError (exit 2, before anything runs) when the file is not one."""
        path = Path(data_dir) / STATE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise InputError(msg("err_watch_state", path=path, why=exc.__class__.__name__)) from None
        if not isinstance(data, dict):
            raise InputError(msg("err_watch_state_bare", path=path))
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise InputError(msg("err_watch_state", path=path, why=str(exc))) from None

    def save(self, data_dir: Path) -> None:
        write_json_atomic(Path(data_dir) / STATE_NAME, asdict(self))

    def audit_due_in(self, every: float, now: float | None = None) -> float:
        """Seconds until the next audit is due (0: now; inf: audits are off)."""
        if every <= 0:
            return math.inf
        now = time.time() if now is None else now
        due = (self.last_audit_at if self.last_audit_at is not None else -math.inf) + every
        if self.last_audit_try_at is not None and self.last_audit_try_at > (self.last_audit_at or -math.inf):
            due = max(due, self.last_audit_try_at + min(every, AUDIT_RETRY_S))  # the last try failed
        return max(0.0, due - now)


def keep_dated_report(data_dir: Path, report_name: str, at: float, keep: int = KEEP_AUDITS) -> Path | None:
    """Copy the latest audit report to `audits/audit_report-<UTC time>.json`; drop the oldest
    beyond `keep`. Returns the copy (None when there was no report to keep)."""
    src = Path(data_dir) / report_name
    if not src.is_file():
        return None
    folder = Path(data_dir) / AUDITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    dst = folder / f"{src.stem}-{stamp}{src.suffix}"
    write_bytes_atomic(dst, src.read_bytes())
    for old in sorted(folder.glob(f"{src.stem}-*{src.suffix}"))[:-keep]:
        old.unlink(missing_ok=True)
    return dst


__all__ = ["AUDITS_DIR", "STATE_NAME", "WatchState", "keep_dated_report"]
