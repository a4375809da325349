"""The URL and path model: parsing, building, classification, confinement."""

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hfcheck.model.paths import (
    LOCAL_NAME_RE,
    REPO_ID_RE,
    TWEET_ID_RE,
    USERNAME_RE,
    BackupURL,
    LocalName,
    MalformedURL,
    Media,
    PathKind,
    UnsafePath,
    check_username,
    classify_path,
    confine,
    local_relpath,
    media_ext_from_url,
    parse_local_relpath,
)

URL = "https://huggingface.co/datasets/alice/backup/resolve/main/encrypted_images/bob/abcdef"


def test_parse_and_build_round_trip() -> None:
    u = BackupURL.parse(URL)
    assert (u.endpoint, u.repo_id, u.revision, u.path) == (
        "https://huggingface.co",
        "alice/backup",
        "main",
        "encrypted_images/bob/abcdef",
    )
    assert str(u) == URL
    assert u.kind is PathKind.ENCRYPTED


def test_revision_with_slash_is_quoted() -> None:
    u = BackupURL("http://127.0.0.1:8080", "a/b", "refs/pr/1", "images/x/1_0.jpg")
    assert "/resolve/refs%2Fpr%2F1/" in str(u)
    assert BackupURL.parse(str(u)) == u
    assert u.kind is PathKind.WRONG


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ftp://huggingface.co/datasets/a/b/resolve/main/x",
        "https://huggingface.co/a/b/resolve/main/x",
        "https://huggingface.co/datasets/a/b/blob/main/x",
        "https://huggingface.co/datasets/a/b/resolve/main/",
        "https://huggingface.co/datasets/a/b/resolve/main/../../etc/passwd",
        "https://huggingface.co/datasets/a/b/resolve/main/x/%2e%2e/y",
        "https://huggingface.co/datasets/a/b/resolve/main/x%00y",
        "https://huggingface.co/datasets/a/b/resolve/main/C%3A/x",
        "not a url",
    ],
)
def test_malformed_urls(bad: str) -> None:
    with pytest.raises(MalformedURL):
        BackupURL.parse(bad)


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"), min_size=1, max_size=20
).filter(lambda s: s not in (".", "..") and s.strip() == s and not any(ord(c) < 32 or ord(c) == 127 for c in s))


@given(rev=segment, parts=st.lists(segment, min_size=1, max_size=4))
def test_round_trip_property(rev: str, parts: list[str]) -> None:
    assume(not re.match(r"[A-Za-z]:", parts[0]))  # refused as a drive (test_malformed_urls)
    u = BackupURL("https://hub.example", "own/repo", rev, "/".join(parts))
    assert BackupURL.parse(str(u)) == u


@given(st.text(max_size=200))
def test_parse_never_crashes(text: str) -> None:
    try:
        BackupURL.parse(text)
    except MalformedURL:
        pass


def test_classify() -> None:
    assert classify_path("encrypted_videos/bob/xyz") is PathKind.ENCRYPTED
    assert classify_path("videos/bob/1234567890_0.mp4") is PathKind.WRONG
    assert classify_path("images/bob/notmedia.txt") is PathKind.UNKNOWN
    assert classify_path("README.md") is PathKind.UNKNOWN


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a\x00", "-" * 16, "naïve", " bob", "bob "])
def test_unsafe_usernames(name: str) -> None:
    with pytest.raises(UnsafePath):
        check_username(name)


def test_local_paths() -> None:
    name = LocalName.parse("123_0.MP4")
    assert name.media is Media.VIDEO
    assert local_relpath("bob", LocalName.parse("1_2.jpg")) == "images/bob/1_2.jpg"
    assert parse_local_relpath("videos/bob/1_0.mp4") == (Media.VIDEO, "bob", LocalName("1", 0, "mp4"))
    with pytest.raises(UnsafePath):
        parse_local_relpath("videos/../1_0.mp4")
    with pytest.raises(UnsafePath):
        LocalName.parse("1_0.exe/")


def test_confine(tmp_path: Path) -> None:
    (tmp_path / "root" / "images").mkdir(parents=True)
    root = tmp_path / "root"
    assert confine(root, "images/a.jpg") == root / "images" / "a.jpg"
    for bad in ["/etc/passwd", "../x", "images/../../x", "C:/x", "a\\..\\b", ""]:
        with pytest.raises(UnsafePath):
            confine(root, bad)
    (root / "images" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        confine(root, "images/link/x")


def test_media_ext() -> None:
    assert media_ext_from_url("https://pbs.twimg.com/media/AbC?format=png&name=orig") == "png"
    assert media_ext_from_url("https://pbs.twimg.com/media/AbC.jpg") == "jpg"
    assert media_ext_from_url("https://video.twimg.com/ext_tw_video/1/pu/vid/720x1280/x.mp4?tag=12") == "mp4"


@pytest.mark.parametrize(
    ("pattern", "good"),
    [(USERNAME_RE, "bob"), (TWEET_ID_RE, "12"), (LOCAL_NAME_RE, "12_0.jpg"), (REPO_ID_RE, "alice/backup")],
)
def test_whole_string_patterns_refuse_a_trailing_newline(pattern: re.Pattern[str], good: str) -> None:
    """`$` would also match before a final newline: "bob\\n" must not pass for a username."""
    assert pattern.match(good) and not pattern.match(good + "\n")
    with pytest.raises(UnsafePath):
        check_username("bob\n")
