"""From the config to codecs: the one that writes, and those that read, file by file.

    codecs = load_codecs(cfg)
    codecs.write                     # crypto.write_scheme (default: crypto.scheme)
    codecs.codec_for(first_bytes)    # the read codec that recognises a file, or None (unknown_format)
    codecs.decrypt_name(parent, n)   # the first read codec whose names decrypt it

Read order: the configured scheme, the write scheme, then the built-ins (each once), so that
an archive holding several formats (a migration half done, a repair in another scheme) is read
correctly; the key file is read once, by `crypto.keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hfcheck.config import BUILTIN_SCHEMES
from hfcheck.crypto.codec import HEAD_BYTES, Codec
from hfcheck.crypto.fernet import FernetCodec
from hfcheck.crypto.keys import ArchiveKey, configured_key_file, decode_key, read_key_file
from hfcheck.crypto.plugin import load_plugin
from hfcheck.crypto.v1 import HfcheckV1Codec
from hfcheck.errors import ConfigError, CryptoError, InputError, OneWayNames
from hfcheck.report.catalog import msg

if TYPE_CHECKING:
    from hfcheck.config import Config


class _KeySource:
    """Reads the configured key file at most once, and only if a codec needs it."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._data: bytes | None = None

    @property
    def path(self) -> Path:
        return configured_key_file(self._cfg)

    def data(self) -> bytes:
        if self._data is None:
            self._data = read_key_file(self.path)
        return self._data

    def raw32(self) -> bytes:
        return decode_key(self.data(), self.path)


def _build(scheme: str, cfg: Config, keys: _KeySource) -> Codec:
    if scheme == "hfcheck-v1":
        return HfcheckV1Codec(ArchiveKey(keys.raw32()))
    if scheme == "fernet":
        return FernetCodec(keys.raw32(), max_file_size=cfg.max_fernet_bytes)
    if scheme.startswith("python:"):
        return load_plugin(scheme, keys.data)
    raise ConfigError(msg("err_unknown_scheme", scheme=scheme, schemes=" | ".join(BUILTIN_SCHEMES)))


def load_codec(cfg: Config, scheme: str | None = None) -> Codec:
    """One codec by scheme name (default: the configured `crypto.scheme`), e.g. `migrate --to`."""
    return _build(scheme or cfg.scheme, cfg, _KeySource(cfg))


@dataclass(frozen=True)
class Codecs:
    """The write codec and the read codecs of a run (in recognition order, write among them)."""

    write: Codec
    read: tuple[Codec, ...]
    schemes: tuple[str, ...]  # the scheme name of each read codec, same order

    def codec_for(self, head: bytes) -> Codec | None:
        """The first read codec that recognises a file's first bytes; None: no configured
        codec knows the format (`unknown_format`: never decrypt_failed, never overwritten)."""
        head = bytes(head[:HEAD_BYTES])
        for codec in self.read:
            try:
                if codec.recognises(head):
                    return codec
            except Exception:  # a plug-in's recogniser must not stop a run: it does not know the file
                continue
        return None

    def by_scheme(self, scheme: str) -> Codec:
        """The read codec loaded for `scheme` (ConfigError if it is not one of them)."""
        try:
            return self.read[self.schemes.index(scheme)]
        except ValueError:
            raise ConfigError(
                msg("err_scheme_not_configured", scheme=scheme, schemes=", ".join(self.schemes))
            ) from None

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        """The local name, from the first read codec with reversible names that decrypts it.
        CryptoError if none does (OneWayNames if no read codec has reversible names)."""
        tried = [c for c in self.read if c.names_reversible]
        if not tried:
            raise OneWayNames(msg("err_no_scheme_names", schemes=", ".join(self.schemes), name=encrypted[:100]))
        for codec in tried:
            try:
                return codec.decrypt_name(parent, encrypted)
            except CryptoError:
                continue
        schemes = ", ".join(c.name for c in tried)
        raise CryptoError(msg("err_name_does_not_decrypt", name=encrypted[:300], parent=parent, schemes=schemes))

    def encrypt_name(self, parent: str, name: str) -> str:
        """The write codec's name (so a `Codecs` can stand where the path model wants a key)."""
        return self.write.encrypt_name(parent, name)


def load_codecs(cfg: Config) -> Codecs:
    """The run's codecs from `crypto.scheme`, `crypto.write_scheme` and `crypto.key_file`.

    A built-in added only as a fallback reader is skipped when the key file is not a 32-byte
    base64 key (a plug-in's own key format): it cannot have written anything with that key."""
    keys = _KeySource(cfg)
    wanted = [cfg.scheme, cfg.write_scheme_or_default]
    schemes: list[str] = []
    read: list[Codec] = []
    for scheme in [*wanted, *BUILTIN_SCHEMES]:
        if scheme in schemes:
            continue
        try:
            codec = _build(scheme, cfg, keys)
        except (InputError, ConfigError):
            if scheme in wanted:
                raise
            continue
        schemes.append(scheme)
        read.append(codec)
    write = read[schemes.index(cfg.write_scheme_or_default)]
    return Codecs(write=write, read=tuple(read), schemes=tuple(schemes))
