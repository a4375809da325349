"""Command line: `python -m hfcheck SUBCOMMAND`.

click gives us usage errors with exit code 2 and help text for free. Every subcommand takes
the common flags through `@common_options` and receives a ready `Config`. Expected failures
(`HfcheckError`) become one line on stderr and their exit code; never a traceback. So do the
failures no run can prevent: a server that cannot be reached (exit 3) and a file or folder
that cannot be read or written (exit 2), each named.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Coroutine, NoReturn, TypeVar

import click

from hfcheck.config import Config, detect_lang, load_config, parse_set_flags
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_USAGE, ConfigError, HfcheckError, IncompleteError
from hfcheck.report.catalog import msg, t

T = TypeVar("T")

# The subcommands, one module each in hfcheck/commands/ named like the command it defines.
COMMANDS = ("audit", "backup", "crypt", "demo", "doctor", "hub", "migrate", "repair", "restore", "verify", "watch")
# What `pip install 'hfcheck[emulator]'` adds (pyproject.toml), needed by `hub serve` and `demo`
EMULATOR_MODULES = ("blake3", "lz4")

COMMON_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "--config",
        "config_path",
        {"type": click.Path(path_type=Path), "help": "TOML config file (default: ./hfcheck.toml if present)."},
    ),
    ("--db", "db", {"type": click.Path(path_type=Path), "help": "Archive SQLite database."}),
    ("--media-root", "media_root", {"type": click.Path(path_type=Path), "help": "Root of images/ and videos/."}),
    (
        "--repo",
        "repos",
        {"multiple": True, "help": "Repo NS/NAME or bucket hf://buckets/NS/NAME (repeatable; first gets new uploads)."},
    ),
    ("--revision", "revision", {"help": "Repo revision (default main)."}),
    ("--key-file", "key_file", {"type": click.Path(path_type=Path), "help": "Archive key file (base64, mode 0600)."}),
    (
        "--data-dir",
        "data_dir",
        {"type": click.Path(path_type=Path), "help": "Progress, reports and state (default data/)."},
    ),
    (
        "--lang",
        "lang",
        {"type": click.Choice(["en", "ja", "auto"]), "help": "Language of summaries (default: from LANG)."},
    ),
    (
        "--set",
        "set_items",
        {
            "multiple": True,
            "metavar": "KEY=VALUE",
            "help": "Any config key, e.g. --set archive.table=posts (repeatable).",
        },
    ),
]


_lang: list[str] = []  # the language of the run, once its config is loaded (for its error line)


def common_options(
    func: Callable[..., Any], *, stored_token: bool = True, keep_config_error: bool = False
) -> Callable[..., Any]:
    """Add the common flags; the wrapped command gets `cfg: Config` instead of them.

    `keep_config_error` (`doctor`): a config that does not load reaches the command as
    `cfg=None, config_error=...` instead of ending the run, so that it can say so in its own line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config_path = kwargs.pop("config_path")
        set_items = kwargs.pop("set_items")
        flags = {name: kwargs.pop(name) for _, name, _ in COMMON_FLAGS[1:-1]}
        given = {name: value for name, value in flags.items() if value is not None and value != ()}
        try:
            overrides = {**parse_set_flags(set_items), **given}  # a flag not given leaves --set's value
            cfg = load_config(config_path, overrides, stored_token=stored_token)
            _lang[:] = [cfg.lang]
        except ConfigError as exc:
            if not keep_config_error:
                raise
            return func(*args, cfg=None, config_error=exc, **kwargs)
        return func(*args, cfg=cfg, **({"config_error": None} if keep_config_error else {}), **kwargs)

    for flag, name, opts in reversed(COMMON_FLAGS):
        wrapper = click.option(flag, name, default=None, **opts)(wrapper)
    return wrapper


def local_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`common_options` for a command that never contacts the Hub (`crypt`): its `cfg.token` is
    HF_TOKEN or None, never the token `hf auth login` stored (looking that up costs ~0.2 s)."""
    return common_options(func, stored_token=False)


def given_flags() -> tuple[str, ...]:
    """The common flags the user typed for this command, as typed (`--config`, `--db`,
    `--media-root`, `--repo`, `--revision`, `--key-file`, `--data-dir`, `--set`): the advice a
    command prints repeats them, so that it reaches the same archive, key and data folder."""
    params = click.get_current_context().params
    out: list[str] = []
    for flag, name, _ in COMMON_FLAGS:
        if name == "lang":
            continue
        value = params.get(name)
        for item in value if isinstance(value, tuple) else () if value is None else (value,):
            out += [flag, str(item)]
    return tuple(out)


def diagnose_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`common_options` for `doctor`: `cfg` is None and `config_error` says why when the config
    does not load."""
    return common_options(func, keep_config_error=True)


