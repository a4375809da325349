"""The archive's encryption, one module per job:

    keys.py      key files (one loader for every scheme) and the hfcheck-v1 ArchiveKey
    stream.py    the hfcheck-v1 file format (chunked ChaCha20-Poly1305 stream)
    names.py     name checks, and hfcheck-v1's AES-SIV names
    codec.py     the Codec protocol (what hfcheck calls) and two bases for writing one
    v1.py        the hfcheck-v1 codec
    fernet.py    the Fernet codec (`cryptography.fernet` compatible)
    plugin.py    `python:package.module:attr` codecs from the user's code
    registry.py  from the config: the write codec, the read codecs, `codec_for(first_bytes)`

docs/encryption.md describes the formats and the plug-in interface.
"""

from hfcheck.crypto.codec import HEAD_BYTES, Codec, CodecBase, NameCodec, OneShotCodec
from hfcheck.crypto.fernet import FernetCodec
from hfcheck.crypto.keys import (
    FILE_INFO,
    KEY_SIZE,
    NAME_INFO,
    ArchiveKey,
    _hkdf,
    archive_key,
    decode_key,
    generate_key_file,
    load_key,
    read_key_file,
)
from hfcheck.crypto.names import MAX_NAME_BYTES
from hfcheck.crypto.registry import Codecs, load_codec, load_codecs
from hfcheck.crypto.stream import (
    CHUNK_SIZE,
    HEADER_SIZE,
    MAGIC,
    Decryptor,
    Encryptor,
    EncryptResult,
    decrypt_file,
    decrypt_into,
    encrypt_file,
    encrypt_into,
    encrypted_size,
    plaintext_size,
)
from hfcheck.crypto.v1 import HfcheckV1Codec
from hfcheck.errors import CryptoError, FileTooLarge, InvalidName, OneWayNames

__all__ = [
    "CHUNK_SIZE",
    "FILE_INFO",
    "HEAD_BYTES",
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAGIC",
    "MAX_NAME_BYTES",
    "NAME_INFO",
    "ArchiveKey",
    "Codec",
    "CodecBase",
    "Codecs",
    "CryptoError",
    "Decryptor",
    "EncryptResult",
    "Encryptor",
    "FernetCodec",
    "FileTooLarge",
    "HfcheckV1Codec",
    "InvalidName",
    "NameCodec",
    "OneShotCodec",
    "OneWayNames",
    "_hkdf",
    "archive_key",
    "decode_key",
    "decrypt_file",
    "decrypt_into",
    "encrypt_file",
    "encrypt_into",
    "encrypted_size",
    "generate_key_file",
    "load_codec",
    "load_codecs",
    "load_key",
    "plaintext_size",
    "read_key_file",
]
