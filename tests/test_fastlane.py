"""Verify's fast lane (hfcheck/verify/fastlane.py): it counts a URL present only where the full
path (`BackupURL.parse`, the listing, `Checker`'s finding) would find it present, for a page of
rows as for each URL alone."""

from __future__ import annotations

from array import array
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from hfcheck.config import load_config
from hfcheck.errors import MalformedURL
from hfcheck.model.paths import BackupURL
from hfcheck.net.hub import Hub
from hfcheck.verify.checkers import Checker, HotSets, PathIndex, RepoState
from hfcheck.verify.fastlane import run_end
from hfcheck.verify.findings import Category

E = "https://huggingface.co"
LISTED = {"a/one": ["encrypted_images/u/x1", "encrypted_videos/u/x2", "images/u/1_0.jpg"], "a/two": ["f/y1"]}
URL_POOL = [
    *(f"{E}/datasets/{repo}/resolve/main/{path}" for repo, paths in LISTED.items() for path in paths),
    f"{E}/datasets/a/one/resolve/main/encrypted_images/u/gone",  # listed repo, not there
    f"{E}/datasets/a/one/resolve/main/encrypted_images/u/a%20b",  # needs the full parse
    f"{E}/datasets/a/one/resolve/main/.hidden/x",
    f"{E}/datasets/a/one/resolve/dev/encrypted_images/u/x1",  # another revision
    f"{E}/datasets/a/three/resolve/main/f/y1",  # a repo not resolved
    f"{E}/datasets/a/two/resolve/main/f/y1\nf/y1",
    "",
]
PREFIXES = [f"{E}/datasets/{r}/resolve/{rev}/" for r in ("a/one", "a/two", "a/three") for rev in ("main", "dev")]
PATHS = st.one_of(
    st.sampled_from([p for paths in LISTED.values() for p in paths]),
    st.lists(st.sampled_from(["encrypted_images", "images", "f", "y1", "x1", "u", ".", "..", "%41", "a b", ""]))
    .map("/".join),
    st.text(alphabet="af1_-./%?#\n ", max_size=12),
)


def checker() -> Checker:
    cfg = load_config(None, {"db": Path("unused.db")}, env={"HF_ENDPOINT": E})
    found = Checker(Hub(cfg), "list", 0)
    hot = HotSets()
    for repo, paths in LISTED.items():
        found._remember_prefix(repo, "main", RepoState(repo, "main", PathIndex(array("q", map(hash, paths)), hot)))
    return found


@given(prefix=st.sampled_from(PREFIXES), path=PATHS)
@example(prefix=PREFIXES[0], path="images/u/1_0.jpg")  # listed, but a wrong (unencrypted) path
def test_a_url_counted_present_is_one_the_full_path_finds_present(prefix: str, path: str) -> None:
    lane = checker().fast
    raw = prefix + path
    hit = lane.lookup(raw)
    if hit is None:
        return  # the full path decides
    url = BackupURL.parse(raw)  # recognised: it parses, to the same parts
    listed = LISTED[url.repo_id]
    assert url.revision == "main"
    if hit is True:
        assert url.path in listed
        assert Checker._finding(True, url, {"tweet_id": "1", "url": raw}).category is Category.PRESENT
    else:
        state, rel = hit
        assert (state.repo_id, state.revision, rel) == (url.repo_id, url.revision, url.path)


@given(prefix=st.sampled_from(PREFIXES), path=PATHS)
def test_a_url_the_full_parse_refuses_is_never_recognised(prefix: str, path: str) -> None:
    try:
        BackupURL.parse(prefix + path)
    except MalformedURL:
        assert checker().fast.lookup(prefix + path) is None


@given(
    st.lists(st.one_of(st.none(), st.lists(st.sampled_from(URL_POOL), min_size=1, max_size=3)), min_size=1, max_size=6)
)
@example([[URL_POOL[0]], [URL_POOL[3]]])  # two repos whose prefixes have the same length
def test_a_page_is_counted_exactly_where_each_url_alone_is_present(rows: list[list[str] | None]) -> None:
    """A page of rows settled in bulk is counted only where each URL alone would be: the page
    path (one repo, one match) and the per-URL path agree with `lookup`."""
    lane = checker().fast
    for page in (rows, [r for r in rows if r and len(r) == 1 and "/a/one/" in r[0]]):
        expected = [len(urls) if urls and all(lane.lookup(u) is True for u in urls) else None for urls in page]
        assert lane.count_present(page) == expected


@given(st.lists(st.one_of(st.none(), st.integers(1, 3)), max_size=8), st.integers(0, 9))
def test_a_run_ends_at_the_first_row_not_counted(counts: list[int | None], start: int) -> None:
    end = run_end(counts, start)
    assert all(c is not None for c in counts[start:end])
    assert end == len(counts) or (end >= start and counts[end] is None)
