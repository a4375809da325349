"""Does the configured key open this archive? Asked before anything is written or read back.

A backup made with another key can never be restored, and a read-back with another key would
record every good backup as unreadable; so every writer (`repair`, `backup`, `migrate`,
`watch`) and every read-back (`verify --deep`, `audit`, `restore`) proves the key first:

    names   up to SAMPLE recorded encrypted names, spread over repos and accounts (from the
            first and the last rows with backups), decrypted by the read codecs: one that
            opens proves the key (a mixed archive goes on); none of N, when every read codec
            has reversible names, says it is not the archive's key
    files   one-way names cannot be decrypted: up to FILE_TRIES recorded backups are read
            back instead (download, decrypt)
    record  `.hfcheck/keycheck` in the configured repos: RECORD_PLAINTEXT encrypted with the
            archive's key, written (through the one committer) by the first run that writes to
            an archive the names and files cannot speak for (no backup yet, or one-way names)

Nothing here writes: the writer commits the record (`write/runner.py` `write_key_record`,
rank above this). `check_key` is the question (a `KeyCheck`, for
`doctor` too); `require_key` refuses a wrong key with one line (exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hfcheck.config import Config
from hfcheck.crypto import Codec, Codecs, CryptoError, FileTooLarge, load_codecs
from hfcheck.crypto.keys import configured_key_file
from hfcheck.db.archive import Archive
from hfcheck.errors import FetchFailed, IncompleteError, InputError, UnsafePath, Unverifiable, WrongKey
from hfcheck.model.paths import BackupURL, PathKind, local_path_for
from hfcheck.net.fetch import discard_part, download
from hfcheck.net.hub import Hub
from hfcheck.readback.walk import decrypted_sha256, read_head
from hfcheck.report.catalog import Msg, msg
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.pipeline import split_row

SAMPLE = 20  # recorded names tried
SCAN_ROWS = 20_000  # rows with backups looked at, from each end of the table, to pick them
FILE_TRIES = 3  # recorded backups read back when names are one-way
RECORD_PATH = ".hfcheck/keycheck"
RECORD_PLAINTEXT = b"hfcheck key check: this archive's key opens this file\n"


class KeyVerdict(enum.StrEnum):
    OPENS = "opens"  # names, files or the record decrypt with the key
    WRONG = "wrong"  # things recorded were tried and none opened
    UNPROVEN = "unproven"  # nothing recorded to try yet (no backup, no record): the first writer writes the record
    UNKNOWN = "unknown"  # the record could not be fetched (the Hub did not answer): ask again later


@dataclass(frozen=True)
class KeyCheck:
    """What proved (or disproved) the key: `how` is names, files or record; `tried`/`opened`
    count that evidence. `record_repo` holds the key-check record when one was found;
    `record_missing` says it was looked for and is in no configured repo."""

    verdict: KeyVerdict
    key_file: Path
    how: str = "names"
    tried: int = 0
    opened: int = 0
    names_tried: int = 0
    record_repo: str | None = None
    record_missing: bool = False
    reason: str = ""  # why the record could not be fetched (UNKNOWN)

    @property
    def opens(self) -> bool:
        return self.verdict is KeyVerdict.OPENS

    @property
    def write_record(self) -> bool:
        """A writer should leave the key-check record: it was looked for and is missing, and
        the key is not known to be wrong."""
        return self.record_missing and self.verdict in (KeyVerdict.OPENS, KeyVerdict.UNPROVEN)

    def problem(self) -> Msg | None:
        """The one line that names the key file and what was tried, or None when the key may be used."""
        key = str(self.key_file)
        if self.verdict is KeyVerdict.WRONG:
            if self.how == "record" and self.names_tried:
                return msg("key_wrong_names_record", tried=self.names_tried, key_file=key, repo=self.record_repo)
            if self.how == "record":
                return msg("key_wrong_record", repo=self.record_repo, path=RECORD_PATH, key_file=key)
            if self.how == "files":
                return msg("key_wrong_files", tried=self.tried, key_file=key)
            return msg("key_wrong_names", tried=self.tried, key_file=key)
        if self.verdict is KeyVerdict.UNKNOWN:
            return msg("key_unchecked", key_file=key, path=RECORD_PATH, reason=self.reason)
        return None


def _round_robin(queues: list[list[UrlTask]]) -> list[UrlTask]:
    """The first item of every queue, then the second of every queue, ..."""
    out: list[UrlTask] = []
    for i in range(max(map(len, queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def _spread(groups: dict[tuple[str, str], list[UrlTask]], n: int) -> list[UrlTask]:
    """Up to `n` tasks, round-robin over repos and, within a repo, over its accounts."""
    by_repo: dict[str, list[list[UrlTask]]] = defaultdict(list)
    for (repo_id, _), tasks in sorted(groups.items()):
        by_repo[repo_id].append(tasks)
    return _round_robin([_round_robin(accounts) for accounts in by_repo.values()])[:n]


async def sample_names(archive: Archive, endpoint: str, n: int = SAMPLE) -> list[UrlTask]:
    """Up to `n` recorded encrypted backups from the first and the last SCAN_ROWS rows with
    backups (bounded work on any archive size), spread over repos and accounts."""
    c = archive.cfg.columns
    cols = f'"{c.id}", "{c.username}", "{c.media_urls}", "{c.huggingface_urls}"'
    table, id_col = f'"{archive.cfg.table}"', f'"{c.id}"'
    groups: dict[tuple[str, str], list[UrlTask]] = defaultdict(list)
    seen: set[str] = set()
    for order in ("ASC", "DESC"):
        sql = (  # the first row of every account, then the second of every account, ...
            f'SELECT {cols} FROM (SELECT {cols}, row_number() OVER (PARTITION BY "{c.username}") AS nth'
            f" FROM (SELECT {cols} FROM {table} WHERE {archive.has_backup_sql()}"
            f" ORDER BY {id_col} {order} LIMIT {SCAN_ROWS})) WHERE nth <= {n} ORDER BY nth LIMIT {n * 2}"
        )
        for raw in await archive.select(sql):
            _, tasks, _ = split_row(archive.to_row(raw), endpoint, c.huggingface_urls, archive.cfg.revision)
            for task in tasks:
                if task.url.kind is PathKind.ENCRYPTED and str(task.url) not in seen:
                    seen.add(str(task.url))
                    groups[(task.url.repo_id, task.username or "")].append(task)
    return _spread(groups, n)


def names_open(codecs: Codecs, tasks: list[UrlTask]) -> int:
    """How many of the tasks' remote names decrypt with the read codecs."""
    opened = 0
    for task in tasks:
        try:
            local_path_for(codecs, task.url.path)
        except (CryptoError, UnsafePath, ValueError):
            continue
        opened += 1
    return opened


