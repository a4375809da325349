"""The Fernet codec: `cryptography.fernet`, the most common recipe in Python scrapers.

Token = 0x80 || timestamp (8 bytes BE) || IV (16) || AES-128-CBC(PKCS7) || HMAC-SHA256 (32),
all url-safe base64; key = 32 bytes (signing half, encryption half) in url-safe base64.

Files: exactly `Fernet(key).encrypt(data)` / `.decrypt(token)`, so the user's own code reads what
hfcheck writes and the other way round. Fernet is one-shot (the HMAC must verify before a byte is
released), so a file is held in memory several times over: `crypto.max_fernet_bytes` caps it
(docs/encryption.md gives the measured peak).

Names: a Fernet token of the UTF-8 name, as the users' scrapers wrote them (`Fernet.encrypt`
picks a random IV and stamps the time, so their names are not deterministic; all of them
decrypt). Names that hfcheck writes are Fernet tokens too, any Fernet code decrypts them, but
made deterministic: IV = HMAC-SHA256(HKDF(key, "hfcheck fernet name iv"), parent 0x00 name)[:16]
and timestamp 0, so re-running a repair finds its own upload by computing its path. An upload
the scraper made can only be found through its recorded URL (or by listing and decrypting the
folder). Fernet has no associated data: a name is not bound to its folder, nor a file to its path.
"""

from __future__ import annotations

import base64
import hmac as _hmac
import re
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC

from hfcheck.crypto.codec import OneShotCodec
from hfcheck.crypto.keys import KEY_SIZE, _hkdf
from hfcheck.crypto.names import MAX_ENCRYPTED_NAME, check_name, check_parent
from hfcheck.errors import CryptoError, InvalidName
from hfcheck.report.catalog import msg

SCHEME = "fernet"
VERSION = 0x80
NAME_IV_INFO = b"hfcheck fernet name iv"
NAME_TIMESTAMP = 0
DEFAULT_MAX_BYTES = 256 << 20
_TOKEN_RE = re.compile(rb"[A-Za-z0-9_-]+=*")
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+=*")


class FernetCodec(OneShotCodec):
    name = SCHEME
    names_reversible = True
    deterministic_names = True  # for the names hfcheck writes; the scraper's are random
    binds_path = False
    limit_setting = "crypto.max_fernet_bytes"

    def __init__(self, key: bytes, max_file_size: int = DEFAULT_MAX_BYTES) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"a Fernet key is exactly {KEY_SIZE} bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._signing_key, self._encryption_key = key[:16], key[16:]
        self._iv_key = _hkdf(key, None, NAME_IV_INFO, 32)
        self.max_file_size = max_file_size

    def recognises(self, head: bytes) -> bool:
        """url-safe base64 throughout, decoding to version byte 0x80 (`gAAAAA...`)."""
        body = bytes(head).rstrip(b"\r\n")
        if len(body) < 12 or not body.startswith(b"g") or not _TOKEN_RE.fullmatch(body):
            return False
        return base64.urlsafe_b64decode(body[:12])[0] == VERSION

    def max_ciphertext_size(self) -> int | None:
        if self.max_file_size is None:
            return None
        raw = 1 + 8 + 16 + (self.max_file_size // 16 + 1) * 16 + 32
        return -(-raw // 3) * 4 + 2  # base64, and a line ending someone's script may have added

    def encrypt_bytes(self, data: bytes, remote_path: str) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, data: bytes, remote_path: str) -> bytes:
        try:
            return self._fernet.decrypt(data)
        except InvalidToken:
            raise CryptoError(msg("err_fernet_token")) from None

    def encrypt_name(self, parent: str, name: str) -> str:
        plain = check_name(name).encode("utf-8")
        folder = check_parent(parent).encode("utf-8")
        iv = _hmac.digest(self._iv_key, folder + b"\x00" + plain, "sha256")[:16]
        token = self._token(plain, iv, NAME_TIMESTAMP).decode("ascii")
        if len(token) > MAX_ENCRYPTED_NAME:
            raise InvalidName(msg("err_fernet_name_long", size=len(plain)))
        return token

    def decrypt_name(self, parent: str, encrypted: str) -> str:
        if (
            not isinstance(encrypted, str)
            or len(encrypted) > 4 * MAX_ENCRYPTED_NAME
            or not _NAME_RE.fullmatch(encrypted)
        ):
            raise CryptoError(msg("err_fernet_not_name", name=str(encrypted)[:300]))
        try:
            plain = self._fernet.decrypt(encrypted.encode("ascii"))
        except InvalidToken:
            raise CryptoError(msg("err_fernet_name_token", name=encrypted)) from None
        try:  # lenient with the scraper's names: NFD (macOS) is normalised, not refused
            return check_name(plain.decode("utf-8"))
        except ValueError:
            raise CryptoError(msg("err_name_decrypts_invalid", name=encrypted)) from None

    def __reduce__(self) -> NoReturn:  # keep the key out of pickles
        raise TypeError("a codec cannot be pickled")

    def _token(self, data: bytes, iv: bytes, timestamp: int) -> bytes:
        """A Fernet token with a chosen IV and time (`Fernet.encrypt` always draws its own)."""
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self._encryption_key), modes.CBC(iv)).encryptor()
        parts = bytes([VERSION]) + timestamp.to_bytes(8, "big") + iv + encryptor.update(padded) + encryptor.finalize()
        mac = HMAC(self._signing_key, hashes.SHA256())
        mac.update(parts)
        return base64.urlsafe_b64encode(parts + mac.finalize())
