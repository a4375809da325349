"""Deep verification: read backups back, decrypt them, compare with the local files.

`verify` proves a file *exists* in the repo; only reading it back proves it *decrypts* to the
local bytes. That costs a download per file, so it runs on a sample:

    n/t   files whose stable hash of the remote path mod t == n-1 (restic --read-data-subset):
          t runs with n = 1..t cover every file exactly once, whatever the archive's order.
    P%    a random sample (kopia's --verify-files-percent): no coverage guarantee.
    all   everything.

And at no download cost, `compare_recorded` checks what state.db recorded for hfcheck's own
uploads (ciphertext sha256 and size, as the Hub confirmed them) against the repo listing's
LFS oid and size: a file replaced on the Hub since is reported as `differs`.

Categories (the `deep` key of the JSON report):

    deep_ok         decrypted, and the plaintext sha256 equals the local file's
    differs         plaintext differs from the local file, or the listing from the recorded upload
    decrypt_failed  authentication failed (tampered, truncated, wrong key or path), or the name
    local_missing   decrypted fine, but no local file to compare with
    missing         the repo answered 404 when read back (or a recorded upload is not listed)
    unverified      the download kept failing after retries: unknown, check again

Each read-back file's outcome is appended to state.db's `deep_checks` (when it was last
deep-verified). Nothing else is written anywhere: downloads go to a temporary folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from hfcheck.db.archive import Archive
from hfcheck.config import Config
from hfcheck.crypto import HEADER_SIZE, ArchiveKey, Decryptor, archive_key
from hfcheck.errors import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_PROBLEMS,
    ConfigError,
    CryptoError,
)
from hfcheck.net.hub import HubHTTP, Unverifiable
from hfcheck.model.paths import PathKind, UnsafePath, confine, local_path_for
from hfcheck.pool import Put, run_pool
from hfcheck.readback.restore import (
    READ_CHUNK,
    FetchFailed,
    HubFetcher,
    discard_part,
    sha256_file,
)
from hfcheck.db.state import StateDB, UploadRecord
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.checkpoint import Progress
from hfcheck.verify.findings import Category
from hfcheck.verify.pipeline import split_row

DEEP_CATEGORIES = ("deep_ok", "differs", "decrypt_failed", "local_missing", "missing", "unverified")
PROBLEM_CATEGORIES = frozenset({"differs", "decrypt_failed", "local_missing", "missing"})
MAX_LISTED_PROBLEMS = 10_000  # the report keeps this many problem entries; counts stay exact


# --- sampling ----------------------------------------------------------------------------


def stable_slice(path: str, t: int) -> int:
    """The 1-based slice (1..t) of a remote path: same path, same slice, on every machine."""
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % t + 1


@dataclass(frozen=True)
class Sample:
    """Which files a deep check reads back: `n/t`, `P%` or `all` (see the module docstring)."""

    spec: str
    n: int | None = None
    t: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> Sample:
        """`1/20`, `5%`, `0.5%`, `all`; ConfigError naming the mistake otherwise."""
        s = text.strip().lower()
        if s in ("all", "100%"):
            return cls("all")
        if m := re.fullmatch(r"(\d+)\s*/\s*(\d+)", s):
            n, t = int(m.group(1)), int(m.group(2))
            if not 1 <= n <= t:
                raise ConfigError(f"--sample {text!r}: expected n/t with 1 <= n <= t")
            return cls(f"{n}/{t}", n=n, t=t)
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", s):
            p = float(m.group(1))
            if not 0 < p <= 100:
                raise ConfigError(f"--sample {text!r}: a percentage must be above 0 and at most 100")
            return cls(f"{m.group(1)}%", percent=p)
        raise ConfigError(f"--sample {text!r}: expected n/t (e.g. 1/20), a percentage (e.g. 5%) or 'all'")

    def picks(self, path: str, rng: random.Random) -> bool:
        """Whether this remote path is in the sample."""
        if self.t is not None:
            return stable_slice(path, self.t) == self.n
        if self.percent is not None:
            return rng.random() * 100 < self.percent
        return True


# --- results -----------------------------------------------------------------------------


@dataclass
class DeepFinding:
    """One file's deep outcome; `local` is the local media path it was compared with."""

    category: str
    repo_id: str
    path: str
    tweet_id: str | None = None
    username: str | None = None
    url: str | None = None
    local: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RecordedComparison:
    """state.db's confirmed uploads against the listing: no download involved."""

    compared: int = 0  # recorded uploads found in the listing
    matched: int = 0
    differs: int = 0
    absent: int = 0  # recorded, but not in the listing (any more)
    unverified_repos: list[str] = field(default_factory=list)
    findings: list[DeepFinding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "matched": self.matched,
            "differs": self.differs,
            "absent": self.absent,
            "unverified_repos": self.unverified_repos,
            "problems": [f.to_dict() for f in self.findings],
        }


