"""Key files, and the hfcheck-v1 archive key derived from one.

One loader for every scheme: `read_key_file` checks the file (regular, mode 0600, small) and
returns its bytes; `decode_key` turns one line of base64 (standard or url-safe alphabet, so a
`Fernet.generate_key()` file and a `crypt keygen` file both load) into the 32 raw bytes.
Plug-in codecs get the checked bytes and decode them as their scheme needs.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hfcheck.crypto.names import norm_path, siv_decrypt_name, siv_encrypt_name
from hfcheck.errors import InputError
from hfcheck.report.catalog import msg

if TYPE_CHECKING:
    from hfcheck.config import Config

KEY_SIZE = 32
FILE_INFO = b"hfcheck v1 file key\x00"  # || NFC(remote path), UTF-8
NAME_INFO = b"hfcheck v1 name key"
NAME_KEY_SIZE = 64  # AES-256-SIV
MAX_KEY_FILE_BYTES = 4096


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869); checked against the RFC's test cases in tests/vectors."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class ArchiveKey:
    """The 32-byte archive key and its derived name key; `repr()` never shows either."""

    __slots__ = ("_raw", "_siv")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != KEY_SIZE:
            raise ValueError(f"an archive key is exactly {KEY_SIZE} bytes")
        self._raw = bytes(raw)
        self._siv = AESSIV(_hkdf(self._raw, None, NAME_INFO, NAME_KEY_SIZE))

    @classmethod
    def from_bytes(cls, raw: bytes) -> ArchiveKey:
        return cls(raw)

    def __repr__(self) -> str:
        return "ArchiveKey(<secret>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:  # keep the key out of pickles (process pools, caches)
        raise TypeError("ArchiveKey cannot be pickled")

    def file_cipher(self, nonce: bytes, remote_path: str) -> ChaCha20Poly1305:
        """The per-file AEAD: a fresh key per file, bound to its path in the repo."""
        info = FILE_INFO + norm_path(remote_path).encode("utf-8")
        return ChaCha20Poly1305(_hkdf(self._raw, nonce, info, KEY_SIZE))

    def encrypt_name(self, parent: str, name: str) -> str:
        """Deterministic: the same (parent, name) always gives the same remote name."""
        return siv_encrypt_name(self._siv, parent, name)

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        """Reverse `encrypt_name`; any malformed, altered or foreign name raises CryptoError."""
        return siv_decrypt_name(self._siv, parent, encrypted)


def generate_key_file(path: Path, *, urlsafe: bool = False) -> None:
    """Write a new random key (base64, one line) with mode 0600; never overwrite a file.

    `urlsafe` writes the url-safe alphabet, exactly what `Fernet.generate_key()` gives."""
    raw = os.urandom(KEY_SIZE)
    text = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(msg("err_key_exists", path=path)) from None
    except OSError as exc:
        raise InputError(msg("err_key_cannot_create", path=path, error=exc.strerror)) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # the umask could only have removed bits; make it exact
        os.write(fd, text + b"\n")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def read_key_file(path: Path) -> bytes:
    """The key file's bytes, surrounding whitespace stripped; refuse a file that others can
    read, that is not a regular file, or that is too large to be a key."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise InputError(msg("err_key_absent", path=path)) from None
    except OSError as exc:
        raise InputError(msg("err_key_unreadable", path=path, error=exc.strerror)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(msg("err_key_not_regular", path=path))
        if os.name == "posix" and st.st_mode & 0o077:
            raise InputError(msg("err_key_mode", path=path, mode=f"{stat.S_IMODE(st.st_mode):04o}"))
        data = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InputError(msg("err_key_too_large", path=path, limit=MAX_KEY_FILE_BYTES))
    return data.strip()


def decode_key(data: bytes, path: Path | str = "key file") -> bytes:
    """One line of base64 (standard or url-safe alphabet) encoding exactly 32 bytes."""
    bad = InputError(msg("err_key_not_base64", path=path, size=KEY_SIZE))
    if len(data.splitlines()) != 1:
        raise bad
    try:
        raw = base64.b64decode(data.translate(bytes.maketrans(b"-_", b"+/")), validate=True)
    except (binascii.Error, ValueError):
        raise bad from None
    if len(raw) != KEY_SIZE:
        raise bad
    return raw


def load_key(path: Path) -> ArchiveKey:
    """Read a key file as an hfcheck-v1 archive key."""
    return ArchiveKey(decode_key(read_key_file(path), path))


def configured_key_file(cfg: Config) -> Path:
    """`crypto.key_file`, or one line naming the setting when it is not set."""
    cfg.require("key_file")
    assert cfg.key_file is not None
    return cfg.key_file


def archive_key(cfg: Config) -> ArchiveKey:
    """The configured key file as an hfcheck-v1 key: the one place a command loads it."""
    return load_key(configured_key_file(cfg))
