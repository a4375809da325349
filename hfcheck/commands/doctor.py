"""`hfcheck doctor`: is this setup ready? One line per check, in the order a newcomer fixes them.

Read-only: the database is opened read-only, the key file is only read, and every Hub request
is a GET (whoami, repo and revision, `xet-write-token`: a write token is handed out to those
who may write, and asking for one writes nothing). A check that depends on a failed one is
skipped, so the first ✗ is the one to fix first.

    ✓ ok    ✗ fix your setup (exit 2)    ? could not check (exit 3)    - skipped
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import click

from hfcheck.cli import diagnose_options, run_async
from hfcheck.config import Config
from hfcheck.errors import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    HfcheckError,
    Unverifiable,
)
from hfcheck.model.paths import BackupURL
from hfcheck.report.catalog import Msg, msg, t

if TYPE_CHECKING:
    from hfcheck.net.hub import Hub

SAMPLE_ROWS = 2000  # rows read for the samples below: enough to meet every account of most archives


class Mark(enum.Enum):
    OK = "✓"
    FIX = "✗"
    UNKNOWN = "?"
    SKIPPED = "-"


@dataclass
class Check:
    """One line: which check, its mark, what was found, and (for ✗ and ?) what to do."""

    name: str  # a catalog key: doctor_name_*
    mark: Mark
    detail: Msg
    fix: Msg | None = None

    def line(self, lang: str) -> str:
        text = f"{self.mark.value} {t(self.name, lang)}: {self.detail.render(lang)}"
        return text + (f" — {t('doctor_fix', lang)}: {self.fix.render(lang)}" if self.fix else "")


@dataclass
class Sample:
    """What the database shows of itself: recorded backup URLs and media URLs of a few rows."""

    backups: list[BackupURL] = field(default_factory=list)
    media_urls: list[str] = field(default_factory=list)


class Doctor:
    """The checks, in order; each appends one `Check`."""

    def __init__(self, cfg: Config, config_path: Path | None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.checks: list[Check] = []
        self.sample = Sample()

    def add(self, name: str, mark: Mark, detail: Msg, fix: Msg | None = None) -> None:
        self.checks.append(Check(name, mark, detail, fix))

    def skip(self, name: str, because: str) -> None:
        self.add(name, Mark.SKIPPED, msg("doctor_skipped", because=because))

    @property
    def exit_code(self) -> int:
        marks = {c.mark for c in self.checks}
        return EXIT_USAGE if Mark.FIX in marks else EXIT_INCOMPLETE if Mark.UNKNOWN in marks else EXIT_OK

    async def run(self) -> None:
        from hfcheck.net.hub import Hub
        from hfcheck.net.retry import RetryPolicy

        self.check_config()
        db_ok = await self.check_database()
        self.check_media_root()
        # one Hub for every check that asks it, with a short policy: doctor reports, it does not wait
        async with Hub(self.cfg, concurrency=4, policy=RetryPolicy(attempts=2), timeout=15.0) as hub:
            await self.check_key(db_ok, hub)
            await self.check_hub(hub)
        self.check_hosts(db_ok)

    # -- local ----------------------------------------------------------------------------------

    def check_config(self) -> None:
        where = str(self.config_path) if self.config_path else "--db --media-root --key-file --repo"
        missing = [n for n in ("db", "media_root", "key_file", "repos") if getattr(self.cfg, n) in (None, ())]
        if missing:
            flags = ", ".join("--repo" if n == "repos" else "--" + n.replace("_", "-") for n in missing)
            self.add(
                "doctor_name_config",
                Mark.FIX,
                msg("doctor_config_missing", where=where, names=", ".join(missing)),
                msg("doctor_config_missing_fix", flags=flags),
            )
        else:
            self.add("doctor_name_config", Mark.OK, msg("doctor_config_ok", where=where))

    async def check_database(self) -> bool:
        from hfcheck.db.archive import Archive

        name = "doctor_name_database"
        if self.cfg.db is None:
            self.skip(name, "archive.db")
            return False
        if not self.cfg.db.is_file():
            self.add(name, Mark.FIX, msg("doctor_db_not_found", db=self.cfg.db), msg("doctor_db_not_found_fix"))
            return False
        try:
            async with Archive(self.cfg) as archive:  # read-only: mode=ro
                journal = next((str(r[0]) for r in await archive.select("PRAGMA journal_mode")), "?")
                rows = await archive.count()
                async for r in archive.rows(page_size=500):
                    self.sample.media_urls += r.media_urls
                    for url in r.hf_urls:
                        try:
                            self.sample.backups.append(BackupURL.parse(url))
                        except ValueError:
                            continue
                    if len(self.sample.media_urls) + len(self.sample.backups) >= SAMPLE_ROWS:
                        break
        except HfcheckError as exc:
            self.add(name, Mark.FIX, msg("doctor_db_bad", error=exc.words or str(exc)), msg("doctor_db_bad_fix"))
            return False
        c = self.cfg.columns
        self.add(
            name,
            Mark.OK,
            msg(
                "doctor_db_ok",
                db=self.cfg.db,
                table=self.cfg.table,
                columns=", ".join(repr(n) for n in (c.id, c.username, c.media_urls, c.huggingface_urls)),
                rows=rows,
                journal=journal,
            ),
        )
        return True

    def check_media_root(self) -> None:
        name, root = "doctor_name_media_root", self.cfg.media_root
        if root is None:
            self.skip(name, "archive.media_root")
        elif not root.is_dir():
            self.add(name, Mark.FIX, msg("doctor_media_not_found", root=root), msg("doctor_media_not_found_fix"))
        elif not os.access(root, os.R_OK | os.X_OK):
            self.add(name, Mark.FIX, msg("doctor_media_unreadable", root=root), msg("doctor_media_unreadable_fix"))
        else:
            found = [d for d in ("images", "videos") if (root / d).is_dir()]
            self.add(name, Mark.OK, msg("doctor_media_ok", root=root, found=", ".join(f"{d}/" for d in found) or "-"))

    async def check_key(self, db_ok: bool, hub: Hub) -> None:
        """The key file reads (mode, format), and the archive's own key check (`readback.keycheck`:
        recorded names, else the key-check record or recorded files; GET requests only) opens it."""
        from hfcheck.crypto.registry import load_codecs
        from hfcheck.readback.keycheck import KeyVerdict, check_key

        name, path = "doctor_name_key", self.cfg.key_file
        if path is None:
            self.skip(name, "crypto.key_file")
            return
        try:
            mode = f"{stat.S_IMODE(path.stat().st_mode):04o}"
            codecs = load_codecs(self.cfg)
        except OSError as exc:
            self.add(name, Mark.FIX, msg("doctor_key_bad", error=f"{path}: {exc.strerror}"), msg("doctor_key_bad_fix"))
            return
        except HfcheckError as exc:
            self.add(name, Mark.FIX, msg("doctor_key_bad", error=exc.words or str(exc)), msg("doctor_key_bad_fix"))
            return
        where = {"path": path, "mode": mode, "scheme": self.cfg.scheme}
        if not db_ok:
            self.add(name, Mark.OK, msg("doctor_key_untried", **where))
            return
        check = await check_key(self.cfg, codecs, hub=hub)
        problem = check.problem()
        if check.verdict is KeyVerdict.OPENS:
            self.add(name, Mark.OK, msg(f"doctor_key_ok_{check.how}", opened=check.opened, tried=check.tried, **where))
        elif check.verdict is KeyVerdict.UNPROVEN:
            self.add(name, Mark.OK, msg("doctor_key_no_names", **where))
        elif check.verdict is KeyVerdict.WRONG and problem is not None:
            self.add(name, Mark.FIX, problem, msg("doctor_key_opens_none_fix"))
        else:
            self.add(name, Mark.UNKNOWN, problem or msg("doctor_key_untried", **where))

    def check_hosts(self, db_ok: bool) -> None:
        from hfcheck.net.hosts import AllowList, url_problem

        name = "doctor_name_hosts"
        allowed = AllowList(self.cfg.allowed_hosts)
        hosts = ", ".join(self.cfg.allowed_hosts) or "-"
        if not db_ok:
            self.skip(name, "archive.db")
            return
        refused = [u for u in self.sample.media_urls if url_problem(u, allowed)]
        if refused:
            others = sorted({urlsplit(u).netloc for u in refused})
            self.add(
                name,
                Mark.FIX,
                msg("doctor_hosts_refused", n=len(refused), total=len(self.sample.media_urls), hosts=", ".join(others)),
                msg("doctor_hosts_refused_fix", allowed=hosts),
            )
        else:
            self.add(name, Mark.OK, msg("doctor_hosts_ok", hosts=hosts, n=len(self.sample.media_urls)))

    # -- the Hub --------------------------------------------------------------------------------

    async def check_hub(self, hub: Hub) -> None:
        """token (who, write access per repo), endpoint (reachable, Xet), each repo and revision."""
        cfg = self.cfg
        try:
            who, body = await hub.request("GET", f"{cfg.endpoint}/api/whoami-v2", "api", want_body=True)
            access = {repo: await hub.access(repo, cfg.revision) for repo in cfg.repos}
            writes = {
                repo: await self._write_token(hub, repo) for repo, (acc, _) in access.items() if acc.value == "ok"
            }
        except Unverifiable as exc:
            down = msg("doctor_unreachable", endpoint=cfg.endpoint)
            self.add("doctor_name_token", Mark.UNKNOWN, down)
            self.add(
                "doctor_name_endpoint",
                Mark.UNKNOWN,
                msg("doctor_endpoint_down", endpoint=cfg.endpoint, error=str(exc)),
                msg("doctor_endpoint_down_fix"),
            )
            self.checks += [Check("doctor_name_repo", Mark.UNKNOWN, down) for _ in cfg.repos]
            return
        self._token_line(who.status, who.detail, _whoami_name(body), writes)
        self._endpoint_line(writes)
        for repo, (acc, why) in access.items():
            self._repo_line(repo, acc.value, why)

    async def _write_token(self, hub: Any, repo: str) -> int:
        """The status of GET xet-write-token: 200 write access and Xet; 401/403 no write access;
        404 without a Hub error code: this server has no Xet (`NO_XET`: uploads go over LFS)."""
        url = f"{self.cfg.endpoint}/api/datasets/{repo}/xet-write-token/{quote(self.cfg.revision, safe='')}"
        answer, _ = await hub.request("GET", url, "api")
        return NO_XET if answer.status == 404 and not answer.error_code else int(answer.status)

    def _token_line(self, status: int, detail: str, user: str, writes: dict[str, int]) -> None:
        name = "doctor_name_token"
        if not self.cfg.token:
            self.add(name, Mark.FIX, msg("doctor_token_none"), msg("doctor_token_fix"))
        elif status != 200:
            self.add(name, Mark.FIX, msg("doctor_token_refused", status=status, error=detail), msg("doctor_token_fix"))
        elif denied := [repo for repo, code in writes.items() if code in (401, 403)]:
            self.add(
                name,
                Mark.FIX,
                msg("doctor_token_no_write", user=user, repos=", ".join(denied)),
                msg("doctor_token_no_write_fix", repos=", ".join(denied)),
            )
        elif unproven := [repo for repo, code in writes.items() if code == NO_XET]:
            self.add(name, Mark.OK, msg("doctor_token_unproven", user=user, repos=", ".join(unproven)))
        elif writes:
            self.add(name, Mark.OK, msg("doctor_token_ok", user=user, repos=", ".join(writes)))
        else:
            self.add(name, Mark.OK, msg("doctor_token_who", user=user))

    def _endpoint_line(self, writes: dict[str, int]) -> None:
        name, endpoint = "doctor_name_endpoint", self.cfg.endpoint
        elsewhere = sorted({u.endpoint for u in self.sample.backups if u.endpoint != endpoint})
        if elsewhere and not any(u.endpoint == endpoint for u in self.sample.backups):
            self.add(
                name,
                Mark.FIX,
                msg("doctor_endpoint_other", endpoint=endpoint, recorded=", ".join(elsewhere[:3])),
                msg("doctor_endpoint_other_fix", recorded=elsewhere[0]),
            )
        elif NO_XET in writes.values():
            self.add(name, Mark.OK, msg("doctor_endpoint_lfs", endpoint=endpoint))
        elif 200 in writes.values():
            self.add(name, Mark.OK, msg("doctor_endpoint_xet", endpoint=endpoint))
        else:
            self.add(name, Mark.OK, msg("doctor_endpoint_ok", endpoint=endpoint))

    def _repo_line(self, repo: str, access: str, why: str) -> None:
        where = f"{repo}@{self.cfg.revision}"
        if access == "ok":
            self.add("doctor_name_repo", Mark.OK, msg("doctor_repo_ok", repo=where))
        elif access == "no_access":
            self.add(
                "doctor_name_repo", Mark.FIX, msg("doctor_repo_no_access", repo=where, why=why), msg("doctor_token_fix")
            )
        elif "revision" in why:
            self.add(
                "doctor_name_repo",
                Mark.FIX,
                msg("doctor_repo_no_revision", repo=where, why=why),
                msg("doctor_repo_no_revision_fix", revision=self.cfg.revision),
            )
        else:
            self.add(
                "doctor_name_repo",
                Mark.FIX,
                msg("doctor_repo_not_found", repo=where, why=why),
                msg("doctor_repo_not_found_fix", repo=repo),
            )


NO_XET = -404  # xet-write-token answered a plain 404: the server has no Xet


def _whoami_name(body: bytes) -> str:
    import json

    try:
        return str(json.loads(body)["name"])
    except (ValueError, KeyError, TypeError):
        return "?"


@click.command()
@diagnose_options
def doctor(cfg: Config | None, config_error: ConfigError | None) -> int:
    """Check the setup, one line per check with what to fix: config, database, media root, key
    file, token, endpoint and Xet, each repo and revision, media hosts. Read-only.

    Exit codes: 0 all good, 2 something to fix, 3 could not check (Hub unreachable).
    """
    from hfcheck.config import detect_lang

    config_path = click.get_current_context().params.get("config_path")
    if cfg is None:
        lang = detect_lang(os.environ)
        check = Check(
            "doctor_name_config",
            Mark.FIX,
            msg("doctor_config_bad", error=config_error.words or str(config_error) if config_error else ""),
            msg("doctor_config_bad_fix"),
        )
        click.echo(check.line(lang))
        return EXIT_USAGE
    d = Doctor(cfg, Path(config_path) if config_path else None)
    run_async(d.run())
    for check in d.checks:
        click.echo(check.line(cfg.lang))
    code = d.exit_code
    click.echo(
        t({EXIT_OK: "doctor_all_ok", EXIT_USAGE: "doctor_to_fix", EXIT_INCOMPLETE: "doctor_unknown"}[code], cfg.lang)
    )
    return code
