"""Settings: defaults < `hfcheck.toml` < environment (`HF_ENDPOINT`, `HF_TOKEN`) < flags.

One frozen `Config` is built per run and handed to every stage. The token is kept out of
`repr()` so it cannot leak into logs, reports or exception messages.
"""

from __future__ import annotations

import dataclasses
import locale
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hfcheck.errors import ConfigError, UnsafePath
from hfcheck.model.hosts import parse_host_entry
from hfcheck.model.paths import BUCKET_PREFIX, destination_id
from hfcheck.report.catalog import msg

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_CONFIG_NAME = "hfcheck.toml"
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}\Z")  # \Z: no "a/b\n"
SQL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
DEFAULT_ALLOWED_HOSTS = ("pbs.twimg.com", "video.twimg.com")
BUILTIN_SCHEMES = ("hfcheck-v1", "fernet")
# python:package.module:attr (attr may be dotted): a codec from the user's own code.
PLUGIN_SCHEME_RE = re.compile(
    r"^python:(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)
DEFAULT_MAX_FERNET_BYTES = 256 << 20  # 256 MiB: Fernet peaks at ~7.7x the file encrypting (docs/encryption.md)


@dataclass(frozen=True)
class Columns:
    """Column names of the tweets table (configurable for archives with other names)."""

    id: str = "id"
    username: str = "username"
    media_urls: str = "media_urls"
    huggingface_urls: str = "huggingface_urls"


FREE_PLAN = {"resolvers": 5000, "api": 1000}  # requests per 5-minute window (hub-docs rate-limits)


@dataclass(frozen=True)
class Limits:
    """Request budgets per window. None = the free plan's, raised when the Hub's headers show a
    larger quota (a PRO token runs faster unconfigured); a configured value is a hard ceiling."""

    window_seconds: float = 300.0
    resolvers_per_window: int | None = None
    api_per_window: int | None = None
    commits_per_hour: int = 128
    downloads_per_second_per_host: float = 10.0


@dataclass(frozen=True)
class WatchSettings:
    """`[watch]`: the service's pace (docs/watch.md)."""

    interval: float = 60.0  # seconds between polls of the archive
    audit_every: float = 86400.0  # seconds between scheduled audits; 0 = never
    rescan_every: int = 10  # full gap rescan every N polls (keyset polls in between)
    metrics_port: int = 0  # 0 = no metrics endpoint
    stop_grace: float = 120.0  # on SIGTERM, seconds the commit in flight may take before it is abandoned
    commit_linger: float = 2.0  # seconds a commit waits for more files once it has one (less: fresher, more commits)


@dataclass(frozen=True)
class NotifySettings:
    """`[notify]`: where alerts go. Both URLs are secrets (a webhook URL is its own credential)."""

    webhook_url: str | None = field(default=None, repr=False)
    ping_url: str | None = field(default=None, repr=False)
    failure_after: float = 3600.0  # alert when backups keep failing this long


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know. Paths are resolved against the working directory."""

    db: Path | None = None
    table: str = "tweets"
    columns: Columns = field(default_factory=Columns)
    media_root: Path | None = None
    search_roots: tuple[Path, ...] = ()  # other folders holding copies of the media (repair looks there)
    repos: tuple[str, ...] = ()
    revision: str = "main"
    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    scheme: str = "hfcheck-v1"  # how the archive encrypts names and bytes (hfcheck.crypto.registry)
    write_scheme: str | None = None  # what repair/backup write; None = `scheme`
    max_fernet_bytes: int = DEFAULT_MAX_FERNET_BYTES
    data_dir: Path = Path("data")
    lang: str = "en"
    concurrency: int = 64
    limits: Limits = field(default_factory=Limits)
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    twscrape_accounts_db: Path | None = None
    max_files_per_repo: int = 100_000
    max_files_per_folder: int = 10_000
    watch: WatchSettings = field(default_factory=WatchSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    def require(self, *names: str) -> None:
        """Fail with one line naming the first required setting that is not set."""
        for name in names:
            value = getattr(self, name)
            if value is None or value == ():
                flag = "--repo" if name == "repos" else "--" + name.replace("_", "-")
                raise ConfigError(msg("err_setting_required", name=name, flag=flag))

    @property
    def write_scheme_or_default(self) -> str:
        """The scheme repair and backup write with: `crypto.write_scheme`, else the archive's."""
        return self.write_scheme or self.scheme

    @property
    def repo(self) -> str:
        """The first configured repo: where new uploads go unless it is full."""
        self.require("repos")
        return self.repos[0]


# Config-file keys: section.key -> (Config field, converter). Flat, so that every key has
# exactly one flag and one line in hfcheck.example.toml.
def _path(v: Any) -> Path:
    if not isinstance(v, str) or not v:
        raise ValueError(msg("err_value_path"))
    return Path(v).expanduser()


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(msg("err_value_string"))
    return v


def _pos_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(msg("err_value_pos_int"))
    return v


def _pos_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise ValueError(msg("err_value_pos_number"))
    return float(v)


def _port(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 65535:
        raise ValueError(msg("err_value_port"))
    return v


def _http_url(v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^https?://[^/\s]+(/\S*)?$", v):
        raise ValueError(msg("err_value_url"))  # the value itself is a secret: never echoed
    return v


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(v: Any) -> float:
    """Seconds from `90`, `"90s"`, `"15m"`, `"24h"`, `"7d"`; `0`/`"0"` means off."""
    if isinstance(v, bool):
        raise ValueError(msg("err_value_duration"))
    if isinstance(v, (int, float)) and v >= 0:
        return float(v)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", v) if isinstance(v, str) else None
    if not m:
        raise ValueError(msg("err_value_duration"))
    return float(m.group(1)) * DURATION_UNITS[m.group(2) or "s"]


def parse_scheme(v: Any) -> str:
    if not isinstance(v, str) or not (v in BUILTIN_SCHEMES or PLUGIN_SCHEME_RE.fullmatch(v)):
        raise ValueError(msg("err_value_scheme", schemes=" | ".join(repr(s) for s in BUILTIN_SCHEMES), value=repr(v)))
    return v


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ValueError(msg("err_value_str_list"))
    return tuple(v)


def _host_list(v: Any) -> tuple[str, ...]:
    """Allow-list entries, each checked as the downloader will read it (a bad one is refused here)."""
    hosts = _str_list(v)
    for entry in hosts:
        parse_host_entry(entry)
    return hosts


def _path_list(v: Any) -> tuple[Path, ...]:
    return tuple(_path(x) for x in _str_list(v))


KEYS: dict[str, tuple[str, Any]] = {
    "archive.db": ("db", _path),
    "archive.table": ("table", _str),
    "archive.media_root": ("media_root", _path),
    "archive.search_roots": ("search_roots", _path_list),
    "archive.columns.id": ("columns.id", _str),
    "archive.columns.username": ("columns.username", _str),
    "archive.columns.media_urls": ("columns.media_urls", _str),
    "archive.columns.huggingface_urls": ("columns.huggingface_urls", _str),
    "hub.endpoint": ("endpoint", _str),
    "hub.repos": ("repos", _str_list),
    "hub.revision": ("revision", _str),
    "hub.max_files_per_repo": ("max_files_per_repo", _pos_int),
    "hub.max_files_per_folder": ("max_files_per_folder", _pos_int),
    "crypto.key_file": ("key_file", _path),
    "crypto.scheme": ("scheme", parse_scheme),
    "crypto.write_scheme": ("write_scheme", parse_scheme),
    "crypto.max_fernet_bytes": ("max_fernet_bytes", _pos_int),
    "run.data_dir": ("data_dir", _path),
    "run.lang": ("lang", _str),
    "run.concurrency": ("concurrency", _pos_int),
    "limits.window_seconds": ("limits.window_seconds", _pos_float),
    "limits.resolvers_per_window": ("limits.resolvers_per_window", _pos_int),
    "limits.api_per_window": ("limits.api_per_window", _pos_int),
    "limits.commits_per_hour": ("limits.commits_per_hour", _pos_int),
    "limits.downloads_per_second_per_host": ("limits.downloads_per_second_per_host", _pos_float),
    "download.allowed_hosts": ("allowed_hosts", _host_list),
    "twitter.accounts_db": ("twscrape_accounts_db", _path),
    "watch.interval": ("watch.interval", _pos_float),
    "watch.audit_every": ("watch.audit_every", parse_duration),
    "watch.rescan_every": ("watch.rescan_every", _pos_int),
    "watch.metrics_port": ("watch.metrics_port", _port),
    "watch.stop_grace": ("watch.stop_grace", _pos_float),
    "watch.commit_linger": ("watch.commit_linger", _pos_float),
    "notify.webhook_url": ("notify.webhook_url", _http_url),
    "notify.ping_url": ("notify.ping_url", _http_url),
    "notify.failure_after": ("notify.failure_after", _pos_float),
}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in KEYS:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML config into {field: value}; unknown keys and bad values name themselves."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(msg("err_config_not_found", path=path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(msg("err_config_not_toml", path=path, error=exc)) from None
    return _convert(_flatten(raw), str(path))


def _convert(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """{section.key: raw value} -> {Config field: checked value}."""
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in KEYS:
            raise ConfigError(msg("err_unknown_setting", where=where, setting=key))
        name, convert = KEYS[key]
        try:
            values[name] = convert(value)
        except ValueError as exc:
            problem = exc.args[0] if exc.args else exc
            raise ConfigError(msg("err_setting_value", where=where, setting=key, problem=problem)) from None
    return values


def parse_set_flags(items: Iterable[str]) -> dict[str, Any]:
    """`--set section.key=VALUE` (VALUE in TOML syntax, or a bare string): any config key as a flag."""
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(msg("err_set_flag", item=repr(item)))
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        settings[key.strip()] = value
    return _convert(settings, "--set")


def detect_lang(env: Mapping[str, str]) -> str:
    """'ja' when the locale is Japanese (LC_ALL, LC_MESSAGES, LANG, as gettext reads them)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "ja" if loc.lower().startswith("ja") else "en"


def _stored_token() -> str | None:
    """The token `huggingface_hub` stored after `hf auth login` (HF_TOKEN wins inside it)."""
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # pragma: no cover - a broken token store must not stop a run
        return None


def load_config(
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    stored_token: bool = True,
) -> Config:
    """Build the run's Config. `overrides` are flag values by Config field (None = not given).

    `stored_token=False`: a command that never contacts the Hub (`crypt`) does not look up the
    token `hf auth login` stored; that lookup imports huggingface_hub (~0.2 s of a 0.5 s run)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if config_path is not None:
        values.update(read_config_file(config_path))
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        values.update(read_config_file(Path(DEFAULT_CONFIG_NAME)))
    if env.get("HF_ENDPOINT"):
        values["endpoint"] = env["HF_ENDPOINT"]
    values.setdefault("lang", "auto")
    for name, value in (overrides or {}).items():
        if value is not None and value != ():
            values[name] = value
    if values.get("lang") == "auto":
        values["lang"] = detect_lang(env)
    values["endpoint"] = str(values.get("endpoint", DEFAULT_ENDPOINT)).rstrip("/")
    # An explicit env (tests) never falls back to the token stored on this machine.
    values["token"] = env.get("HF_TOKEN") or (_stored_token() if env is os.environ and stored_token else None)
    return _build(values)


def _destination(repo: str) -> str:
    try:
        return destination_id(repo)
    except UnsafePath:
        raise ConfigError(msg("err_not_repo_id", repo=repo)) from None


def _build(values: dict[str, Any]) -> Config:
    nested: dict[str, dict[str, Any]] = {"columns": {}, "limits": {}, "watch": {}, "notify": {}}
    flat: dict[str, Any] = {}
    for name, value in values.items():
        head, _, tail = name.partition(".")
        if tail:
            nested[head][tail] = value
        else:
            flat[name] = value
    if "repos" in flat:  # hf://datasets/NS/NAME is NS/NAME; hf://buckets/NS/NAME names a Storage Bucket
        flat["repos"] = tuple(_destination(r) for r in flat["repos"])
    cfg = Config(
        columns=dataclasses.replace(Columns(), **nested["columns"]),
        limits=dataclasses.replace(Limits(), **nested["limits"]),
        watch=dataclasses.replace(WatchSettings(), **nested["watch"]),
        notify=dataclasses.replace(NotifySettings(), **nested["notify"]),
        **flat,
    )
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    if cfg.lang not in ("en", "ja"):
        raise ConfigError(msg("err_setting_lang", value=repr(cfg.lang)))
    if not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", cfg.endpoint):
        raise ConfigError(msg("err_setting_endpoint", value=repr(cfg.endpoint)))
    for name in (cfg.table, *dataclasses.astuple(cfg.columns)):
        if not SQL_NAME_RE.match(name):
            raise ConfigError(msg("err_not_sql_name", name=name))
    for repo in cfg.repos:
        name = repo.removeprefix(BUCKET_PREFIX)
        if not REPO_ID_RE.match(name) or ".." in name:
            raise ConfigError(msg("err_not_repo_id", repo=repo))
    if not cfg.revision or "\x00" in cfg.revision or ".." in cfg.revision:
        raise ConfigError(msg("err_setting_revision", value=repr(cfg.revision)))