@dataclass
class DeepResult:
    """Counts per category (exact) and the problem files (first MAX_LISTED_PROBLEMS)."""

    sample: str
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[DeepFinding] = field(default_factory=list)
    recorded: RecordedComparison | None = None
    candidates: int = 0  # present files considered before sampling
    bytes_read: int = 0
    covered: int | None = None  # candidates read back and decrypted since `covered_since`
    covered_since: float | None = None

    def add(self, f: DeepFinding) -> None:
        self.counts[f.category] += 1
        if f.category != "deep_ok" and len(self.findings) < MAX_LISTED_PROBLEMS:
            self.findings.append(f)

    @property
    def checked(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sample": self.sample,
            "candidates": self.candidates,
            "checked": self.checked,
            "bytes_read": self.bytes_read,
            "counts": {k: self.counts.get(k, 0) for k in DEEP_CATEGORIES},
            "problems": [f.to_dict() for f in self.findings],
        }
        if self.covered is not None:
            out["covered"], out["covered_since"] = self.covered, self.covered_since
        if self.recorded is not None:
            out["recorded"] = self.recorded.to_dict()
        return out

    def problem_count(self) -> int:
        rec = self.recorded
        return sum(self.counts[c] for c in PROBLEM_CATEGORIES) + (rec.differs + rec.absent if rec else 0)


def deep_exit_code(result: DeepResult | None) -> int:
    """0 nothing found; 1 a problem; 3 some files could not be read back (unknown)."""
    if result is None:
        return EXIT_OK
    if result.counts["unverified"] or (result.recorded and result.recorded.unverified_repos):
        return EXIT_INCOMPLETE
    return EXIT_PROBLEMS if result.problem_count() else EXIT_OK


def combined_exit_code(verify_code: int, result: DeepResult | None) -> int:
    """verify's exit code and deep's together: 3 beats 1 beats 0."""
    codes = {verify_code, deep_exit_code(result)}
    return EXIT_INCOMPLETE if EXIT_INCOMPLETE in codes else EXIT_PROBLEMS if EXIT_PROBLEMS in codes else EXIT_OK


_SUMMARY = {
    "en": "Read-back sample {s}: {n} files, {ok} ok, {bad} problems, {unk} unverified; recorded uploads: {rc} compared, {rd} differ",
    "ja": "読み戻し検査 {s}：{n} ファイル、正常 {ok}、問題 {bad}、未確認 {unk}／記録済みアップロード：比較 {rc}、不一致 {rd}",
}


def deep_summary(result: DeepResult, lang: str) -> str:
    """One line for the text summary of `verify --deep` and `audit`."""
    c = result.counts
    rec = result.recorded or RecordedComparison()
    bad = sum(c[k] for k in PROBLEM_CATEGORIES)
    return _SUMMARY.get(lang, _SUMMARY["en"]).format(s=result.sample, n=result.checked, ok=c["deep_ok"], bad=bad, unk=c["unverified"], rc=rec.compared, rd=rec.differs + rec.absent)


# --- reading back ------------------------------------------------------------------------


def decrypted_sha256(key: ArchiveKey, ciphertext: Path, remote_path: str) -> str:
    """SHA-256 of the plaintext, decrypting in memory chunk by chunk (nothing is written).
    CryptoError if any chunk fails authentication or the stream is truncated."""
    dec = Decryptor(key, remote_path)
    h = hashlib.sha256()
    with open(ciphertext, "rb", buffering=0) as f:
        dec.start(f.read(HEADER_SIZE))
        while block := f.read(READ_CHUNK):
            h.update(dec.update(block))
    h.update(dec.finalize())
    return h.hexdigest()


