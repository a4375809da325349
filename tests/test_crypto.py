"""The encryption format: round trips, every kind of tampering, names, keys, frozen vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import pickle
import random
import unicodedata
from itertools import pairwise
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.crypto import (
    CHUNK_SIZE,
    HEADER_SIZE,
    ArchiveKey,
    Decryptor,
    Encryptor,
    EncryptResult,
    InvalidName,
    _hkdf,
    decrypt_file,
    encrypt_file,
    encrypted_size,
    generate_key_file,
    load_key,
    plaintext_size,
)
from hfcheck.errors import CryptoError, InputError

VECTORS = Path(__file__).parent / "vectors"
C = CHUNK_SIZE
S = CHUNK_SIZE + 16  # a sealed full chunk
KEY = ArchiveKey.from_bytes(bytes(range(32)))
OTHER_KEY = ArchiveKey.from_bytes(bytes(range(1, 33)))
P = "encrypted_videos/alice/abc"
SIZES = [0, 1, C - 1, C, C + 1, 2 * C, 2 * C + 500]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def data_of(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def seal(data: bytes, key: ArchiveKey = KEY, path: str = P, nonce: bytes | None = None) -> bytes:
    enc = Encryptor(key, path, _nonce=nonce)
    return enc.update(data) + enc.finalize()


def open_(ct: bytes, key: ArchiveKey = KEY, path: str = P, step: int | None = None) -> bytes:
    dec = Decryptor(key, path)
    if step is None:
        return dec.update(ct) + dec.finalize()
    return b"".join(dec.update(ct[i : i + step]) for i in range(0, len(ct), step)) + dec.finalize()


def chunks_of(ct: bytes) -> tuple[bytes, list[bytes]]:
    body = ct[HEADER_SIZE:]
    return ct[:HEADER_SIZE], [body[i : i + S] for i in range(0, len(body), S)]


def assert_rejected(ct: bytes, key: ArchiveKey = KEY, path: str = P) -> None:
    """Rejected fed at once, byte by chunk-ish pieces, and 1 byte past chunk boundaries."""
    for step in (None, 4096, S + 1):
        with pytest.raises(CryptoError):
            open_(ct, key, path, step)


def assert_file_rejected(tmp_path: Path, ct: bytes, key: ArchiveKey = KEY, path: str = P) -> str:
    """decrypt_file fails with CryptoError and leaves nothing behind (no dst, no temp)."""
    src = tmp_path / "in.enc"
    src.write_bytes(ct)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    with pytest.raises(CryptoError) as exc:
        decrypt_file(key, src, out / "plain", path)
    assert list(out.iterdir()) == []
    return str(exc.value)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_file_round_trip(tmp_path: Path, size: int) -> None:
    data = data_of(size, size)
    (tmp_path / "p").write_bytes(data)
    res = encrypt_file(KEY, tmp_path / "p", tmp_path / "c", P)
    ct = (tmp_path / "c").read_bytes()
    assert res == EncryptResult(len(ct), hashlib.sha256(ct).hexdigest())
    assert len(ct) == encrypted_size(size) and plaintext_size(len(ct)) == size
    assert decrypt_file(KEY, tmp_path / "c", tmp_path / "d", P) == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "d").read_bytes() == data
    assert open_(ct) == data and open_(ct, step=1000) == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "d", "p"]  # no temp files left


@pytest.mark.parametrize("size", [16 * C - 1, 16 * C, 16 * C + 1, 32 * C + 7])
def test_batch_boundaries(tmp_path: Path, size: int) -> None:
    """encrypt_file/decrypt_file move 16 chunks per system call: sizes around that."""
    nonce = os.urandom(32)
    data = data_of(size, 1)
    (tmp_path / "p").write_bytes(data)
    encrypt_file(KEY, tmp_path / "p", tmp_path / "c", P, _nonce=nonce)
    ct = (tmp_path / "c").read_bytes()
    assert ct == seal(data, nonce=nonce)
    decrypt_file(KEY, tmp_path / "c", tmp_path / "d", P)
    assert (tmp_path / "d").read_bytes() == data
    header, ch = chunks_of(ct)
    assert_file_rejected(tmp_path, header + b"".join(ch[: len(ch) - 1]))  # last chunk dropped
    if len(ch) > 16:
        assert_file_rejected(tmp_path, header + b"".join(ch[:16]))  # cut after the first batch


@pytest.mark.parametrize("size", SIZES)
def test_every_api_writes_the_same_bytes(tmp_path: Path, size: int) -> None:
    nonce = bytes(32)
    data = data_of(size)
    (tmp_path / "p").write_bytes(data)
    encrypt_file(KEY, tmp_path / "p", tmp_path / "c", P, _nonce=nonce)
    by_update = seal(data, nonce=nonce)
    by_file_stream = b"".join(Encryptor(KEY, P, _nonce=nonce).stream(io.BytesIO(data)))
    by_iter_stream = b"".join(Encryptor(KEY, P, _nonce=nonce).stream(iter([data[:7], data[7:]])))
    assert (tmp_path / "c").read_bytes() == by_update == by_file_stream == by_iter_stream


def test_chunk_layout() -> None:
    """Full chunks except the last; a full last chunk is final itself (no empty chunk after)."""
    assert encrypted_size(0) == HEADER_SIZE + 16
    assert encrypted_size(C) == HEADER_SIZE + S
    assert encrypted_size(C + 1) == HEADER_SIZE + S + 17
    assert encrypted_size(2 * C) == HEADER_SIZE + 2 * S
    assert seal(b"")[:8] == b"HFCKENC\x01"
    assert seal(b"") != seal(b"")  # random nonce per file


def test_fresh_nonce_and_file_key_per_file() -> None:
    a, b = seal(b"x" * 100), seal(b"x" * 100)
    assert a[8:40] != b[8:40] and a[40:] != b[40:]


def test_decryptor_streams_and_holds_back_one_chunk() -> None:
    data = data_of(3 * C)
    ct = seal(data)
    dec = Decryptor(KEY, P)
    assert dec.update(ct[: HEADER_SIZE + S]) == b""  # could be the final chunk: held back
    assert dec.update(ct[HEADER_SIZE + S : HEADER_SIZE + S + 1]) == data[:C]
    rest = dec.update(ct[HEADER_SIZE + S + 1 :])
    assert rest == data[C : 2 * C] and len(dec._buf) <= S
    assert dec.finalize() == data[2 * C :]
    with pytest.raises(CryptoError):
        dec.finalize()
    with pytest.raises(CryptoError):
        dec.update(b"x")


def test_decryptor_unusable_after_failure() -> None:
    ct = bytearray(seal(data_of(3 * C)))
    ct[HEADER_SIZE + 5] ^= 1
    dec = Decryptor(KEY, P)
    with pytest.raises(CryptoError):
        dec.update(bytes(ct))
    with pytest.raises(CryptoError):
        dec.finalize()


def test_encryptor_refuses_after_finalize_and_bad_chunks() -> None:
    enc = Encryptor(KEY, P)
    enc.finalize()
    with pytest.raises(CryptoError):
        enc.update(b"x")
    with pytest.raises(ValueError):
        Encryptor(KEY, P).seal(b"short", final=False)
    with pytest.raises(ValueError):
        Encryptor(KEY, "")


def test_memory_is_one_chunk_whatever_the_input() -> None:
    enc = Encryptor(KEY, P)
    enc.update(data_of(5 * C + 3))
    assert len(enc._buf) <= C


# --- sizes -------------------------------------------------------------------------------


def test_impossible_sizes() -> None:
    for bad in [
        -1,
        0,
        HEADER_SIZE,
        HEADER_SIZE + 15,
        HEADER_SIZE + S + 1,
        HEADER_SIZE + S + 15,
        HEADER_SIZE + S + 16,
        HEADER_SIZE + 2 * S + 16,
    ]:
        with pytest.raises(CryptoError):
            plaintext_size(bad)
    with pytest.raises(ValueError):
        encrypted_size(-1)


@given(st.integers(0, 1 << 40))
def test_sizes_are_inverse(n: int) -> None:
    assert plaintext_size(encrypted_size(n)) == n


@given(st.integers(0, 1 << 24))
def test_every_cipher_size_is_either_valid_or_refused(c: int) -> None:
    try:
        n = plaintext_size(c)
    except CryptoError:
        return
    assert encrypted_size(n) == c


# --- tampering ---------------------------------------------------------------------------

THREE = data_of(2 * C + 500, 3)  # three chunks: first, middle, last (short)


@pytest.fixture(scope="module")
def three() -> bytes:
    return seal(THREE)


def test_header_bit_flips(three: bytes) -> None:
    for i in range(HEADER_SIZE):
        for bit in range(8):
            ct = bytearray(three)
            ct[i] ^= 1 << bit
            with pytest.raises(CryptoError):
                open_(bytes(ct))


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("part", ["tag", "body"])
def test_chunk_bit_flips(tmp_path: Path, three: bytes, where: str, part: str) -> None:
    header, chunks = chunks_of(three)
    i = {"first": 0, "middle": 1, "last": 2}[where]
    pos = HEADER_SIZE + i * S + (len(chunks[i]) - 1 if part == "tag" else 3)
    for bit in (0, 7):
        ct = bytearray(three)
        ct[pos] ^= 1 << bit
        assert_rejected(bytes(ct))
    assert f"chunk {i}" in assert_file_rejected(tmp_path, bytes(ct))


def test_dropped_duplicated_swapped_chunks(tmp_path: Path, three: bytes) -> None:
    header, ch = chunks_of(three)
    variants = {
        "drop0": [ch[1], ch[2]],
        "drop1": [ch[0], ch[2]],
        "drop2": [ch[0], ch[1]],
        "dup0": [ch[0], ch[0], ch[1], ch[2]],
        "dup1": [ch[0], ch[1], ch[1], ch[2]],
        "dup_last": [ch[0], ch[1], ch[2], ch[2]],
        "swap01": [ch[1], ch[0], ch[2]],
        "swap12": [ch[0], ch[2], ch[1]],
        "empty": [],
    }
    for name, parts in variants.items():
        ct = header + b"".join(parts)
        assert_rejected(ct)
        assert_file_rejected(tmp_path, ct)


def test_swapping_full_chunks_of_same_size(tmp_path: Path) -> None:
    ct = seal(data_of(3 * C, 9))
    header, ch = chunks_of(ct)
    assert_rejected(header + ch[1] + ch[0] + ch[2])
    assert_rejected(header + ch[0] + ch[2] + ch[1])


def test_truncation_everywhere(tmp_path: Path, three: bytes) -> None:
    boundaries = [HEADER_SIZE + k * S for k in range(3)]  # after header, after chunk 0, 1
    mids = [
        1,
        7,
        HEADER_SIZE - 1,
        HEADER_SIZE + 1,
        HEADER_SIZE + 16,
        HEADER_SIZE + S // 2,
        HEADER_SIZE + S - 1,
        HEADER_SIZE + S + 1,
        HEADER_SIZE + 2 * S + 100,
        len(three) - 16,
        len(three) - 1,
    ]
    for cut in [0] + boundaries + mids:
        assert_rejected(three[:cut])
    msg = assert_file_rejected(tmp_path, three[: HEADER_SIZE + 2 * S])
    assert "truncated" in msg


def test_truncation_of_full_chunk_files_at_boundary() -> None:
    """The rclone gap: a file cut exactly after a full chunk must not decrypt cleanly."""
    ct = seal(data_of(2 * C))
    with pytest.raises(CryptoError, match="truncated"):
        open_(ct[: HEADER_SIZE + S])


def test_extension_and_trailing_bytes(tmp_path: Path, three: bytes) -> None:
    header, ch = chunks_of(three)
    for extra in [b"\0", b"x" * 16, b"y" * 100, ch[2], ch[0]]:
        assert_rejected(three + extra)
        assert_file_rejected(tmp_path, three + extra)


def test_extension_with_validly_sealed_chunk() -> None:
    """Even a chunk sealed under the same file key and counter cannot extend a file."""
    nonce = os.urandom(32)
    long_ct = seal(data_of(3 * C, 5), nonce=nonce)
    short_ct = seal(data_of(2 * C, 5), nonce=nonce)  # same key, path, nonce: same file key
    _, long_ch = chunks_of(long_ct)
    with pytest.raises(CryptoError, match="follows the final chunk"):
        open_(short_ct + long_ch[2])
    with pytest.raises(CryptoError):
        open_(long_ct[: HEADER_SIZE + 2 * S])  # long's first two chunks are not final


def test_chunk_spliced_from_other_file(three: bytes) -> None:
    other = seal(THREE)  # same key, path and content, other nonce
    h1, a = chunks_of(three)
    h2, b = chunks_of(other)
    for i in range(3):
        assert_rejected(h1 + b"".join(b[i] if j == i else a[j] for j in range(3)))
    assert_rejected(h2 + b"".join(a))  # header swapped


def test_files_swapped_between_paths(tmp_path: Path) -> None:
    a = seal(b"alice's video", path="encrypted_videos/alice/aaa")
    b = seal(b"bob's video", path="encrypted_videos/bob/bbb")
    assert_rejected(a, path="encrypted_videos/bob/bbb")
    msg = assert_file_rejected(tmp_path, b, path="encrypted_videos/alice/aaa")
    assert "wrong key, wrong remote path" in msg


def test_wrong_key(tmp_path: Path, three: bytes) -> None:
    assert_rejected(three, key=OTHER_KEY)
    assert_file_rejected(tmp_path, three, key=OTHER_KEY)


def test_not_an_encrypted_file(tmp_path: Path) -> None:
    for ct in [b"", b"hello world, plain text" * 10, b"HFCKENC\x02" + bytes(32) + bytes(16)]:
        assert_rejected(ct)
        assert_file_rejected(tmp_path, ct)


def test_failed_decrypt_keeps_existing_destination(tmp_path: Path, three: bytes) -> None:
    (tmp_path / "in").write_bytes(three[:-1])
    (tmp_path / "dst").write_bytes(b"old")
    with pytest.raises(CryptoError):
        decrypt_file(KEY, tmp_path / "in", tmp_path / "dst", P)
    assert (tmp_path / "dst").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "in"]


def test_encrypt_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        encrypt_file(KEY, tmp_path / "missing", tmp_path / "c", P)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "same").write_bytes(b"x")
    with pytest.raises(InputError):
        encrypt_file(KEY, tmp_path / "same", tmp_path / "same", P)


# --- properties --------------------------------------------------------------------------

sizes = st.one_of(st.integers(0, 300), st.integers(C - 40, C + 40), st.integers(0, 3 * C + 100))


def splits(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n), max_size=8).map(sorted)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


@FAST
@given(size=sizes, seed=st.integers(0, 2**32), data=st.data())
def test_property_round_trip_any_split(size: int, seed: int, data: st.DataObject) -> None:
    plain = data_of(size, seed)
    enc = Encryptor(KEY, P)
    ct = b"".join(enc.update(p) for p in pieces(plain, data.draw(splits(size)))) + enc.finalize()
    assert len(ct) == encrypted_size(size)
    dec = Decryptor(KEY, P)
    out = b"".join(dec.update(p) for p in pieces(ct, data.draw(splits(len(ct))))) + dec.finalize()
    assert out == plain


@FAST
@given(size=sizes, seed=st.integers(0, 2**32), data=st.data())
def test_property_any_change_is_detected(size: int, seed: int, data: st.DataObject) -> None:
    ct = seal(data_of(size, seed))
    kind = data.draw(st.sampled_from(["flip", "cut", "append", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(ct) - 1))
    if kind == "flip":
        bad = bytearray(ct)
        bad[pos] ^= data.draw(st.integers(1, 255))
        bad = bytes(bad)
    elif kind == "cut":
        bad = ct[:pos]
    elif kind == "append":
        bad = ct + data.draw(st.binary(min_size=1, max_size=S + 1))
    elif kind == "insert":
        bad = ct[:pos] + data.draw(st.binary(min_size=1, max_size=20)) + ct[pos:]
    else:
        bad = ct[:pos] + ct[pos + data.draw(st.integers(1, 20)) :]
    with pytest.raises(CryptoError):
        open_(bad, step=data.draw(st.sampled_from([None, 1000, S])))


# --- names -------------------------------------------------------------------------------

PARENT = "encrypted_images/alice"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def test_name_round_trip_and_determinism() -> None:
    enc = KEY.encrypt_name(PARENT, "1234567890123456789_0.jpg")
    assert enc == KEY.encrypt_name(PARENT, "1234567890123456789_0.jpg")
    assert set(enc) <= set(B32) and enc == enc.lower() and "=" not in enc
    assert KEY.decrypt_name(PARENT, enc) == "1234567890123456789_0.jpg"
    assert KEY.encrypt_name(PARENT, "1234567890123456789_1.jpg") != enc
    assert KEY.encrypt_name("encrypted_images/bob", "1234567890123456789_0.jpg") != enc
    assert OTHER_KEY.encrypt_name(PARENT, "1234567890123456789_0.jpg") != enc


def test_name_bound_to_parent_and_key() -> None:
    enc = KEY.encrypt_name(PARENT, "1_0.jpg")
    with pytest.raises(CryptoError):
        KEY.decrypt_name("encrypted_images/bob", enc)
    with pytest.raises(CryptoError):
        KEY.decrypt_name("encrypted_videos/alice", enc)
    with pytest.raises(CryptoError):
        OTHER_KEY.decrypt_name(PARENT, enc)


def test_name_nfc_nfd_equal() -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café_0.jpg"), unicodedata.normalize("NFD", "café_0.jpg")
    assert nfc != nfd
    assert KEY.encrypt_name(PARENT, nfc) == KEY.encrypt_name(PARENT, nfd)
    assert KEY.decrypt_name(PARENT, KEY.encrypt_name(PARENT, nfd)) == nfc
    assert KEY.encrypt_name(unicodedata.normalize("NFD", "encrypted_images/josé"), "a") == KEY.encrypt_name(
        "encrypted_images/josé", "a"
    )


def test_every_single_character_change_rejected() -> None:
    enc = KEY.encrypt_name(PARENT, "1234567890123456789_0.jpg")
    for i, ch in enumerate(enc):
        for other in B32:
            if other != ch:
                with pytest.raises(CryptoError):
                    KEY.decrypt_name(PARENT, enc[:i] + other + enc[i + 1 :])
        with pytest.raises(CryptoError):
            KEY.decrypt_name(PARENT, enc[:i] + enc[i + 1 :])  # deleted
        with pytest.raises(CryptoError):
            KEY.decrypt_name(PARENT, enc[:i] + "a" + enc[i:])  # inserted


def test_non_canonical_encodings_rejected() -> None:
    enc = KEY.encrypt_name(PARENT, "1_0.jpg")  # 23 bytes -> 37 chars, 1 padding bit... check
    raw = base64.b32decode(enc.upper() + "=" * (-len(enc) % 8))
    assert base64.b32encode(raw).decode().rstrip("=").lower() == enc
    spare_bits = len(enc) * 5 - len(raw) * 8
    assert spare_bits > 0
    # the same bytes with a non-zero unused trailing bit: decodes, but is not canonical
    last = B32.index(enc[-1])
    noncanon = enc[:-1] + B32[last | 1]
    assert noncanon != enc and base64.b32decode(noncanon.upper() + "=" * (-len(enc) % 8)) == raw
    for bad in [
        noncanon,
        enc.upper(),
        enc[:3].upper() + enc[3:],
        enc + "=" * (-len(enc) % 8),
        enc + "========",
        "",
        "a",
        enc[:-1] + "1",
        enc[:-1] + "8",
        enc[:10] + "." + enc[11:],
        "abc",
        "a" * 256,
        KEY.encrypt_name(PARENT, "1_0.jpg")[:26],
    ]:
        with pytest.raises(CryptoError):
            KEY.decrypt_name(PARENT, bad)


def test_name_length_boundary() -> None:
    ok = KEY.encrypt_name(PARENT, "x" * 143)
    assert len(ok) == 255
    assert KEY.decrypt_name(PARENT, ok) == "x" * 143
    assert len(KEY.encrypt_name(PARENT, "é" * 71 + "x")) == 255  # counted in UTF-8 bytes
    for too_long in ["x" * 144, "é" * 72, "日" * 48]:
        with pytest.raises(InvalidName, match="too long"):
            KEY.encrypt_name(PARENT, too_long)
    assert issubclass(InvalidName, ValueError) and issubclass(InvalidName, InputError)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "/x", "a\\b", "a\x00b"])
def test_invalid_names_rejected(bad: str) -> None:
    with pytest.raises(InvalidName):
        KEY.encrypt_name(PARENT, bad)


def test_invalid_parents_rejected() -> None:
    for bad in ["", "a\x00"]:
        with pytest.raises(InvalidName):
            KEY.encrypt_name(bad, "x")
        with pytest.raises(CryptoError):
            KEY.decrypt_name(bad, KEY.encrypt_name(PARENT, "x"))


def test_decrypted_name_must_be_valid() -> None:
    """A name sealed by someone with the key but invalid (e.g. `..`) is still refused."""
    siv = AESSIV(_hkdf(bytes(range(32)), None, b"hfcheck v1 name key", 64))
    for plain in [b"..", b"a/b", b"\xff", unicodedata.normalize("NFD", "é").encode()]:
        sealed = siv.encrypt(plain, [PARENT.encode()])
        text = base64.b32encode(sealed).decode().rstrip("=").lower()
        with pytest.raises(CryptoError):
            KEY.decrypt_name(PARENT, text)


names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"), min_size=1, max_size=60
).filter(
    lambda s: (
        unicodedata.normalize("NFC", s) not in (".", "..") and len(unicodedata.normalize("NFC", s).encode()) <= 143
    )
)


@settings(max_examples=150, deadline=None)
@given(
    parent=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30),
    name=names,
)
def test_property_names(parent: str, name: str) -> None:
    enc = KEY.encrypt_name(parent, name)
    assert len(enc) == -(-8 * (16 + len(unicodedata.normalize("NFC", name).encode())) // 5) <= 255
    assert set(enc) <= set(B32)
    assert KEY.decrypt_name(parent, enc) == unicodedata.normalize("NFC", name)
    assert KEY.encrypt_name(unicodedata.normalize("NFD", parent), unicodedata.normalize("NFD", name)) == enc


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_property_decrypt_name_never_crashes(text: str) -> None:
    with pytest.raises(CryptoError):
        KEY.decrypt_name(PARENT, text)


# --- keys --------------------------------------------------------------------------------


def test_keygen_and_load(tmp_path: Path) -> None:
    path = tmp_path / "archive.key"
    generate_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 1 and len(base64.b64decode(text)) == 32
    key = load_key(path)
    assert key.decrypt_name(PARENT, key.encrypt_name(PARENT, "a")) == "a"
    with pytest.raises(InputError, match="already exists"):
        generate_key_file(path)
    assert path.read_text() == text


def test_keygen_ignores_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_key_file(tmp_path / "k")
    finally:
        os.umask(old)
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o602])
def test_load_refuses_open_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k"
    generate_key_file(path)
    path.chmod(mode)
    with pytest.raises(InputError, match="group or others") as exc:
        load_key(path)
    assert str(path) in str(exc.value) and path.read_text().strip() not in str(exc.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        base64.b64encode(bytes(31)) + b"\n",
        base64.b64encode(bytes(33)),
        b"not base64!!\n",
        base64.b64encode(bytes(32)) + b"\n" + base64.b64encode(bytes(32)) + b"\n",
        bytes(32),
        b"x" * 5000,
    ],
)
def test_load_refuses_bad_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(InputError, match="not valid") as exc:
        load_key(path)
    assert str(path) in str(exc.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read key file"):
        load_key(tmp_path / "nope")
    with pytest.raises(InputError, match="not a regular file"):
        (tmp_path / "d").mkdir(mode=0o700)
        load_key(tmp_path / "d")


def test_key_never_shown() -> None:
    raw = bytes(range(100, 132))
    key = ArchiveKey.from_bytes(raw)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert raw.hex() not in text and base64.b64encode(raw).decode() not in text and str(raw) not in text
    assert not hasattr(key, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(ValueError):
        ArchiveKey.from_bytes(bytes(31))


# --- known answers -----------------------------------------------------------------------


def load_vectors(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", load_vectors("hkdf_rfc5869.json")["cases"], ids=lambda c: c["name"])
def test_hkdf_rfc5869(case: dict) -> None:
    h = {k: bytes.fromhex(case[k]) for k in ("ikm", "salt", "info", "prk", "okm")}
    assert _hkdf(h["ikm"], h["salt"] or None, h["info"], case["length"]) == h["okm"]
    assert _hkdf(h["ikm"], h["salt"], h["info"], case["length"]) == h["okm"]
    assert hmac.new(h["salt"] or bytes(32), h["ikm"], hashlib.sha256).digest() == h["prk"]


@pytest.mark.parametrize("case", load_vectors("aes_siv_rfc5297.json")["cases"], ids=lambda c: c["name"])
def test_aes_siv_rfc5297(case: dict) -> None:
    siv = AESSIV(bytes.fromhex(case["key"]))
    ad = [bytes.fromhex(a) for a in case["ad"]]
    out = bytes.fromhex(case["output"])
    assert siv.encrypt(bytes.fromhex(case["plaintext"]), ad) == out
    assert siv.decrypt(out, ad) == bytes.fromhex(case["plaintext"])


V1 = load_vectors("hfcheck_v1.json")


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def test_v1_derived_keys() -> None:
    key, nonce = bytes.fromhex(V1["key"]), bytes.fromhex(V1["nonce"])
    assert bytes.fromhex(V1["file_info"]) == b"hfcheck v1 file key\x00"
    assert bytes.fromhex(V1["name_info"]) == b"hfcheck v1 name key"
    assert _hkdf(key, nonce, b"hfcheck v1 file key\x00" + V1["remote_path"].encode(), 32).hex() == V1["file_key"]
    assert _hkdf(key, None, b"hfcheck v1 name key", 64).hex() == V1["name_key"]


@pytest.mark.parametrize("vec", V1["files"], ids=lambda v: str(v["plaintext_size"]))
def test_v1_file_vectors(tmp_path: Path, vec: dict) -> None:
    key, nonce = ArchiveKey.from_bytes(bytes.fromhex(V1["key"])), bytes.fromhex(V1["nonce"])
    plain = pattern(vec["plaintext_size"])
    (tmp_path / "p").write_bytes(plain)
    encrypt_file(key, tmp_path / "p", tmp_path / "c", V1["remote_path"], _nonce=nonce)
    ct = (tmp_path / "c").read_bytes()
    assert ct == seal(plain, key, V1["remote_path"], nonce)
    assert len(ct) == vec["ciphertext_size"]
    if "ciphertext" in vec:
        assert ct.hex() == vec["ciphertext"]
    else:
        assert hashlib.sha256(ct).hexdigest() == vec["ciphertext_sha256"]
        assert ct[:72].hex() == vec["head"] and ct[-48:].hex() == vec["tail"]
    assert open_(ct, key, V1["remote_path"]) == plain


@pytest.mark.parametrize("vec", V1["names"], ids=lambda v: v["name"][:30])
def test_v1_name_vectors(vec: dict) -> None:
    key = ArchiveKey.from_bytes(bytes.fromhex(V1["key"]))
    assert key.encrypt_name(vec["parent"], vec["name"]) == vec["encrypted"]
    assert key.decrypt_name(vec["parent"], vec["encrypted"]) == vec["name"]


def independent_v1(key: bytes, nonce: bytes, path: str, plain: bytes) -> bytes:
    """The format as docs/encryption.md states it, from primitives only (not hfcheck.crypto)."""
    header = b"HFCKENC" + b"\x01" + nonce
    fk = HKDF(hashes.SHA256(), 32, nonce, b"hfcheck v1 file key\x00" + path.encode()).derive(key)
    aead = ChaCha20Poly1305(fk)
    pieces = [plain[i : i + 65536] for i in range(0, len(plain), 65536)] or [b""]
    out = [header]
    for i, p in enumerate(pieces):
        nonce12 = i.to_bytes(11, "big") + (b"\x01" if i == len(pieces) - 1 else b"\x00")
        out.append(aead.encrypt(nonce12, p, header))
    return b"".join(out)


@pytest.mark.parametrize("size", SIZES)
def test_matches_independent_implementation(size: int) -> None:
    nonce = os.urandom(32)
    plain = data_of(size)
    assert seal(plain, KEY, P, nonce) == independent_v1(bytes(range(32)), nonce, P, plain)
    siv = AESSIV(HKDF(hashes.SHA256(), 64, None, b"hfcheck v1 name key").derive(bytes(range(32))))
    expect = base64.b32encode(siv.encrypt(b"1_0.jpg", [PARENT.encode()])).decode().rstrip("=").lower()
    assert KEY.encrypt_name(PARENT, "1_0.jpg") == expect


def craft(chunks: list[tuple[bytes, bool]], nonce: bytes = bytes(32)) -> bytes:
    """A stream sealed chunk by chunk from primitives, to build what Encryptor refuses to."""
    header = b"HFCKENC\x01" + nonce
    fk = HKDF(hashes.SHA256(), 32, nonce, b"hfcheck v1 file key\x00" + P.encode()).derive(bytes(range(32)))
    aead = ChaCha20Poly1305(fk)
    return header + b"".join(
        aead.encrypt(i.to_bytes(11, "big") + (b"\x01" if final else b"\x00"), p, header)
        for i, (p, final) in enumerate(chunks)
    )


def test_non_canonical_streams_from_a_key_holder_rejected(tmp_path: Path) -> None:
    full = data_of(C)
    assert open_(craft([(full, False), (b"x", True)])) == full + b"x"  # the crafting is right
    for bad in [
        craft([(full, False), (b"", True)]),  # empty final chunk after data
        craft([(b"short", False), (b"x", True)]),  # short non-final chunk
        craft([(full, True), (b"x", True)]),  # two final chunks
        craft([(full, False)]),  # no final chunk at all
    ]:
        assert_rejected(bad)
        assert_file_rejected(tmp_path, bad)
