"""Click options shared by several commands (kept out of the packages they configure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hfcheck.errors import ConfigError
from hfcheck.readback.sample import Sample


def sample_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Sample | None:
    """`--sample` parsed into a `Sample` (a usage error names the mistake)."""
    if value is None:
        return None
    try:
        return Sample.parse(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


def add_deep_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--deep` and `--sample` for a click command (the command gets `deep: bool`,
    `sample: Sample | None`; `--sample` alone implies `--deep`)."""
    command = click.option(
        "--sample",
        "sample",
        callback=sample_option,
        metavar="n/t|P%|all",
        help="With --deep: files whose path hash mod t == n-1 (t runs cover all), a random P%, or all (default 1/20).",
    )(command)
    return click.option(
        "--deep",
        is_flag=True,
        help="Also download, decrypt and compare a sample of present files with the local files, "
        "and compare recorded upload hashes with the listing.",
    )(command)


__all__ = ["add_deep_options", "sample_option"]
