"""hfcheck-v1 file contents: a chunked AEAD stream (written down in docs/encryption.md,
frozen by tests/vectors/hfcheck_v1.json).

    header  = MAGIC (7 bytes "HFCKENC") || VERSION (1 byte, 0x01) || nonce (32 random bytes)
    filekey = HKDF-SHA256(ikm=archive key, salt=nonce, info=FILE_INFO || NFC(remote path))
    chunk i = ChaCha20-Poly1305(filekey, counter_i (11 bytes BE) || final (1 byte), plaintext_i,
                                aad=header)

Plaintext is cut in 64 KiB chunks (age STREAM): every chunk is full except the last, which
carries final=0x01 even when it is full; only an empty file has an empty (final) chunk. So a
flipped bit, a reordered, dropped or repeated chunk, a truncation (at a chunk boundary too,
unlike rclone crypt), an extension, trailing bytes or a file moved to another path all fail.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from hfcheck.atomic import write_stream_atomic
from hfcheck.crypto.keys import ArchiveKey
from hfcheck.crypto.names import norm_path
from hfcheck.errors import CryptoError, InputError
from hfcheck.report.catalog import Msg, msg

CHUNK_SIZE = 65536
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
MAGIC = b"HFCKENC"
VERSION = 1
NONCE_SIZE = 32
HEADER_SIZE = len(MAGIC) + 1 + NONCE_SIZE  # 40
COUNTER_SIZE = 11
MAX_CHUNKS = 1 << (8 * COUNTER_SIZE)  # chunk counter space: far beyond any real file


# --- sizes -------------------------------------------------------------------------------


def encrypted_size(plain_size: int) -> int:
    """Exact ciphertext size: header, plaintext, one tag per chunk (at least one chunk)."""
    if plain_size < 0:
        raise ValueError("size must be >= 0")
    chunks = max(1, -(-plain_size // CHUNK_SIZE))
    return HEADER_SIZE + plain_size + chunks * TAG_SIZE


def plaintext_size(cipher_size: int) -> int:
    """Inverse of `encrypted_size`; CryptoError for a size no valid file can have."""
    body = cipher_size - HEADER_SIZE
    if body < TAG_SIZE:
        raise CryptoError(msg("err_enc_size_short", size=cipher_size))
    full, rest = divmod(body, SEALED_CHUNK_SIZE)
    if rest == 0:
        return full * CHUNK_SIZE
    if rest < TAG_SIZE or (rest == TAG_SIZE and full > 0):
        raise CryptoError(msg("err_enc_size_cut", size=cipher_size))
    return full * CHUNK_SIZE + rest - TAG_SIZE


# --- chunk stream ------------------------------------------------------------------------


def _header(nonce: bytes) -> bytes:
    return MAGIC + bytes([VERSION]) + nonce


def _chunk_nonce(counter: int, final: bool) -> bytes:
    if counter >= MAX_CHUNKS:
        raise CryptoError(msg("err_enc_too_many_chunks"))
    return counter.to_bytes(COUNTER_SIZE, "big") + (b"\x01" if final else b"\x00")


Buffer = bytes | bytearray | memoryview


class Encryptor:
    """Incremental encryption: the concatenated outputs of `update()`s and `finalize()` are
    the whole encrypted file (header first). Buffers at most one chunk of plaintext."""

    def __init__(self, key: ArchiveKey, remote_path: str, *, _nonce: bytes | None = None) -> None:
        nonce = os.urandom(NONCE_SIZE) if _nonce is None else _nonce  # _nonce: vectors only
        if len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 32 bytes")
        self.header = _header(nonce)
        self._aead = key.file_cipher(nonce, remote_path)
        self._counter = 0
        self._buf = bytearray()
        self._header_sent = False
        self._done = False

    def _next_nonce(self, size: int, final: bool) -> bytes:
        if self._done:
            raise CryptoError("encryptor already finalized")
        if size > CHUNK_SIZE or (not final and size != CHUNK_SIZE):
            raise ValueError("only the final chunk may be shorter than CHUNK_SIZE")
        if final and not size and self._counter:
            raise ValueError("an empty final chunk is only allowed for an empty file")
        nonce = _chunk_nonce(self._counter, final)
        self._counter += 1
        self._done = final
        return nonce

    def seal(self, chunk: Buffer, final: bool) -> bytes:
        """Seal the next chunk (full size unless final); the caller decides what is last."""
        return self._aead.encrypt(self._next_nonce(len(chunk), final), chunk, self.header)

    def seal_into(self, chunk: Buffer, final: bool, out: memoryview) -> int:
        """`seal` into a caller's buffer (no allocation); returns len(chunk) + 16."""
        n = len(chunk) + TAG_SIZE
        return self._aead.encrypt_into(self._next_nonce(len(chunk), final), chunk, self.header, out[:n])

    def _take_header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return self.header

    def update(self, data: Buffer) -> bytes:
        """Feed plaintext; returns whatever is ready (a chunk is sealed once more data follows)."""
        if self._done:
            raise CryptoError("encryptor already finalized")
        out = [self._take_header()]
        self._buf += data
        view = memoryview(self._buf)
        pos = 0
        while len(self._buf) - pos > CHUNK_SIZE:
            out.append(self.seal(view[pos : pos + CHUNK_SIZE], final=False))
            pos += CHUNK_SIZE
        view.release()
        del self._buf[:pos]
        return b"".join(out)

    def finalize(self) -> bytes:
        """Seal the last (flagged) chunk."""
        head = self._take_header()
        last = self.seal(bytes(self._buf), final=True)
        self._buf = bytearray()
        return head + last

    def stream(self, source: BinaryIO | Iterable[Buffer]) -> Iterator[bytes]:
        """Yield the header, then each sealed chunk, from a binary file or byte iterator."""
        if hasattr(source, "read"):
            reader: BinaryIO = source  # type: ignore[assignment]  # hasattr() does not narrow a union
            yield self._take_header()
            current = _read_full(reader, CHUNK_SIZE)
            while True:
                nxt = _read_full(reader, CHUNK_SIZE) if len(current) == CHUNK_SIZE else b""
                yield self.seal(current, final=not nxt)
                if not nxt:
                    return
                current = nxt
        else:
            for data in source:
                out = self.update(data)
                if out:
                    yield out
            yield self.finalize()