def parsed_by(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that reads an option's value with `parse` (a config parser): its
    ValueError becomes click's usage error (exit 2); an option not given stays None."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def require_emulator(command: str) -> None:
    """`hub serve` and `demo` run the Hub emulator, an optional part: without its extra they
    stop here with one line saying how to install it (exit 2), before anything imports it."""
    if any(importlib.util.find_spec(name) is None for name in EMULATOR_MODULES):
        raise ConfigError(t("need_emulator_extra", detect_lang(os.environ), command=command))


def show_progress_bar() -> bool:
    """Progress bars only for people: on a terminal, and never under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine and return its result. Ctrl-C and SIGTERM cancel it, so its
    `finally` blocks flush progress; then one line and exit code 3 (`IncompleteError`)."""

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await coro

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise IncompleteError(msg("err_interrupted_resume")) from None


class _Commands(click.Group):
    """The subcommands of `hfcheck.commands`, each imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.list_commands(ctx):
            return None
        command = getattr(importlib.import_module(f"hfcheck.commands.{name}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hfcheck")
def cli() -> None:
    """Verify, repair and back up an encrypted media archive on the Hugging Face Hub.

    Exit codes: 0 all good, 1 problems found, 2 usage or configuration error,
    3 could not complete (no access, Hub unreachable, interrupted).
    """


def _network_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of the HTTP stacks in use: aiohttp (ours), httpx (under
    huggingface_hub, which vendors it as httpx2, and twscrape). None of them carries a token."""
    import aiohttp

    kinds: list[type[BaseException]] = [aiohttp.ClientError, ConnectionError, TimeoutError]
    for name in ("httpx", "httpx2"):
        try:
            kinds.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(kinds)


def _fail(message: str | HfcheckError, code: int) -> NoReturn:
    """One line in the run's language (from its config, else the locale), and the exit code."""
    from hfcheck.config import detect_lang
    from hfcheck.report.catalog import t

    lang = _lang[0] if _lang else detect_lang(os.environ)
    text = message.render(lang) if isinstance(message, HfcheckError) else message
    click.echo(t("cli_error", lang, message=text), err=True)
    sys.exit(code)


def _click_failed(exc: click.ClickException) -> NoReturn:
    """Click's own usage errors. Click has no Japanese: under Japanese the common ones (unknown
    option or command, missing argument, bad value, extra argument) are worded from the catalog,
    naming the command's help; English keeps click's own text and usage lines."""
    from hfcheck.config import detect_lang

    lang = _lang[0] if _lang else detect_lang(os.environ)
    help_asked = getattr(click.exceptions, "NoArgsIsHelpError", ())  # a group run bare: its help
    if lang == "en" or not isinstance(exc, click.UsageError) or isinstance(exc, help_asked):
        exc.show()
        sys.exit(exc.exit_code)
    command = exc.ctx.command_path if exc.ctx else "hfcheck"
    if isinstance(exc, click.NoSuchOption):
        words = msg("usage_no_such_option", option=exc.option_name, command=command)
    elif isinstance(exc, click.MissingParameter) and exc.param is not None:
        words = msg("usage_missing", param=_param_name(exc.param), command=command)
    elif isinstance(exc, click.BadParameter) and exc.param is not None:
        inner = exc.__context__  # a config parser's ValueError (`parsed_by`): its words, in Japanese
        detail = (
            inner.args[0] if isinstance(inner, ValueError) and inner.args and hasattr(inner.args[0], "render") else None
        )
        if detail is None:
            detail = exc.message
        words = msg("usage_bad_value", param=_param_name(exc.param), detail=detail, command=command)
    elif isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        words = msg("usage_needs_value", option=exc.option_name, command=command)
    elif exc.message.startswith("No such command"):
        words = msg("usage_no_such_command", detail=exc.message.split(" ", 3)[-1].rstrip("."), command=command)
    elif exc.message.startswith("Got unexpected extra argument"):
        words = msg("usage_extra_argument", detail=exc.message.partition("(")[2].rstrip(")"), command=command)
    else:
        words = msg("usage_other", detail=exc.format_message(), command=command)
    _fail(HfcheckError(words), exc.exit_code)


def _param_name(param: click.Parameter) -> str:
    """How the user writes the parameter: its longest flag, or the argument's metavar."""
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return param.human_readable_name


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m hfcheck` and the `hfcheck` script."""
    try:
        rv = cli.main(args=argv, prog_name="hfcheck", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _click_failed(exc)
    except click.exceptions.Abort:
        click.echo(t("cli_aborted", _lang[0] if _lang else detect_lang(os.environ)), err=True)
        sys.exit(EXIT_INCOMPLETE)
    except HfcheckError as exc:
        _fail(exc, exc.exit_code)
    except _network_errors() as exc:
        _fail(HfcheckError(msg("cli_network", kind=type(exc).__name__, error=str(exc))), EXIT_INCOMPLETE)
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), EXIT_USAGE)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = [
    "cli",
    "common_options",
    "diagnose_options",
    "given_flags",
    "local_options",
    "main",
    "parsed_by",
    "require_emulator",
    "run_async",
    "Config",
]