class DeepChecker:
    """Reads one file back and compares it; one instance per run."""

    def __init__(self, cfg: Config, key: ArchiveKey, fetcher: HubFetcher, workdir: Path, state: StateDB | None) -> None:
        cfg.require("media_root")
        assert cfg.media_root is not None
        self.cfg = cfg
        self.key = key
        self.fetcher = fetcher
        self.workdir = workdir
        self.state = state
        self.media_root = cfg.media_root
        self.bytes_read = 0
        self._n = itertools.count()

    async def check(self, task: UrlTask) -> DeepFinding:
        """The outcome for one present file; never raises for the Hub's answers."""
        u = task.url
        f = DeepFinding("deep_ok", u.repo_id, u.path, task.tweet_id, task.username, str(u))
        try:
            f.local = local_path_for(self.key, u.path)
            local = confine(self.media_root, f.local)
        except (CryptoError, UnsafePath) as exc:
            return self._done(f, "decrypt_failed", f"file name: {exc}")
        part = self.workdir / f"{next(self._n)}.part"
        try:
            fetched = await self.fetcher.download(u, part)
            self.bytes_read += fetched.size
            plain = await asyncio.to_thread(decrypted_sha256, self.key, part, u.path)
        except FetchFailed as exc:
            return self._done(f, "missing" if exc.category == "missing" else "unverified", exc.detail)
        except Unverifiable as exc:
            return self._done(f, "unverified", str(exc))
        except CryptoError as exc:
            return self._done(f, "decrypt_failed", str(exc))
        finally:
            discard_part(part)
        if not local.is_file():
            return self._done(f, "local_missing", "the backup decrypts, but there is no local file to compare with")
        if await asyncio.to_thread(sha256_file, local) != plain:
            return self._done(f, "differs", "the decrypted backup differs from the local file")
        return self._done(f, "deep_ok", "")

    def _done(self, f: DeepFinding, category: str, detail: str) -> DeepFinding:
        f.category, f.detail = category, detail
        if self.state is not None and category != "unverified":
            self.state.record_deep_check(f.repo_id, f.path, category)
        return f


def _digest64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _excluded_urls(progress: Progress | None) -> set[str]:
    """URLs verify found not present: a deep check reads back present files only."""
    if progress is None:
        return set()
    return {f.url for f in progress.problems if f.category is not Category.PRESENT}


async def deep_check(
    cfg: Config,
    sample: Sample,
    *,
    progress: Progress | None = None,
    state: StateDB | None = None,
    concurrency: int = 4,
    seed: int | None = None,
    on_finding: Callable[[DeepFinding], None] | None = None,
    covered_since: float | None = None,
) -> DeepResult:
    """Read back the sampled present files of the archive and compare them with local files.

    `progress` (a finished verify) excludes the URLs it found missing, wrong or malformed;
    without it, a sampled file that is not in the repo is counted as `missing`. The same
    remote path recorded twice is read once. With `state` and `covered_since`, it also counts
    the candidates whose latest read-back since then decrypted (`covered`): the audit's gauge.
    """
    cfg.require("db", "key_file", "media_root")
    key = archive_key(cfg)
    excluded = _excluded_urls(progress)
    rng = random.Random(seed)
    result = DeepResult(sample.spec)
    seen: set[int] = set()  # 64-bit digests of repo/path: ~70 bytes a file instead of ~250
    with tempfile.TemporaryDirectory(prefix="hfcheck-deep-") as tmp:
        async with Archive(cfg) as archive, HubFetcher(cfg, concurrency=concurrency) as fetcher:
            checker = DeepChecker(cfg, key, fetcher, Path(tmp), state)

            async def produce(put: Put[UrlTask]) -> None:
                async for row in archive.rows(where=archive.has_backup_sql()):
                    _, tasks, _ = split_row(row, fetcher.endpoint, cfg.columns.huggingface_urls)
                    for task in tasks:
                        u = task.url
                        digest = _digest64(f"{u.repo_id}/{u.path}")
                        if u.kind is not PathKind.ENCRYPTED or str(u) in excluded or digest in seen:
                            continue
                        seen.add(digest)
                        result.candidates += 1
                        if sample.picks(u.path, rng):
                            await put(task)

            async def work(task: UrlTask) -> None:
                finding = await checker.check(task)
                result.add(finding)
                if on_finding is not None:
                    on_finding(finding)

            await run_pool(produce, work, concurrency)
            result.bytes_read = checker.bytes_read
    if state is not None and covered_since is not None:
        # only files still present count: the digests of this run's candidates are at hand
        recent = state.decrypted_since(covered_since)
        result.covered = sum(1 for repo_id, path in recent if _digest64(f"{repo_id}/{path}") in seen)
        result.covered_since = covered_since
    return result