def _plaintext(codec: Codec, part: Path, remote_path: str) -> bytes:
    """The record's plaintext (a small file), decrypted into a file beside the download."""
    out = part.with_suffix(".plain")
    try:
        codec.decrypt_file(part, out, remote_path)
        return out.read_bytes()[: len(RECORD_PLAINTEXT) + 1]
    finally:
        out.unlink(missing_ok=True)


async def _read_record(cfg: Config, codecs: Codecs, client: Hub, tmp: Path) -> tuple[str | None, bool | None, str]:
    """(the repo holding the key-check record, whether it opens, why a repo could not be asked)."""
    reasons: list[str] = []
    for repo_id in cfg.repos:
        url = BackupURL(client.endpoint, repo_id, cfg.revision, RECORD_PATH)
        part = tmp / f"record-{len(reasons)}.part"
        try:
            await download(client, url, part)
        except FetchFailed:
            continue  # not in this repo (or no such repo): the next one may hold it
        except Unverifiable as exc:
            reasons.append(f"{repo_id}: {exc}")
            continue
        try:
            codec = codecs.codec_for(await asyncio.to_thread(read_head, part))
            plain = b"" if codec is None else await asyncio.to_thread(_plaintext, codec, part, RECORD_PATH)
        except (CryptoError, InputError):
            plain = b""
        finally:
            discard_part(part)
        return repo_id, plain == RECORD_PLAINTEXT, ""
    return None, None, "; ".join(reasons)


