"""The codec layer: every codec round-trips bytes and names, recognises its own ciphertext and
nobody else's, detects tampering; Fernet is plain-Fernet compatible and size-limited; the
registry and plug-in loader turn the config into codecs or into one clear line."""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.config import load_config
from hfcheck.crypto import (
    HEAD_BYTES,
    ArchiveKey,
    Codec,
    Codecs,
    FernetCodec,
    FileTooLarge,
    HfcheckV1Codec,
    OneWayNames,
    load_codec,
    load_codecs,
    load_key,
)
from hfcheck.crypto.names import check_name
from hfcheck.errors import ConfigError, CryptoError, InputError
from tests.plugin_codec import ToyCodec, ToyReversibleCodec

RAW = bytes(range(32))
KEY_TEXT = base64.b64encode(RAW)
REMOTE = "encrypted_videos/alice/some-name"
PARENT = "encrypted_videos/alice"
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def codecs_under_test() -> list[Codec]:
    return [HfcheckV1Codec(ArchiveKey(RAW)), FernetCodec(RAW), ToyCodec(KEY_TEXT), ToyReversibleCodec(KEY_TEXT)]


ALL = codecs_under_test()
IDS = [c.name for c in ALL]


def encrypt_bytes(codec: Codec, data: bytes, tmp: Path, remote: str = REMOTE) -> bytes:
    (tmp / "plain").write_bytes(data)
    codec.encrypt_file(tmp / "plain", tmp / "enc", remote)
    return (tmp / "enc").read_bytes()


def decrypt_bytes(codec: Codec, blob: bytes, tmp: Path, remote: str = REMOTE) -> bytes:
    (tmp / "enc").write_bytes(blob)
    (tmp / "out").unlink(missing_ok=True)
    codec.decrypt_file(tmp / "enc", tmp / "out", remote)
    return (tmp / "out").read_bytes()


def key_file(tmp: Path, text: bytes = KEY_TEXT, name: str = "archive.key") -> Path:
    path = tmp / name
    path.write_bytes(text + b"\n")
    path.chmod(0o600)
    return path


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ALL, ids=IDS)
@FAST
@given(data=st.one_of(st.binary(max_size=3000), st.sampled_from([b"", bytes(65536), os.urandom(65537)])))
def test_bytes_round_trip(codec: Codec, data: bytes, tmp_path: Path) -> None:
    blob = encrypt_bytes(codec, data, tmp_path)
    assert len(data) < 16 or data not in blob
    assert decrypt_bytes(codec, blob, tmp_path) == data
    assert codec.recognises(blob[:HEAD_BYTES])


@pytest.mark.parametrize("codec", ALL, ids=IDS)
def test_stream_methods_report_what_they_wrote(codec: Codec, tmp_path: Path) -> None:
    import hashlib

    data = os.urandom(200_000)
    (tmp_path / "p").write_bytes(data)
    out = io.BytesIO()
    result = codec.encrypt_to(tmp_path / "p", out, REMOTE)
    assert (result.size, result.sha256) == (len(out.getvalue()), hashlib.sha256(out.getvalue()).hexdigest())
    (tmp_path / "c").write_bytes(out.getvalue())
    back = io.BytesIO()
    assert codec.decrypt_to(tmp_path / "c", back, REMOTE) == hashlib.sha256(data).hexdigest()
    assert back.getvalue() == data


NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: _valid(s) and len(s.encode()) <= 100
)


def _valid(name: str) -> bool:
    try:
        return check_name(name) == name
    except ValueError:
        return False


@pytest.mark.parametrize(
    "codec", [c for c in ALL if c.names_reversible], ids=[c.name for c in ALL if c.names_reversible]
)
@FAST
@given(name=NAMES, user=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True))
def test_names_round_trip(codec: Codec, name: str, user: str) -> None:
    parent = f"encrypted_images/{user}"
    enc = codec.encrypt_name(parent, name)
    assert "/" not in enc and 0 < len(enc) <= 255 and (len(name) < 6 or name not in enc)
    assert codec.decrypt_name(parent, enc) == name
    assert codec.encrypt_name(parent, name) == enc  # deterministic, as declared
    assert codec.deterministic_names


