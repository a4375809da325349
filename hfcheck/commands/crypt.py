"""`hfcheck crypt ...`: key generation, file and name encryption for people and scripts.

Every subcommand works with any scheme (`--scheme hfcheck-v1|fernet|python:pkg.mod:attr`).
Without `--scheme`, `encrypt` and `name` use the write scheme (`crypto.write_scheme`, default
`crypto.scheme`); `decrypt` uses the configured codec that recognises the file, and `unname`
the first whose names decrypt the name.

The key is only ever read from the key file (`--key-file` or `crypto.key_file`), never from
the command line, where it would end up in shell history and process listings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hfcheck.cli import local_options
from hfcheck.config import Config, parse_scheme
from hfcheck.crypto import HEAD_BYTES, Codec, generate_key_file, load_codec, load_codecs
from hfcheck.crypto.codec import NameCodec
from hfcheck.errors import ConfigError, CryptoError, InputError
from hfcheck.report.catalog import Msg, msg


def _check_scheme(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_scheme(value)
    except ValueError as exc:
        raise ConfigError(msg("err_flag_value", flag="--scheme", problem=exc.args[0] if exc.args else exc)) from None


def scheme_option(help: str) -> Any:
    return click.option("--scheme", default=None, callback=_check_scheme, help=help)


def _io_error(exc: OSError) -> InputError:
    """One line naming the file, instead of a traceback."""
    return InputError(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))


def _path_error(exc: ValueError) -> InputError:
    words = exc.args[0] if exc.args and isinstance(exc.args[0], Msg) else str(exc)  # UnsafePath's `Msg`
    return exc if isinstance(exc, InputError) else InputError(words)


def _remote(codec: Codec, remote_path: str | None) -> str:
    if remote_path is None:
        if codec.binds_path:
            raise ConfigError(msg("err_crypt_path_needed", scheme=codec.name))
        return ""
    return remote_path


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError as exc:
        raise _io_error(exc) from None


@click.group()
def crypt() -> None:
    """Encrypt and decrypt files and names with the archive key, in any scheme."""


@crypt.command()
@click.argument("keyfile", required=False, type=click.Path(path_type=Path))
@scheme_option("fernet: write the key in url-safe base64, as Fernet.generate_key() does (both load either way).")
@local_options
def keygen(cfg: Config, keyfile: Path | None, scheme: str | None) -> None:
    """Create a new archive key in KEYFILE (default: the configured key file), mode 0600.

    Refuses to overwrite an existing file: losing the old key loses the archive.
    """
    path = keyfile or cfg.key_file
    if path is None:
        raise ConfigError(msg("err_crypt_keyfile_needed"))
    generate_key_file(path, urlsafe=(scheme or cfg.scheme) == "fernet")
    click.echo(f"wrote a new key to {path} (mode 0600); keep a copy offline: without it the backup cannot be decrypted")


@crypt.command()
@click.argument("src", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("dst", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--path", "remote_path", default=None, help="Path of the file in the repo (bound into hfcheck-v1 files).")
@scheme_option("Scheme to encrypt with (default: the write scheme).")
@local_options
def encrypt(cfg: Config, src: Path, dst: Path, remote_path: str | None, scheme: str | None) -> None:
    """Encrypt SRC into DST for upload to --path; prints the ciphertext's size and sha256."""
    codec = load_codec(cfg, scheme or cfg.write_scheme_or_default)
    try:
        result = codec.encrypt_file(src, dst, _remote(codec, remote_path))
    except OSError as exc:
        raise _io_error(exc) from None
    except ValueError as exc:
        raise _path_error(exc) from None
    click.echo(f"{dst}\t{result.size}\t{result.sha256}")


@crypt.command()
@click.argument("src", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("dst", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--path", "remote_path", default=None, help="Path of the file in the repo it was encrypted for.")
@scheme_option("Scheme to decrypt with (default: the configured one that recognises SRC).")
@local_options
def decrypt(cfg: Config, src: Path, dst: Path, remote_path: str | None, scheme: str | None) -> None:
    """Decrypt and verify SRC into DST; DST appears only if all of SRC verified (exit 1 if not)."""
    if scheme is not None:
        codec = load_codec(cfg, scheme)
    else:
        codecs = load_codecs(cfg)
        found = codecs.codec_for(_head(src))
        if found is None:
            raise CryptoError(msg("err_crypt_unknown_format", src=src, schemes=", ".join(codecs.schemes)))
        codec = found
    try:
        digest = codec.decrypt_file(src, dst, _remote(codec, remote_path))
    except OSError as exc:
        raise _io_error(exc) from None
    except ValueError as exc:
        raise _path_error(exc) from None
    click.echo(f"{dst}\t{digest}")


@crypt.command()
@click.argument("local_path")
@scheme_option("Scheme of the name (default: the write scheme).")
@local_options
def name(cfg: Config, local_path: str, scheme: str | None) -> None:
    """Print the repo path of a local media path, e.g. videos/alice/123_0.mp4."""
    from hfcheck.model.paths import (
        remote_path_for,  # the path model is another module's concern
    )

    codec = load_codec(cfg, scheme or cfg.write_scheme_or_default)
    try:
        click.echo(remote_path_for(codec, local_path))
    except ValueError as exc:
        raise _path_error(exc) from None


@crypt.command()
@click.argument("remote_path")
@scheme_option("Scheme of the name (default: every configured scheme whose names decrypt).")
@local_options
def unname(cfg: Config, remote_path: str, scheme: str | None) -> None:
    """Print the local media path of a repo path (exit 1 if its name does not decrypt)."""
    from hfcheck.model.paths import local_path_for

    names: NameCodec = load_codec(cfg, scheme) if scheme is not None else load_codecs(cfg)
    try:
        click.echo(local_path_for(names, remote_path))
    except ValueError as exc:
        raise _path_error(exc) from None