class Decryptor:
    """Incremental decryption and verification. `update()` returns verified plaintext as
    chunks complete (holding back at most one sealed chunk, which might be the last);
    `finalize()` checks the final chunk, so a truncated stream can never pass."""

    def __init__(self, key: ArchiveKey, remote_path: str) -> None:
        self._key = key
        self._remote_path = norm_path(remote_path)
        self._aead: ChaCha20Poly1305 | None = None
        self._header = b""
        self._counter = 0
        self._buf = bytearray()
        self._state = "open"  # open -> done | failed

    def update(self, data: Buffer) -> bytes:
        """Feed ciphertext; returns the plaintext of every chunk now known not to be last."""
        self._check_open()
        self._state = "failed"  # until this call returns normally
        self._buf += data
        if self._aead is None:
            if len(self._buf) < HEADER_SIZE:
                self._check_magic(bytes(self._buf))
                self._state = "open"
                return b""
            self.start(bytes(self._buf[:HEADER_SIZE]))
            del self._buf[:HEADER_SIZE]
        out = []
        view = memoryview(self._buf)
        pos = 0
        while len(self._buf) - pos > SEALED_CHUNK_SIZE:
            out.append(self._open(view[pos : pos + SEALED_CHUNK_SIZE], final=False))
            pos += SEALED_CHUNK_SIZE
        view.release()
        del self._buf[:pos]
        self._state = "open"
        return b"".join(out)

    def finalize(self) -> bytes:
        """Verify the final chunk; CryptoError if it is missing or data followed it."""
        self._check_open()
        self._state = "failed"
        if self._aead is None:
            raise CryptoError(msg("err_enc_header_cut", path=self._remote_path))
        if len(self._buf) < TAG_SIZE:
            raise CryptoError(msg("err_enc_final_missing", path=self._remote_path))
        if len(self._buf) == TAG_SIZE and self._counter:
            raise CryptoError(msg("err_enc_empty_final", path=self._remote_path))
        plain = self._open(bytes(self._buf), final=True)
        self._buf = bytearray()
        self._state = "done"
        return plain

    def start(self, header: bytes) -> None:
        """Check the header (magic, version) and derive the file key from its nonce."""
        if self._aead is not None:
            raise CryptoError("decryptor already started")
        self._check_magic(header)
        if len(header) != HEADER_SIZE:
            raise CryptoError(msg("err_enc_header_cut", path=self._remote_path))
        if header[len(MAGIC)] != VERSION:
            raise CryptoError(msg("err_enc_version", path=self._remote_path, version=header[len(MAGIC)]))
        self._header = header
        self._aead = self._key.file_cipher(header[len(MAGIC) + 1 :], self._remote_path)

    def open_into(self, sealed: Buffer, final: bool, out: memoryview) -> int:
        """Verify and decrypt the next chunk into a caller's buffer; returns its length.
        `out` holds unverified bytes if this raises: never use it then."""
        self._check_open()
        return self._open_into(sealed, final, out)

    def done(self) -> None:
        """Mark the stream complete after `open_into(..., final=True)` succeeded."""
        if self._counter == 0 or self._state != "open":
            raise CryptoError(f"{self._remote_path}: truncated: the final chunk is missing")
        self._state = "done"

    def _check_open(self) -> None:
        if self._state != "open":
            raise CryptoError("decryptor already finalized or failed")

    def _check_magic(self, data: bytes) -> None:
        n = min(len(data), len(MAGIC))
        if data[:n] != MAGIC[:n]:
            raise CryptoError(msg("err_enc_magic", path=self._remote_path))

    def _open(self, sealed: Buffer, final: bool) -> bytes:
        """Verify and decrypt the next chunk."""
        aead, nonce = self._next(sealed, final)
        try:
            plain = aead.decrypt(nonce, sealed, self._header)
        except InvalidTag:
            self._state = "failed"
            raise CryptoError(self._explain(sealed, final)) from None
        self._counter += 1
        return plain

    def _open_into(self, sealed: Buffer, final: bool, out: memoryview) -> int:
        """`_open` into a caller's buffer; returns the plaintext's length."""
        aead, nonce = self._next(sealed, final)
        try:
            n = aead.decrypt_into(nonce, sealed, self._header, out[: len(sealed) - TAG_SIZE])
        except InvalidTag:
            self._state = "failed"
            raise CryptoError(self._explain(sealed, final)) from None
        self._counter += 1
        return n

    def _next(self, sealed: Buffer, final: bool) -> tuple[ChaCha20Poly1305, bytes]:
        if self._aead is None:
            raise CryptoError("decryptor not started")
        if len(sealed) < TAG_SIZE or len(sealed) > SEALED_CHUNK_SIZE:
            raise CryptoError(msg("err_enc_chunk_size", path=self._remote_path, chunk=self._counter))
        return self._aead, _chunk_nonce(self._counter, final)

    def _explain(self, sealed: Buffer, final: bool) -> Msg:
        """Name the likely cause: a tag check under the other flag tells truncation/extension."""
        where = {"path": self._remote_path, "chunk": self._counter}
        assert self._aead is not None
        try:
            self._aead.decrypt(_chunk_nonce(self._counter, not final), sealed, self._header)
        except InvalidTag:
            if self._counter == 0:
                return msg("err_enc_auth_first", **where)
            return msg("err_enc_auth", **where)
        if final:
            return msg("err_enc_not_final", **where)
        return msg("err_enc_extended", **where)