def test_one_way_names_say_so() -> None:
    toy = ToyCodec(KEY_TEXT)
    enc = toy.encrypt_name(PARENT, "1_0.jpg")
    assert enc == toy.encrypt_name(PARENT, "1_0.jpg") != toy.encrypt_name(PARENT, "1_1.jpg")
    with pytest.raises(OneWayNames, match="one-way"):
        toy.decrypt_name(PARENT, enc)
    codecs = Codecs(write=toy, read=(toy,), schemes=("python:tests.plugin_codec:ToyCodec",))
    with pytest.raises(OneWayNames):
        codecs.decrypt_name(PARENT, enc)


# --- recognition -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ALL, ids=IDS)
def test_each_recognises_its_own_and_no_other(codec: Codec, tmp_path: Path) -> None:
    for data in (b"", b"x", os.urandom(5000)):
        head = encrypt_bytes(codec, data, tmp_path)[:HEAD_BYTES]
        owners = {c.name for c in ALL if c.recognises(head)}
        # the two toy codecs share one file format, as two versions of one scraper would
        assert owners == ({"toy-gcm", "toy-gcm-siv"} if codec.name.startswith("toy") else {codec.name})


@settings(max_examples=300, deadline=None)
@given(head=st.binary(max_size=HEAD_BYTES))
def test_no_bytes_are_claimed_by_two_formats(head: bytes) -> None:
    """Hypothesis goes looking for the magic numbers; recognition must stay unambiguous."""
    owners = {c.name.split("-")[0] for c in ALL if c.recognises(head)}  # toy-gcm, toy-gcm-siv: one format
    assert len(owners) <= 1