async def _read_files(codecs: Codecs, client: Hub, tasks: list[UrlTask], tmp: Path) -> tuple[int, int]:
    """One-way names: read back sampled backups until one decrypts or FILE_TRIES answered;
    (answered, decrypted). A file not there or not answered for says nothing of the key."""
    tried = opened = 0
    for task in tasks:
        if tried >= FILE_TRIES or opened:
            break
        part = tmp / f"file-{tried}.part"
        try:
            await download(client, task.url, part)
            codec = codecs.codec_for(await asyncio.to_thread(read_head, part))
            if codec is not None:
                await asyncio.to_thread(decrypted_sha256, codec, part, task.url.path)
                opened += 1
            tried += 1
        except (FetchFailed, Unverifiable, FileTooLarge):
            continue
        except CryptoError:
            tried += 1
        finally:
            discard_part(part)
    return tried, opened


async def check_key(
    cfg: Config,
    codecs: Codecs | None = None,
    *,
    archive: Archive | None = None,
    hub: Hub,
) -> KeyCheck:
    """Does the configured key open this archive? Names first (no request); when they cannot
    tell, the key-check record and, for one-way names, recorded files (GET requests only).

    InputError/ConfigError as `load_codecs` for a key file that cannot be read at all."""
    codecs = codecs or load_codecs(cfg)
    key_file = configured_key_file(cfg)
    async with contextlib.AsyncExitStack() as stack:
        if archive is None:
            archive = await stack.enter_async_context(Archive(cfg))
        tasks = await sample_names(archive, hub.endpoint)
        opened = names_open(codecs, tasks)
        if opened:
            return KeyCheck(KeyVerdict.OPENS, key_file, "names", len(tasks), opened, len(tasks))
        # the names could not tell: the run's Hub is asked (GET only)
        names_tried = len(tasks) if all(c.names_reversible for c in codecs.read) else 0
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hfcheck-key-")))
        repo, record_opens, reason = await _read_record(cfg, codecs, hub, tmp)
        if record_opens is not None:
            verdict = KeyVerdict.OPENS if record_opens else KeyVerdict.WRONG
            return KeyCheck(verdict, key_file, "record", 1, int(record_opens), names_tried, record_repo=repo)
        missing = not reason  # every configured repo answered: no record anywhere
        if names_tried:
            return KeyCheck(KeyVerdict.WRONG, key_file, "names", names_tried, 0, names_tried, record_missing=missing)
        files_tried, files_opened = await _read_files(codecs, hub, tasks, tmp) if tasks else (0, 0)
    if files_opened:
        return KeyCheck(KeyVerdict.OPENS, key_file, "files", files_tried, files_opened, record_missing=missing)
    if files_tried:
        return KeyCheck(KeyVerdict.WRONG, key_file, "files", files_tried, 0, record_missing=missing)
    if reason:
        return KeyCheck(KeyVerdict.UNKNOWN, key_file, "record", reason=reason)
    return KeyCheck(KeyVerdict.UNPROVEN, key_file, "record", record_missing=True)


async def require_key(
    cfg: Config,
    codecs: Codecs | None = None,
    *,
    archive: Archive | None = None,
    hub: Hub,
    writing: bool = True,
) -> KeyCheck:
    """`check_key`, refusing a wrong key (WrongKey, exit 2). A writer (`writing`) is also
    refused when the key could not be checked at all (exit 3); a read-back goes on then, and
    records no unreadable file unless one of its files decrypts."""
    check = await check_key(cfg, codecs, archive=archive, hub=hub)
    problem = check.problem()
    if check.verdict is KeyVerdict.WRONG and problem is not None:
        raise WrongKey(problem.render(cfg.lang))
    if check.verdict is KeyVerdict.UNKNOWN and writing and problem is not None:
        raise IncompleteError(problem.render(cfg.lang))
    return check


__all__ = [
    "RECORD_PATH",
    "RECORD_PLAINTEXT",
    "KeyCheck",
    "KeyVerdict",
    "WrongKey",
    "check_key",
    "require_key",
    "sample_names",
]
