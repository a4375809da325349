"""A user's own codec, as a plug-in (`crypto.scheme = "python:tests.plugin_codec:ToyCodec"`).

What a scraper author might have written: AES-256-GCM over the whole file behind a 6-byte
magic, and one-way names (a keyed hash of the local name: the local file is then found by
tweet id and media index). `ToyReversibleCodec` keeps names reversible (AES-SIV, hex).
The other attributes are wrong on purpose, for the loader's error messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from hfcheck.crypto import OneShotCodec, decode_key
from hfcheck.errors import CryptoError

MAGIC = b"TOYGCM"


class ToyCodec(OneShotCodec):
    name = "toy-gcm"
    names_reversible = False
    deterministic_names = True
    binds_path = False
    max_file_size = 64 << 20
    limit_setting = "toy.max_bytes"

    def __init__(self, key_file_bytes: bytes) -> None:
        key = decode_key(key_file_bytes)
        self._aead = AESGCM(hashlib.sha256(b"toy file" + key).digest())
        self._name_key = hashlib.sha256(b"toy name" + key).digest()

    def recognises(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def encrypt_bytes(self, data: bytes, remote_path: str) -> bytes:
        nonce = os.urandom(12)
        return MAGIC + nonce + self._aead.encrypt(nonce, data, MAGIC)

    def decrypt_bytes(self, data: bytes, remote_path: str) -> bytes:
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 12 + 16:
            raise CryptoError("not a toy-gcm file")
        nonce = data[len(MAGIC) : len(MAGIC) + 12]
        try:
            return self._aead.decrypt(nonce, data[len(MAGIC) + 12 :], MAGIC)
        except InvalidTag:
            raise CryptoError("toy-gcm: authentication failed") from None

    def encrypt_name(self, parent: str, name: str) -> str:
        return hmac.new(self._name_key, f"{parent}/{name}".encode(), "sha256").hexdigest()[:40]


class ToyReversibleCodec(ToyCodec):
    name = "toy-gcm-siv"
    names_reversible = True

    def __init__(self, key_file_bytes: bytes) -> None:
        super().__init__(key_file_bytes)
        self._siv = AESSIV(hashlib.sha512(b"toy siv" + decode_key(key_file_bytes)).digest())

    def encrypt_name(self, parent: str, name: str) -> str:
        return self._siv.encrypt(name.encode(), [parent.encode()]).hex()

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        try:
            return self._siv.decrypt(bytes.fromhex(encrypted), [parent.encode()]).decode()
        except (ValueError, InvalidTag):
            raise CryptoError(f"toy name {encrypted[:80]!r} does not decrypt") from None


class PassphraseCodec(ToyCodec):
    """Its key file holds a passphrase, not 32 bytes of base64."""

    name = "toy-passphrase"

    def __init__(self, key_file_bytes: bytes) -> None:
        super().__init__(base64.b64encode(hashlib.sha256(key_file_bytes).digest()))


def make(key_file_bytes: bytes) -> ToyCodec:
    """A factory function works as well as a class."""
    return ToyCodec(key_file_bytes)


NOT_A_CODEC = 42


class Incomplete:
    """Has a name and flags but no methods."""

    name = "incomplete"
    names_reversible = True
    deterministic_names = True
    binds_path = False
    max_file_size = None


INCOMPLETE = Incomplete()


def failing(key_file_bytes: bytes) -> ToyCodec:
    raise ValueError(f"cannot use key {key_file_bytes!r}")  # must never reach a message