def test_random_files_are_unknown_format() -> None:
    codecs = Codecs(write=ALL[0], read=tuple(ALL), schemes=tuple(IDS))
    assert all(codecs.codec_for(os.urandom(HEAD_BYTES)) is None for _ in range(2000))
    # text that merely looks like base64 is not a Fernet token unless it decodes to 0x80
    assert codecs.codec_for(b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB") is None


def test_fernet_recognises_what_users_wrote(tmp_path: Path) -> None:
    fernet = FernetCodec(RAW)
    token = Fernet(base64.urlsafe_b64encode(RAW)).encrypt(b"video")
    assert fernet.recognises(token[:HEAD_BYTES]) and fernet.recognises(token + b"\n")
    assert not fernet.recognises(token[:HEAD_BYTES] + b"\x00")  # not base64 throughout


# --- Fernet: compatibility, tampering, size limit ---------------------------------------


def test_plain_fernet_and_our_codec_read_each_other(tmp_path: Path) -> None:
    fkey = Fernet.generate_key()
    user = Fernet(fkey)
    kf = key_file(tmp_path, fkey)
    codec = load_codec(load_config(None, {"key_file": kf, "scheme": "fernet"}, env={}))
    assert isinstance(codec, FernetCodec)
    data = os.urandom(300_000)
    # theirs -> ours
    (tmp_path / "theirs").write_bytes(user.encrypt(data))
    codec.decrypt_file(tmp_path / "theirs", tmp_path / "back", REMOTE)
    assert (tmp_path / "back").read_bytes() == data
    name = user.encrypt(b"1700000000000000000_0.mp4").decode()
    assert codec.decrypt_name(PARENT, name) == "1700000000000000000_0.mp4"
    # ours -> theirs
    (tmp_path / "p").write_bytes(data)
    codec.encrypt_file(tmp_path / "p", tmp_path / "ours", REMOTE)
    assert user.decrypt((tmp_path / "ours").read_bytes()) == data
    ours = codec.encrypt_name(PARENT, "1700000000000000000_0.mp4")
    assert user.decrypt(ours.encode()) == b"1700000000000000000_0.mp4"
    # our names are deterministic per folder, unlinkable across folders; theirs are random
    assert (
        ours
        == codec.encrypt_name(PARENT, "1700000000000000000_0.mp4")
        != codec.encrypt_name("encrypted_videos/bob", "1700000000000000000_0.mp4")
    )
    assert user.encrypt(b"a") != user.encrypt(b"a")


def test_fernet_tampering_and_wrong_key(tmp_path: Path) -> None:
    codec = FernetCodec(RAW)
    blob = encrypt_bytes(codec, os.urandom(10_000), tmp_path)
    raw = base64.urlsafe_b64decode(blob)
    bad_blobs = [
        base64.urlsafe_b64encode(raw[:50] + bytes([raw[50] ^ 1]) + raw[51:]),  # a flipped bit
        base64.urlsafe_b64encode(raw[:-16]),  # truncated
        base64.urlsafe_b64encode(raw + b"x" * 16),  # extended
        blob[: len(blob) // 2],
    ]
    for bad in bad_blobs:
        with pytest.raises(CryptoError, match="not a Fernet token of this key"):
            decrypt_bytes(codec, bad, tmp_path)
        assert not (tmp_path / "out").exists()
    with pytest.raises(CryptoError):
        decrypt_bytes(FernetCodec(bytes(32)), blob, tmp_path)
    name = codec.encrypt_name(PARENT, "1_0.jpg")
    for bad_name in (name[:-4] + ("AAAA" if not name.endswith("AAAA") else "BBBB"), name + "x", "../etc", "gAAAA"):
        with pytest.raises(CryptoError):
            codec.decrypt_name(PARENT, bad_name)


def test_fernet_size_limit_is_one_line_naming_the_file(tmp_path: Path) -> None:
    kf = key_file(tmp_path)
    cfg = load_config(None, {"key_file": kf, "scheme": "fernet", "max_fernet_bytes": 1000}, env={})
    codec = load_codecs(cfg).write
    assert codec.max_file_size == 1000
    (tmp_path / "big.mp4").write_bytes(os.urandom(1001))
    with pytest.raises(FileTooLarge) as exc:
        codec.encrypt_file(tmp_path / "big.mp4", tmp_path / "big.enc", REMOTE)
    msg = str(exc.value)
    assert "big.mp4" in msg and "crypto.max_fernet_bytes" in msg and "1001" in msg and "\n" not in msg
    assert exc.value.exit_code == 2 and not (tmp_path / "big.enc").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    (tmp_path / "ok").write_bytes(os.urandom(1000))
    codec.encrypt_file(tmp_path / "ok", tmp_path / "ok.enc", REMOTE)  # at the limit: fine
    codec.decrypt_file(tmp_path / "ok.enc", tmp_path / "ok.back", REMOTE)
    # reading back: a token that can only hold more than the limit is refused before decoding
    big_token = Fernet(base64.urlsafe_b64encode(RAW)).encrypt(os.urandom(1100))
    (tmp_path / "big.token").write_bytes(big_token)
    with pytest.raises(FileTooLarge, match="big.token"):
        codec.decrypt_file(tmp_path / "big.token", tmp_path / "nope", REMOTE)


@pytest.mark.parametrize("codec", ALL, ids=IDS)
def test_tampered_files_fail_for_every_codec(codec: Codec, tmp_path: Path) -> None:
    blob = encrypt_bytes(codec, os.urandom(5000), tmp_path)
    pos = len(blob) // 2
    flipped = (
        blob[:pos] + bytes([blob[pos] ^ 1 if blob[pos : pos + 1] not in (b"A", b"Q") else ord("B")]) + blob[pos + 1 :]
    )
    for bad in (flipped, blob[:-8]):
        with pytest.raises(CryptoError):
            decrypt_bytes(codec, bad, tmp_path)
        assert not (tmp_path / "out").exists()


def test_v1_files_stay_bound_to_their_path(tmp_path: Path) -> None:
    v1 = HfcheckV1Codec(ArchiveKey(RAW))
    blob = encrypt_bytes(v1, b"data", tmp_path)
    with pytest.raises(CryptoError, match="wrong remote path"):
        decrypt_bytes(v1, blob, tmp_path, remote="encrypted_videos/bob/other")


# --- registry ----------------------------------------------------------------------------


def test_registry_default_and_fernet(tmp_path: Path) -> None:
    kf = key_file(tmp_path)
    default = load_codecs(load_config(None, {"key_file": kf}, env={}))
    assert default.write.name == "hfcheck-v1" and default.schemes == ("hfcheck-v1", "fernet")
    fern = load_codecs(load_config(None, {"key_file": kf, "scheme": "fernet"}, env={}))
    assert fern.write.name == "fernet" and fern.schemes == ("fernet", "hfcheck-v1")
    mixed = load_codecs(load_config(None, {"key_file": kf, "scheme": "fernet", "write_scheme": "hfcheck-v1"}, env={}))
    assert mixed.write.name == "hfcheck-v1" and mixed.schemes == ("fernet", "hfcheck-v1")
    # a mixed archive is read file by file, names too
    v1_blob = encrypt_bytes(mixed.by_scheme("hfcheck-v1"), b"a", tmp_path)
    f_blob = encrypt_bytes(mixed.by_scheme("fernet"), b"b", tmp_path)
    assert mixed.codec_for(v1_blob[:HEAD_BYTES]).name == "hfcheck-v1"  # type: ignore[union-attr]
    assert mixed.codec_for(f_blob[:HEAD_BYTES]).name == "fernet"  # type: ignore[union-attr]
    assert mixed.codec_for(os.urandom(64)) is None
    for scheme in ("hfcheck-v1", "fernet"):
        enc = mixed.by_scheme(scheme).encrypt_name(PARENT, "5_1.png")
        assert mixed.decrypt_name(PARENT, enc) == "5_1.png"
    with pytest.raises(CryptoError, match="does not decrypt with fernet, hfcheck-v1"):
        mixed.decrypt_name(PARENT, "zzzz")
    # the same key file is a v1 key: one key serves both schemes
    assert load_key(kf).decrypt_name(PARENT, mixed.by_scheme("hfcheck-v1").encrypt_name(PARENT, "x")) == "x"


def test_registry_plugin_first_then_builtins(tmp_path: Path) -> None:
    kf = key_file(tmp_path)
    scheme = "python:tests.plugin_codec:ToyCodec"
    codecs = load_codecs(load_config(None, {"key_file": kf, "scheme": scheme}, env={}))
    assert codecs.schemes == (scheme, "hfcheck-v1", "fernet") and codecs.write.name == "toy-gcm"
    blob = encrypt_bytes(codecs.write, b"abc", tmp_path)
    assert codecs.codec_for(blob) is codecs.write and decrypt_bytes(codecs.write, blob, tmp_path) == b"abc"
    for attr in ("make", "ToyReversibleCodec"):
        assert load_codec(
            load_config(None, {"key_file": kf}, env={}), f"python:tests.plugin_codec:{attr}"
        ).name.startswith("toy")


def test_plugin_with_its_own_key_format_skips_builtins(tmp_path: Path) -> None:
    """A plug-in whose key file is not 32 bytes of base64 still loads; the built-ins, which
    could not have written anything with it, are left out of the readers."""
    kf = key_file(tmp_path, b"correct horse battery staple")
    scheme = "python:tests.plugin_codec:PassphraseCodec"
    codecs = load_codecs(load_config(None, {"key_file": kf, "scheme": scheme}, env={}))
    assert codecs.schemes == (scheme,) and codecs.write.name == "toy-passphrase"
    with pytest.raises(InputError, match="not valid"):
        load_codecs(load_config(None, {"key_file": kf}, env={}))


@pytest.mark.parametrize(
    "scheme, needle",
    [
        ("python:no_such_module_xyz:Codec", "cannot import module 'no_such_module_xyz'"),
        ("python:tests.plugin_codec:Missing", "has no attribute 'Missing'"),
        ("python:tests.plugin_codec:NOT_A_CODEC", "is not a codec"),
        ("python:tests.plugin_codec:INCOMPLETE", "no method 'recognises'"),
        ("python:tests.plugin_codec:Incomplete", "creating the codec failed: TypeError"),
        ("python:tests.plugin_codec:failing", "creating the codec failed: ValueError"),
    ],
)
def test_bad_plugins_are_one_config_line(tmp_path: Path, scheme: str, needle: str) -> None:
    kf = key_file(tmp_path)
    with pytest.raises(ConfigError) as exc:
        load_codecs(load_config(None, {"key_file": kf, "scheme": scheme}, env={}))
    assert needle in str(exc.value) and "\n" not in str(exc.value) and scheme in str(exc.value)
    assert KEY_TEXT.decode() not in str(exc.value)


@pytest.mark.parametrize(
    "value", ["aes", "python:", "python:mod", "python:mod:", "python:1mod:x", "python:a.b:c d", "Fernet"]
)
def test_scheme_setting_is_checked(tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[crypto]\nscheme = "{value}"\n')
    with pytest.raises(ConfigError, match="crypto.scheme"):
        load_config(cfg, {}, env={})
    cfg.write_text(f'[crypto]\nwrite_scheme = "{value}"\n')
    with pytest.raises(ConfigError, match="crypto.write_scheme"):
        load_config(cfg, {}, env={})
    cfg.write_text("[crypto]\nmax_fernet_bytes = 0\n")
    with pytest.raises(ConfigError, match="crypto.max_fernet_bytes"):
        load_config(cfg, {}, env={})


def test_example_config_crypto_keys() -> None:
    from hfcheck.config import parse_set_flags

    cfg = load_config(Path(__file__).parent.parent / "hfcheck.example.toml", {}, env={})
    assert (cfg.scheme, cfg.write_scheme, cfg.write_scheme_or_default, cfg.max_fernet_bytes) == (
        "hfcheck-v1",
        None,
        "hfcheck-v1",
        256 << 20,
    )
    values = parse_set_flags(
        ["crypto.scheme=fernet", "crypto.write_scheme=python:tests.plugin_codec:ToyCodec", "crypto.max_fernet_bytes=5"]
    )
    cfg = load_config(None, values, env={})
    assert (cfg.scheme, cfg.write_scheme_or_default, cfg.max_fernet_bytes) == (
        "fernet",
        "python:tests.plugin_codec:ToyCodec",
        5,
    )


def test_codec_never_shows_or_pickles_its_key() -> None:
    import pickle

    for codec in (FernetCodec(RAW), HfcheckV1Codec(ArchiveKey(RAW))):
        text = repr(codec) + str(codec)
        assert RAW.hex() not in text and base64.urlsafe_b64encode(RAW).decode() not in text
        with pytest.raises(TypeError):
            pickle.dumps(codec)


# --- the Fernet archive helper -----------------------------------------------------------


def test_fernet_archive_helper_is_plain_fernet_and_our_codecs_read_it(tmp_path: Path) -> None:
    from hfcheck.model.paths import local_path_for
    from hfcheck.sim.emulator.store import Store
    from tests.fernet_archive import build_fernet_demo, plain_fernet

    root = tmp_path / "demo"
    plan = build_fernet_demo(root, tweets=20)
    cfg = load_config(root / "hfcheck.toml", {}, env={})
    assert cfg.scheme == "fernet"
    codecs = load_codecs(cfg)
    users_fernet = plain_fernet(root / "archive.key")
    store = Store(root / "hub")
    try:
        paths = store.list_paths("demo/media-backup")
        assert paths and plan.counts["present"] >= len(paths)
        for path in paths:
            entry = store.file_info("demo/media-backup", path)
            assert entry is not None and entry.sha256 is not None
            blob = b"".join(store.read_blob(entry.sha256))
            codec = codecs.codec_for(blob[:HEAD_BYTES])
            assert codec is not None and codec.name == "fernet"
            local = root / "media" / local_path_for(codecs, path)
            source = root / "source" / local.name
            expected = local.read_bytes() if local.exists() else source.read_bytes()
            assert users_fernet.decrypt(blob) == expected  # the users' own code reads it
            (tmp_path / "blob").write_bytes(blob)
            codec.decrypt_file(tmp_path / "blob", tmp_path / "plain", path)
            assert (tmp_path / "plain").read_bytes() == expected
    finally:
        store.close()
    con = sqlite3.connect(root / "archive.db")
    assert con.execute("SELECT count(*) FROM tweets").fetchone()[0] == len(
        [t for ts in plan.tweets.values() for t in ts]
    )
    con.close()


# --- crypt with any scheme ---------------------------------------------------------------


def crypt(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "hfcheck", "crypt", *args], capture_output=True, text=True, env=env, cwd=tmp, timeout=60
    )


@pytest.mark.slow
def test_crypt_cli_any_scheme(tmp_path: Path) -> None:
    r = crypt(tmp_path, "keygen", "f.key", "--scheme", "fernet")
    assert r.returncode == 0, r.stderr
    user = Fernet((tmp_path / "f.key").read_bytes().strip())  # Fernet.generate_key()'s format
    data = os.urandom(70_000)
    (tmp_path / "in.mp4").write_bytes(data)
    kf = ["--key-file", "f.key"]
    assert crypt(tmp_path, "encrypt", "in.mp4", "in.fernet", "--scheme", "fernet", *kf).returncode == 0
    assert user.decrypt((tmp_path / "in.fernet").read_bytes()) == data
    assert crypt(tmp_path, "encrypt", "in.mp4", "in.v1", "--path", REMOTE, *kf).returncode == 0
    assert (tmp_path / "in.v1").read_bytes().startswith(b"HFCKENC")
    r = crypt(tmp_path, "encrypt", "in.mp4", "x", *kf)
    assert r.returncode == 2 and "--path is required with hfcheck-v1" in r.stderr
    # decrypt recognises each file's format by itself
    for enc, extra in (("in.fernet", []), ("in.v1", ["--path", REMOTE])):
        r = crypt(tmp_path, "decrypt", enc, enc + ".out", *extra, *kf)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / (enc + ".out")).read_bytes() == data
    (tmp_path / "noise").write_bytes(os.urandom(500))
    r = crypt(tmp_path, "decrypt", "noise", "noise.out", *kf)
    assert r.returncode == 1 and "unknown format" in r.stderr and not (tmp_path / "noise.out").exists()
    # names: the user's random token and ours both unname; a plug-in with one-way names says so
    token = user.encrypt(b"123_0.mp4").decode()
    r = crypt(tmp_path, "unname", f"encrypted_videos/alice/{token}", *kf)
    assert r.returncode == 0 and r.stdout.strip() == "videos/alice/123_0.mp4", r.stderr
    r = crypt(tmp_path, "name", "videos/alice/123_0.mp4", "--scheme", "fernet", *kf)
    assert r.returncode == 0 and user.decrypt(r.stdout.strip().split("/")[2].encode()) == b"123_0.mp4"
    toy = "python:tests.plugin_codec:ToyCodec"
    r = crypt(tmp_path, "name", "videos/alice/123_0.mp4", "--scheme", toy, *kf)
    assert r.returncode == 0, r.stderr
    r = crypt(tmp_path, "unname", r.stdout.strip(), "--scheme", toy, *kf)
    assert r.returncode == 1 and "one-way" in r.stderr and "Traceback" not in r.stderr
    r = crypt(tmp_path, "encrypt", "in.mp4", "in.toy", "--scheme", toy, *kf)
    assert r.returncode == 0 and (tmp_path / "in.toy").read_bytes().startswith(b"TOYGCM")
    r = crypt(tmp_path, "decrypt", "in.toy", "in.toy.out", "--scheme", toy, *kf)
    assert r.returncode == 0 and (tmp_path / "in.toy.out").read_bytes() == data
    r = crypt(tmp_path, "encrypt", "in.mp4", "y", "--scheme", "rot13", *kf)
    assert r.returncode == 2 and "--scheme" in r.stderr and "Traceback" not in r.stderr