def _read_full(f: BinaryIO, n: int) -> bytes:
    """Read exactly n bytes unless EOF comes first (pipes and sockets return short reads)."""
    data = f.read(n)
    if not data or len(data) == n:
        return data or b""
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _readinto_full(f: io.RawIOBase, view: memoryview) -> int:
    """Fill view unless EOF comes first; returns the number of bytes read."""
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


# --- files -------------------------------------------------------------------------------

BATCH = 16  # chunks per read/write: 1 MiB system calls, hashing and writing in one go
_POOL = 3  # output buffers: one being filled, one queued, one being written


@dataclass(frozen=True)
class EncryptResult:
    """Size and SHA-256 (hex) of the ciphertext: what the Hub's LFS pointer records."""

    size: int
    sha256: str


class _Writer:
    """Hash and write filled buffers in a background thread, so that the AEAD (which
    releases the GIL) overlaps with hashing and I/O. A fixed pool of buffers keeps memory
    constant: `acquire()` blocks until the writer has returned one."""

    def __init__(self, f: BinaryIO, hasher: "hashlib._Hash", size: int) -> None:
        self._f = f
        self._hasher = hasher
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(_POOL):
            self._free.put(bytearray(size))
        self._work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hfcheck-crypto-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            buf, n = item
            if self._error is None:
                try:
                    with memoryview(buf) as view:
                        self._hasher.update(view[:n])
                        write_all(self._f, view[:n])
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc
            self._free.put(buf)

    def acquire(self) -> bytearray:
        buf = self._free.get()
        if self._error is not None:
            raise self._error
        return buf

    def submit(self, buf: bytearray, n: int) -> None:
        self._work.put((buf, n))

    def close(self) -> None:
        """Wait for every submitted buffer; raise the writer's error if it had one."""
        self._work.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def write_all(f: BinaryIO, data: bytes | memoryview) -> None:
    """A raw (unbuffered) file may write less than asked: loop until all of it is written."""
    data = memoryview(data)
    while data:
        n = f.write(data)
        data = data[len(data) if n is None else n :]


def check_distinct(src: Path, dst: Path) -> None:
    if Path(dst).exists() and os.path.samefile(src, dst):
        raise InputError(msg("err_same_file", src=src))


