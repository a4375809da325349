"""A codec is how an archive encrypts names and bytes (docs/encryption.md, "Codecs").

hfcheck calls a codec through the `Codec` protocol only, so the archive's own scheme (built in:
hfcheck-v1, fernet; or the user's, `python:package.module:attr`) is read and written the same
way. Two bases spare a codec the plumbing: `CodecBase` makes the atomic file methods from the
two stream methods, `OneShotCodec` makes those from `encrypt_bytes`/`decrypt_bytes` (for
schemes that cannot stream, with a size limit because the whole file is held in memory).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from hfcheck.atomic import write_stream_atomic
from hfcheck.crypto.stream import EncryptResult, check_distinct, write_all
from hfcheck.errors import CryptoError, FileTooLarge, OneWayNames
from hfcheck.report.catalog import msg

HEAD_BYTES = 64  # `recognises` is given the first 64 bytes of a file (all of a shorter one)


@runtime_checkable
class Codec(Protocol):
    """What hfcheck needs from an encryption scheme.

    Attributes:
        name: shown in reports and errors (`hfcheck-v1`, `fernet`, a plug-in's own).
        names_reversible: `decrypt_name` works; if False it raises `OneWayNames` and the local
            file is found from the database row (tweet id, media index) instead.
        deterministic_names: `encrypt_name` gives the same result every time, so an upload can be
            found again by computing its path (otherwise only the recorded URL finds it).
        binds_path: the ciphertext is bound to its remote path (moving the file breaks it).
        max_file_size: largest plaintext in bytes it accepts (one-shot schemes); None = streams.

    Every method raises `CryptoError` (or a subclass) for a file or name that does not decrypt,
    `InputError` for a bad input it refuses, and never puts key material in a message.
    """

    name: str
    names_reversible: bool
    deterministic_names: bool
    binds_path: bool
    max_file_size: int | None

    def recognises(self, head: bytes) -> bool:
        """True if a file starting with `head` (HEAD_BYTES, fewer for a short file) is this
        scheme's ciphertext. Cheap, no key needed in principle, and never raises."""
        ...

    def encrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> EncryptResult:
        """Write src's ciphertext (for upload to `remote_path`) into `out`; size and sha256 of it."""
        ...

    def decrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> str:
        """Write src's verified plaintext into `out`; its sha256 (hex). On error `out` may hold
        partial plaintext that must be discarded."""
        ...

    def encrypt_file(self, src: Path, dst: Path, remote_path: str) -> EncryptResult:
        """`encrypt_to` into dst atomically (temp file, fsync, rename)."""
        ...

    def decrypt_file(self, src: Path, dst: Path, remote_path: str) -> str:
        """`decrypt_to` into dst; dst appears (atomically) only if all of src verified."""
        ...

    def encrypt_name(self, parent: str, name: str) -> str:
        """The remote name of local file `name` in repo folder `parent` (a safe path component)."""
        ...

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        """The local name of a remote name; CryptoError if it does not decrypt, OneWayNames if
        the scheme's names are one-way."""
        ...


class NameCodec(Protocol):
    """The name half of a codec (what the path model needs); `ArchiveKey` is one too."""

    def encrypt_name(self, parent: str, name: str) -> str: ...

    def decrypt_name(self, parent: str, encrypted: str) -> str: ...


class CodecBase(ABC):
    """Implement `recognises`, `encrypt_to`, `decrypt_to`, `encrypt_name` (and `decrypt_name`
    when names are reversible); the atomic file methods come from here."""

    name: str = "unnamed"
    names_reversible: bool = True
    deterministic_names: bool = False
    binds_path: bool = False
    max_file_size: int | None = None

    @abstractmethod
    def recognises(self, head: bytes) -> bool: ...

    @abstractmethod
    def encrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> EncryptResult: ...

    @abstractmethod
    def decrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> str: ...

    @abstractmethod
    def encrypt_name(self, parent: str, name: str) -> str: ...

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        raise OneWayNames(msg("err_names_one_way", scheme=self.name, name=encrypted[:100]))

    def encrypt_file(self, src: Path, dst: Path, remote_path: str) -> EncryptResult:
        check_distinct(src, dst)
        result: list[EncryptResult] = []
        write_stream_atomic(Path(dst), lambda out: result.append(self.encrypt_to(src, out, remote_path)))
        return result[0]

    def decrypt_file(self, src: Path, dst: Path, remote_path: str) -> str:
        check_distinct(src, dst)
        digest: list[str] = []
        write_stream_atomic(Path(dst), lambda out: digest.append(self.decrypt_to(src, out, remote_path)))
        return digest[0]

    def __repr__(self) -> str:  # never the key
        return f"<codec {self.name}>"


class OneShotCodec(CodecBase):
    """A scheme that encrypts a whole file at once (no streaming): implement `recognises`,
    `encrypt_bytes`, `decrypt_bytes`, `encrypt_name` (and `decrypt_name`). Files above
    `max_file_size` are refused with one line naming the file and `limit_setting`."""

    max_file_size: int | None = 256 << 20
    limit_setting: str = "the codec's max_file_size"

    @abstractmethod
    def encrypt_bytes(self, data: bytes, remote_path: str) -> bytes: ...

    @abstractmethod
    def decrypt_bytes(self, data: bytes, remote_path: str) -> bytes:
        """The plaintext; raise CryptoError (any other exception is reported as one)."""

    def max_ciphertext_size(self) -> int | None:
        """Largest ciphertext read back: the limit plus a base64-like expansion by default."""
        return None if self.max_file_size is None else self.max_file_size * 4 // 3 + 4096

    def _read(self, src: Path, limit: int | None, what: str) -> bytes:
        with open(src, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if limit is not None and size > limit:
                key = "err_too_large_plaintext" if what == "plaintext" else "err_too_large_ciphertext"
                raise FileTooLarge(
                    msg(
                        key,
                        src=src,
                        size=size,
                        setting=self.limit_setting,
                        limit=limit,
                        scheme=self.name,
                    )
                )
            return f.read()

    def encrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> EncryptResult:
        data = self._read(src, self.max_file_size, "plaintext")
        token = self.encrypt_bytes(data, remote_path)
        del data
        write_all(out, token)
        return EncryptResult(size=len(token), sha256=hashlib.sha256(token).hexdigest())

    def decrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> str:
        token = self._read(src, self.max_ciphertext_size(), "ciphertext")
        try:
            plain = self.decrypt_bytes(token, remote_path)
        except CryptoError as exc:
            raise CryptoError(msg("err_in_file", src=src, error=exc)) from None
        except Exception as exc:  # a plug-in's own error type: one line, never its message
            raise CryptoError(msg("err_codec_no_decrypt", src=src, scheme=self.name, kind=type(exc).__name__)) from None
        del token
        write_all(out, plain)
        return hashlib.sha256(plain).hexdigest()
