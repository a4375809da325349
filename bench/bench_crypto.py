"""Cost of file encryption against its unavoidable parts, its peak memory, and the codecs side
by side.

Encrypting a file = reading and writing it (same chunks, same temp + fsync + rename) +
sealing its chunks + hashing the ciphertext (the Hub's LFS oid). The target is that
`encrypt_file` costs at most 1.25x (I/O + sealing): the writer thread overlaps hashing and
writing with sealing. Peak memory while encrypting 1 GiB is measured in a child process
against a child that only imported the module. Times are the best of a few runs.

`codecs` (also alone: `python -m bench crypto --only codecs`): hfcheck-v1 and Fernet encrypt and
decrypt the same files through the codec layer: throughput, and peak memory of a child process
per codec, operation and size, above the child's baseline, with the slope per MiB of file
(Fernet cannot stream: its peak grows with the file; docs/encryption.md quotes these numbers).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from hfcheck.crypto import CHUNK_SIZE, ArchiveKey, FernetCodec, HfcheckV1Codec, decrypt_file, encrypt_file

MIB = 1 << 20
SIZE = 256 * MIB
BIG = 1024 * MIB
REPEAT = 3
REMOTE = "encrypted_videos/bench/x"


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block if size <= 256 * MIB else os.urandom(len(block)))


def _best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _copy(src: Path, dst: Path, chunk: int) -> None:
    """The I/O part alone: same chunks, a temp file, fsync and rename, as encrypt_file.
    (encrypt_file reads and writes 16 chunks per system call; that is its own choice.)"""
    fd, tmp = tempfile.mkstemp(dir=dst.parent)
    with open(src, "rb") as fin, os.fdopen(fd, "wb", buffering=0) as fout:
        while data := fin.read(chunk):
            fout.write(data)
        os.fsync(fout.fileno())
    os.replace(tmp, dst)


def _seal_all(chunks: list[bytes]) -> None:
    aead = ChaCha20Poly1305(os.urandom(32))
    aad = b"\0" * 40
    for i, c in enumerate(chunks):
        aead.encrypt(i.to_bytes(12, "big"), c, aad)


def _open_all(aead: ChaCha20Poly1305, sealed: list[bytes]) -> None:
    for i, c in enumerate(sealed):
        aead.decrypt(i.to_bytes(12, "big"), c, None)


def _sha_all(chunks: list[bytes]) -> None:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)


def _read_chunks(path: Path, chunk: int) -> list[bytes]:
    with open(path, "rb") as f:
        return list(iter(lambda: f.read(chunk), b""))


def _in_memory(src: Path) -> tuple[float, float, float]:
    """Best times to seal, open and sha256 the file's chunks, all held in memory."""
    chunks = _read_chunks(src, CHUNK_SIZE)
    aead = ChaCha20Poly1305(os.urandom(32))
    sealed = [aead.encrypt(i.to_bytes(12, "big"), c, None) for i, c in enumerate(chunks)]
    return _best(lambda: _seal_all(chunks)), _best(lambda: _open_all(aead, sealed)), _best(lambda: _sha_all(chunks))


def speed(tmp: Path) -> None:
    key = ArchiveKey.from_bytes(os.urandom(32))
    src, enc, dec, cpy = tmp / "plain", tmp / "enc", tmp / "dec", tmp / "copy"
    _make_file(src, SIZE)
    t_io = _best(lambda: _copy(src, cpy, CHUNK_SIZE))
    t_seal, t_open, t_sha = _in_memory(src)  # the chunks are freed before the file runs
    t_enc = _best(lambda: encrypt_file(key, src, enc, REMOTE))
    t_io_c = _best(lambda: _copy(enc, cpy, CHUNK_SIZE + 16))
    t_dec = _best(lambda: decrypt_file(key, enc, dec, REMOTE))
    mbs = lambda t: f"{SIZE / MIB / t:7.0f} MiB/s"  # noqa: E731
    print(f"file: {SIZE // MIB} MiB, {CHUNK_SIZE // 1024} KiB chunks, best of {REPEAT}")
    print(f"  read+write+fsync+rename   {t_io:6.3f} s  {mbs(t_io)}")
    print(f"  same, ciphertext chunks   {t_io_c:6.3f} s  {mbs(t_io_c)}")
    print(f"  seal in memory            {t_seal:6.3f} s  {mbs(t_seal)}")
    print(f"  open in memory            {t_open:6.3f} s  {mbs(t_open)}")
    print(f"  sha256 (LFS oid/plain)    {t_sha:6.3f} s  {mbs(t_sha)}")
    print(f"  encrypt_file (+sha256)    {t_enc:6.3f} s  {mbs(t_enc)}")
    print(f"  decrypt_file (+sha256)    {t_dec:6.3f} s  {mbs(t_dec)}")
    r_enc = t_enc / (t_io + t_seal)
    r_dec = t_dec / (t_io_c + t_open)
    print(f"  ratio encrypt / (io + seal) = {r_enc:.2f}  (target <= 1.25) {'OK' if r_enc <= 1.25 else 'OVER'}")
    print(f"  ratio decrypt / (io + open) = {r_dec:.2f}")
    print(f"  ratio encrypt / (io + seal + sha256) = {t_enc / (t_io + t_seal + t_sha):.2f}")


