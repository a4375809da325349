"""The hfcheck-v1 codec: the streaming format of stream.py and the AES-SIV names of names.py."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from hfcheck.crypto.codec import CodecBase
from hfcheck.crypto.keys import ArchiveKey
from hfcheck.crypto.stream import MAGIC, EncryptResult, decrypt_into, encrypt_into

SCHEME = "hfcheck-v1"


class HfcheckV1Codec(CodecBase):
    """Streams any size in constant memory; names deterministic, authenticated, bound to their
    folder; contents bound to their remote path. `key` is there for the incremental
    `Encryptor`/`Decryptor` (network streams)."""

    name = SCHEME
    names_reversible = True
    deterministic_names = True
    binds_path = True
    max_file_size: int | None = None

    def __init__(self, key: ArchiveKey) -> None:
        self.key = key

    def recognises(self, head: bytes) -> bool:
        # The magic alone: a damaged version byte is still our file (decrypt_failed, not unknown).
        return bytes(head[: len(MAGIC)]) == MAGIC

    def encrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> EncryptResult:
        return encrypt_into(self.key, src, out, remote_path)

    def decrypt_to(self, src: Path, out: BinaryIO, remote_path: str) -> str:
        return decrypt_into(self.key, src, out, remote_path)

    def encrypt_name(self, parent: str, name: str) -> str:
        return self.key.encrypt_name(parent, name)

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        return self.key.decrypt_name(parent, encrypted)
