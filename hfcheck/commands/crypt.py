"""`hfcheck crypt ...`: key generation, file and name encryption for people and scripts.

The key is only ever read from the key file (`--key-file` or `crypto.key_file`), never from
the command line, where it would end up in shell history and process listings.
"""

from __future__ import annotations

from pathlib import Path

import click

from hfcheck.cli import common_options
from hfcheck.config import Config
from hfcheck.crypto import (
    ArchiveKey,
    decrypt_file,
    encrypt_file,
    generate_key_file,
    load_key,
)
from hfcheck.errors import ConfigError, InputError


def _key(cfg: Config) -> ArchiveKey:
    cfg.require("key_file")
    assert cfg.key_file is not None
    return load_key(cfg.key_file)


def _io_error(exc: OSError) -> InputError:
    """One line naming the file, instead of a traceback."""
    return InputError(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))


def _path_error(exc: ValueError) -> InputError:
    return exc if isinstance(exc, InputError) else InputError(str(exc))


@click.group()
def crypt() -> None:
    """Encrypt and decrypt files and names with the archive key."""


@crypt.command()
@click.argument("keyfile", required=False, type=click.Path(path_type=Path))
@common_options
def keygen(cfg: Config, keyfile: Path | None) -> None:
    """Create a new archive key in KEYFILE (default: the configured key file), mode 0600.

    Refuses to overwrite an existing file: losing the old key loses the archive.
    """
    path = keyfile or cfg.key_file
    if path is None:
        raise ConfigError("give KEYFILE or set 'key_file' (config file or --key-file)")
    generate_key_file(path)
    click.echo(f"wrote a new key to {path} (mode 0600); keep a copy offline: without it the backup cannot be decrypted")


@crypt.command()
@click.argument("src", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("dst", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--path", "remote_path", required=True, help="Path of the file in the repo (bound into the encryption).")
@common_options
def encrypt(cfg: Config, src: Path, dst: Path, remote_path: str) -> None:
    """Encrypt SRC into DST for upload to --path; prints the ciphertext's size and sha256."""
    key = _key(cfg)
    try:
        result = encrypt_file(key, src, dst, remote_path)
    except OSError as exc:
        raise _io_error(exc) from None
    except ValueError as exc:
        raise _path_error(exc) from None
    click.echo(f"{dst}\t{result.size}\t{result.sha256}")


@crypt.command()
@click.argument("src", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("dst", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--path", "remote_path", required=True, help="Path of the file in the repo it was encrypted for.")
@common_options
def decrypt(cfg: Config, src: Path, dst: Path, remote_path: str) -> None:
    """Decrypt and verify SRC into DST; DST appears only if all of SRC verified (exit 1 if not)."""
    key = _key(cfg)
    try:
        digest = decrypt_file(key, src, dst, remote_path)
    except OSError as exc:
        raise _io_error(exc) from None
    except ValueError as exc:
        raise _path_error(exc) from None
    click.echo(f"{dst}\t{digest}")


@crypt.command()
@click.argument("local_path")
@common_options
def name(cfg: Config, local_path: str) -> None:
    """Print the repo path of a local media path, e.g. videos/alice/123_0.mp4."""
    from hfcheck.model.paths import (
        remote_path_for,  # the path model is another module's concern
    )

    key = _key(cfg)
    try:
        click.echo(remote_path_for(key, local_path))
    except ValueError as exc:
        raise _path_error(exc) from None


@crypt.command()
@click.argument("remote_path")
@common_options
def unname(cfg: Config, remote_path: str) -> None:
    """Print the local media path of a repo path (exit 1 if its name does not decrypt)."""
    from hfcheck.model.paths import local_path_for

    key = _key(cfg)
    try:
        click.echo(local_path_for(key, remote_path))
    except ValueError as exc:
        raise _path_error(exc) from None
