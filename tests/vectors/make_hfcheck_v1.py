"""Write hfcheck_v1.json: the frozen known answers of format v1.

Run once per format version (`python tests/vectors/make_hfcheck_v1.py`); v1 is frozen, so
re-running it must not change the file (`git diff` shows drift). tests/test_crypto.py checks
the implementation against the JSON, never against this script.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hfcheck.crypto import (
    CHUNK_SIZE,
    FILE_INFO,
    NAME_INFO,
    ArchiveKey,
    Encryptor,
    _hkdf,
)

KEY = bytes(range(32))
NONCE = bytes(range(0x80, 0xA0))
REMOTE = "encrypted_videos/alice/vector"
FULL_HEX_MAX = 100  # larger ciphertexts are recorded as sha256 + head + tail


def pattern(n: int) -> bytes:
    """The plaintext of every vector: byte i is i mod 251 (not periodic in the chunk size)."""
    return bytes(i % 251 for i in range(n))


def file_vector(key: ArchiveKey, size: int) -> dict[str, object]:
    enc = Encryptor(key, REMOTE, _nonce=NONCE)
    ct = enc.update(pattern(size)) + enc.finalize()
    out: dict[str, object] = {"plaintext_size": size, "ciphertext_size": len(ct)}
    if size <= FULL_HEX_MAX:
        out["ciphertext"] = ct.hex()
    else:
        out["ciphertext_sha256"] = hashlib.sha256(ct).hexdigest()
        out["head"] = ct[:72].hex()
        out["tail"] = ct[-48:].hex()
    return out


def main() -> None:
    key = ArchiveKey.from_bytes(KEY)
    names = [
        ("encrypted_images/alice", "1234567890123456789_0.jpg"),
        ("encrypted_images/alice", "1234567890123456789_1.jpg"),
        ("encrypted_images/bob", "1234567890123456789_0.jpg"),
        ("encrypted_videos/alice", "1_0.mp4"),
        ("encrypted_videos/alice", "caf\u00e9.mp4"),
        ("encrypted_images/alice", "x" * 143),
    ]
    data = {
        "format": "hfcheck v1",
        "plaintext": "byte i = i mod 251",
        "key": KEY.hex(),
        "nonce": NONCE.hex(),
        "remote_path": REMOTE,
        "file_info": FILE_INFO.hex(),
        "file_key": _hkdf(KEY, NONCE, FILE_INFO + REMOTE.encode(), 32).hex(),
        "name_info": NAME_INFO.hex(),
        "name_key": _hkdf(KEY, None, NAME_INFO, 64).hex(),
        "files": [
            file_vector(key, n) for n in (0, 1, 31, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 500)
        ],
        "names": [{"parent": p, "name": n, "encrypted": key.encrypt_name(p, n)} for p, n in names],
    }
    path = Path(__file__).with_name("hfcheck_v1.json")
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