_CHILD = """
import os, sys
from pathlib import Path
from hfcheck.crypto import ArchiveKey, encrypt_file
key = ArchiveKey.from_bytes(os.urandom(32))
if sys.argv[1] != "-":
    encrypt_file(key, Path(sys.argv[1]), Path(sys.argv[2]), "encrypted_videos/bench/x")
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]))
        break
else:
    import resource
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(*args: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def memory(tmp: Path) -> None:
    src, dst = tmp / "big", tmp / "big.enc"
    _make_file(src, BIG)
    base = _peak_kib("-", "-")
    peak = _peak_kib(str(src), str(dst))
    above = (peak - base) / 1024
    print(
        f"peak memory encrypting {BIG // MIB} MiB: {peak / 1024:.1f} MiB, baseline {base / 1024:.1f} MiB,"
        f" above baseline {above:.1f} MiB (target < 64) {'OK' if above < 64 else 'OVER'}"
    )


CODEC_SIZES = (16 * MIB, 64 * MIB, 128 * MIB)
CODEC_SPEED_SIZE = 64 * MIB

_CODEC_CHILD = """
import os, sys
from pathlib import Path
from hfcheck.crypto import ArchiveKey, FernetCodec, HfcheckV1Codec
raw = bytes(range(32))
codec = HfcheckV1Codec(ArchiveKey(raw)) if sys.argv[1] == "hfcheck-v1" else FernetCodec(raw, max_file_size=1 << 40)
if sys.argv[2] == "encrypt":
    codec.encrypt_file(Path(sys.argv[3]), Path(sys.argv[4]), "encrypted_videos/bench/x")
elif sys.argv[2] == "decrypt":
    codec.decrypt_file(Path(sys.argv[3]), Path(sys.argv[4]), "encrypted_videos/bench/x")
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]))
"""


def _codec_peak_kib(*args: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CODEC_CHILD, *args], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def codecs(tmp: Path) -> None:
    """hfcheck-v1 vs Fernet on the same files: MiB/s and peak memory above baseline."""
    raw = bytes(range(32))
    both = {"hfcheck-v1": HfcheckV1Codec(ArchiveKey(raw)), "fernet": FernetCodec(raw, max_file_size=1 << 40)}
    src = tmp / "plain"
    _make_file(src, CODEC_SPEED_SIZE)
    print(
        f"codecs: {CODEC_SPEED_SIZE // MIB} MiB file, best of {REPEAT} (encrypt/decrypt_file: temp file, fsync, rename)"
    )
    speeds: dict[str, tuple[float, float]] = {}
    for name, codec in both.items():
        enc, dec = tmp / f"{name}.enc", tmp / f"{name}.dec"
        t_enc = _best(lambda: codec.encrypt_file(src, enc, REMOTE))
        t_dec = _best(lambda: codec.decrypt_file(enc, dec, REMOTE))
        speeds[name] = (t_enc, t_dec)
        grow = os.path.getsize(enc) / CODEC_SPEED_SIZE
        print(
            f"  {name:10s}  encrypt {CODEC_SPEED_SIZE / MIB / t_enc:6.0f} MiB/s"
            f"  decrypt {CODEC_SPEED_SIZE / MIB / t_dec:6.0f} MiB/s"
            f"  ciphertext {grow:.3f} x plaintext"
        )
    (fe, fd), (ve, vd) = speeds["fernet"], speeds["hfcheck-v1"]
    print(f"  time ratio fernet / hfcheck-v1: encrypt {fe / ve:.2f}, decrypt {fd / vd:.2f}")
    for p in tmp.iterdir():
        p.unlink()
    base = {name: _codec_peak_kib(name, "-") for name in both}
    print("  peak memory above a child that only built the codec (MiB), and per MiB of file:")
    slopes: dict[tuple[str, str], list[float]] = {}
    for size in CODEC_SIZES:
        _make_file(src, size)
        row = []
        for name in both:
            for op in ("encrypt", "decrypt"):
                if op == "encrypt":
                    kib = _codec_peak_kib(name, op, str(src), str(tmp / "c"))
                else:
                    kib = _codec_peak_kib(name, op, str(tmp / "c"), str(tmp / "d"))
                above = (kib - base[name]) / 1024
                slopes.setdefault((name, op), []).append(above / (size / MIB))
                row.append(f"{name} {op} {above:7.1f} ({above / (size / MIB):4.2f}/MiB)")
            (tmp / "c").unlink()
            (tmp / "d").unlink()
        print(f"  S = {size // MIB:4d} MiB: " + "; ".join(row))
    for (name, op), per in slopes.items():
        print(f"  {name:10s} {op}: peak ~ {per[-1]:.2f} x S at S = {CODEC_SIZES[-1] // MIB} MiB")


def main() -> None:
    from bench.common import bench_argv

    argv = bench_argv(sys.argv[1:])
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    if only in (None, "speed"):
        with tempfile.TemporaryDirectory(prefix="hfcheck-bench-crypto-") as tmp:
            speed(Path(tmp))
    if only in (None, "memory"):
        with tempfile.TemporaryDirectory(prefix="hfcheck-bench-crypto-") as tmp:
            memory(Path(tmp))
    if only in (None, "codecs"):
        with tempfile.TemporaryDirectory(prefix="hfcheck-bench-crypto-") as tmp:
            codecs(Path(tmp))


if __name__ == "__main__":
    main()