def _chunk_count(plain_size: int) -> int:
    return max(1, -(-plain_size // CHUNK_SIZE))


def encrypt_into(
    key: ArchiveKey, src: Path, out: BinaryIO, remote_path: str, *, _nonce: bytes | None = None
) -> EncryptResult:
    """Encrypt src into the open binary stream `out` for upload to `remote_path`.

    The chunk count comes from the size at open; a file that grows or shrinks meanwhile is
    refused rather than encrypted half-old, half-new (then `out` holds a partial file)."""
    enc = Encryptor(key, remote_path, _nonce=_nonce)
    hasher = hashlib.sha256()
    size = 0
    with open(src, "rb", buffering=0) as f:
        remaining = os.fstat(f.fileno()).st_size
        chunks = _chunk_count(remaining)
        batch = min(BATCH, chunks)  # small files get small buffers
        inbuf = memoryview(bytearray(batch * CHUNK_SIZE))
        writer = _Writer(out, hasher, HEADER_SIZE + batch * SEALED_CHUNK_SIZE)
        try:
            done = 0
            while done < chunks:
                want = min(batch * CHUNK_SIZE, remaining)
                if _readinto_full(f, inbuf[:want]) != want:
                    raise InputError(msg("err_shrank", src=src))
                remaining -= want
                buf = writer.acquire()
                with memoryview(buf) as view:
                    pos = 0
                    if done == 0:
                        view[:HEADER_SIZE] = enc.header
                        pos = HEADER_SIZE
                    for start in range(0, max(want, 1), CHUNK_SIZE):
                        chunk = inbuf[start : min(start + CHUNK_SIZE, want)]
                        done += 1
                        pos += enc.seal_into(chunk, done == chunks, view[pos:])
                size += pos
                writer.submit(buf, pos)
            if f.read(1):
                raise InputError(msg("err_grew", src=src))
        finally:
            writer.close()
    return EncryptResult(size=size, sha256=hasher.hexdigest())


def encrypt_file(
    key: ArchiveKey, src: Path, dst: Path, remote_path: str, *, _nonce: bytes | None = None
) -> EncryptResult:
    """Encrypt src into dst (atomically: temp file, fsync, rename) for upload to `remote_path`."""
    check_distinct(src, dst)
    result: list[EncryptResult] = []
    write_stream_atomic(dst, lambda out: result.append(encrypt_into(key, src, out, remote_path, _nonce=_nonce)))
    return result[0]


def decrypt_into(key: ArchiveKey, src: Path, out: BinaryIO, remote_path: str) -> str:
    """Decrypt and verify src into the open binary stream `out`; returns the plaintext's
    SHA-256 (hex). On CryptoError `out` holds unverified partial plaintext: discard it."""
    dec = Decryptor(key, remote_path)
    hasher = hashlib.sha256()
    try:
        with open(src, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            chunks = _chunk_count(plaintext_size(size))  # refuses impossible sizes up front
            dec.start(_read_full(f, HEADER_SIZE))
            remaining = size - HEADER_SIZE
            batch = min(BATCH, chunks)
            inbuf = memoryview(bytearray(batch * SEALED_CHUNK_SIZE))
            writer = _Writer(out, hasher, batch * CHUNK_SIZE)
            try:
                done = 0
                while done < chunks:
                    want = min(batch * SEALED_CHUNK_SIZE, remaining)
                    if _readinto_full(f, inbuf[:want]) != want:
                        raise CryptoError(msg("err_enc_cut_reading"))
                    remaining -= want
                    buf = writer.acquire()
                    with memoryview(buf) as view:
                        pos = 0
                        for start in range(0, want, SEALED_CHUNK_SIZE):
                            sealed = inbuf[start : min(start + SEALED_CHUNK_SIZE, want)]
                            done += 1
                            pos += dec.open_into(sealed, done == chunks, view[pos:])
                    writer.submit(buf, pos)
                if f.read(1):
                    raise CryptoError(msg("err_enc_grew_reading"))
                dec.done()
            finally:
                writer.close()
    except CryptoError as exc:
        raise CryptoError(msg("err_in_file", src=src, error=exc)) from None
    return hasher.hexdigest()


def decrypt_file(key: ArchiveKey, src: Path, dst: Path, remote_path: str) -> str:
    """Decrypt and verify src into dst; dst appears only if every chunk verified.
    Returns the SHA-256 (hex) of the plaintext."""
    check_distinct(src, dst)
    digest: list[str] = []
    write_stream_atomic(dst, lambda out: digest.append(decrypt_into(key, src, out, remote_path)))
    return digest[0]