# --- recorded uploads vs listing (no download) ---------------------------------------------


def _by_repo(state: StateDB) -> Iterator[tuple[str, dict[str, UploadRecord]]]:
    """Recorded uploads grouped by repo (one repo's records in memory at a time)."""
    for repo_id, group in itertools.groupby(state.iter_uploads(), key=lambda r: r.repo_id):
        yield repo_id, {r.path: r for r in group}


async def compare_recorded(cfg: Config, http: HubHTTP, state: StateDB) -> RecordedComparison:
    """Recorded ciphertext sha256/size of hfcheck's uploads vs the listing's LFS oid/size.

    One tree listing per repo (API quota, no resolve request, no download)."""
    out = RecordedComparison()
    for repo_id, records in _by_repo(state):
        try:
            async for entry in http.tree(repo_id, cfg.revision):
                rec = records.pop(entry.get("path", ""), None) if entry.get("type") == "file" else None
                if rec is not None:
                    _compare_entry(out, repo_id, rec, entry)
        except Unverifiable as exc:
            out.unverified_repos.append(f"{repo_id}@{cfg.revision}: {exc}")
            continue
        for rec in records.values():
            out.absent += 1
            _keep(out, DeepFinding("missing", repo_id, rec.path, detail="recorded as uploaded, but not in the repo listing"))
    return out


def _compare_entry(out: RecordedComparison, repo_id: str, rec: UploadRecord, entry: dict[str, Any]) -> None:
    out.compared += 1
    lfs = entry.get("lfs") or {}
    sha = lfs.get("oid") if isinstance(lfs, dict) else None
    size = lfs.get("size", entry.get("size")) if isinstance(lfs, dict) else entry.get("size")
    reasons = []
    if sha is not None and sha != rec.sha256:
        reasons.append(f"sha256 {str(sha)[:12]}… listed, {rec.sha256[:12]}… recorded")
    if size is not None and size != rec.size:
        reasons.append(f"size {size} listed, {rec.size} recorded")
    if reasons:
        out.differs += 1
        _keep(out, DeepFinding("differs", repo_id, rec.path, detail="; ".join(reasons)))
    else:
        out.matched += 1


def _keep(out: RecordedComparison, f: DeepFinding) -> None:
    if len(out.findings) < MAX_LISTED_PROBLEMS:
        out.findings.append(f)


# --- for `verify --deep` -----------------------------------------------------------------


async def run_deep(
    cfg: Config, sample: Sample, *, progress: Progress | None = None, concurrency: int = 4, seed: int | None = None, covered_since: float | None = None
) -> DeepResult:
    """Both checks, as `verify --deep` and `audit` run them; deep checks recorded in state.db."""
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with HubHTTP(cfg, concurrency=concurrency) as http:
            recorded = await compare_recorded(cfg, http, state)
        result = await deep_check(cfg, sample, progress=progress, state=state, concurrency=concurrency, seed=seed, covered_since=covered_since)
    result.recorded = recorded
    return result


def sample_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Sample | None:
    if value is None:
        return None
    try:
        return Sample.parse(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


def add_deep_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--deep` and `--sample` for a click command (the command gets `deep: bool`,
    `sample: Sample | None`; `--sample` alone implies `--deep`)."""
    command = click.option("--sample", "sample", callback=sample_option, metavar="n/t|P%|all", help="With --deep: files whose path hash mod t == n-1 (t runs cover all), a random P%, or all (default 1/20).")(command)
    return click.option("--deep", is_flag=True, help="Also download, decrypt and compare a sample of present files with the local files, and compare recorded upload hashes with the listing.")(command)


DEFAULT_VERIFY_SAMPLE = "1/20"


__all__ = [
    "DEEP_CATEGORIES",
    "DeepFinding",
    "DeepResult",
    "RecordedComparison",
    "Sample",
    "add_deep_options",
    "combined_exit_code",
    "compare_recorded",
    "decrypted_sha256",
    "deep_check",
    "deep_exit_code",
    "deep_summary",
    "run_deep",
    "stable_slice",
]
