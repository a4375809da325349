"""File names: the checks every scheme shares, and hfcheck-v1's AES-SIV names.

v1 names are AES-SIV (deterministic, authenticated) under a separate HKDF-derived key, with
the parent folder as associated data, encoded as unpadded lower-case base32 (docs/encryption.md).
"""

from __future__ import annotations

import base64
import binascii
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from hfcheck.errors import CryptoError, InvalidName
from hfcheck.report.catalog import msg

TAG_SIZE = 16
MAX_NAME_BYTES = 143  # ceil(8 * (16 + 143) / 5) == 255 characters
MAX_ENCRYPTED_NAME = 255  # the usual limit of one path component
_B32_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def check_name(name: str) -> str:
    """NFC form of one path component, or InvalidName: no traversal, separators or NUL."""
    if not isinstance(name, str):
        raise InvalidName(msg("err_name_not_str"))
    name = unicodedata.normalize("NFC", name)
    if name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        raise InvalidName(msg("err_name_invalid", name=name))
    return name


def check_parent(parent: str) -> str:
    if not isinstance(parent, str) or not parent or "\x00" in parent:
        raise InvalidName(msg("err_parent_invalid", parent=parent))
    return unicodedata.normalize("NFC", parent)


def norm_path(remote_path: str) -> str:
    """NFC remote path (what a file is bound to); ValueError for an empty or NUL path."""
    if not isinstance(remote_path, str) or not remote_path or "\x00" in remote_path:
        raise ValueError(f"not a valid remote path: {remote_path!r}")
    return unicodedata.normalize("NFC", remote_path)


def check_decrypted_name(plain: bytes, encrypted: str) -> str:
    """A decrypted name must be UTF-8, NFC and a valid component, or the name is foreign."""
    try:
        name = plain.decode("utf-8")
        if unicodedata.normalize("NFC", name) != name:
            raise ValueError("not NFC")
        check_name(name)
    except ValueError:
        raise CryptoError(msg("err_name_decrypts_invalid", name=encrypted[:300])) from None
    return name


def b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def b32decode(text: str) -> bytes:
    """Strict: only the canonical encoding (lower case, no padding, zero trailing bits)."""
    bad = CryptoError(f"not an encrypted name: {text[:300]!r}")
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_ENCRYPTED_NAME:
        raise bad
    if not set(text) <= _B32_ALPHABET or len(text) % 8 in (1, 3, 6):
        raise bad
    try:
        data = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except binascii.Error:
        raise bad from None
    if len(data) <= TAG_SIZE or b32encode(data) != text:
        raise bad
    return data


def siv_encrypt_name(siv: AESSIV, parent: str, name: str) -> str:
    """Deterministic: the same (parent, name) always gives the same remote name."""
    plain = check_name(name).encode("utf-8")
    if len(plain) > MAX_NAME_BYTES:
        raise InvalidName(msg("err_name_long", size=len(plain), limit=MAX_NAME_BYTES))
    return b32encode(siv.encrypt(plain, [check_parent(parent).encode("utf-8")]))


def siv_decrypt_name(siv: AESSIV, parent: str, encrypted: str) -> str:
    """Reverse `siv_encrypt_name`; any malformed, altered or foreign name raises CryptoError."""
    sealed = b32decode(encrypted)
    try:
        plain = siv.decrypt(sealed, [check_parent(parent).encode("utf-8")])
    except InvalidTag:
        raise CryptoError(msg("err_name_no_decrypt", name=encrypted, parent=parent)) from None
    except InvalidName as exc:
        raise CryptoError(exc.words or str(exc)) from None
    return check_decrypted_name(plain, encrypted)
