"""Xet in the emulator, proven with the unmodified official client (huggingface_hub + hf_xet).

Uploads and downloads go through `HfApi.create_commit` / `hf_hub_download` only; the refusals
(a tampered xorb, a shard naming content never uploaded) are sent as raw HTTP, since the client
never sends them. conftest.py gives the run its own HF_XET_CACHE and one hf_xet attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, hf_hub_url
from hypothesis import given, settings
from hypothesis import strategies as st

from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from hfcheck.sim.emulator.xet import formats, hashing
from tests.helpers import free_port

ALICE = "tok-alice"
DS = {"repo_type": "dataset"}
MIB = 1024 * 1024
# One client for the raw requests below: `httpx.get()` and the like build a client per call, and
# with it a TLS context that loads the CA bundle (~55 ms), 25 times in this file (~1.4 s).
HTTP = httpx.Client()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with start_emulator(tmp_path_factory.mktemp("hub"), users={"alice": ALICE}) as e:
        yield e


@pytest.fixture(scope="module")
def api(emu: EmulatorThread) -> HfApi:
    return HfApi(endpoint=emu.url, token=ALICE)


def binary(n: int, seed: int) -> bytes:
    """Binary (so the Hub asks for LFS/Xet), partly compressible, different per seed."""
    rnd = random.Random(seed)
    head = b"\x00" + rnd.randbytes(min(n, 4096))
    body = bytes(rnd.randrange(4) for _ in range(min(n, 8192))) * (n // 8192 + 1)
    return (head + body)[:n]


def download(emu: EmulatorThread, repo: str, path: str, cache: Path) -> bytes:
    return Path(hf_hub_download(repo, path, endpoint=emu.url, token=ALICE, cache_dir=cache, **DS)).read_bytes()


def test_small_files_roundtrip_over_xet(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    api.create_repo("alice/small", **DS)
    files = {f"d/{i}.bin": binary(1000 + 5000 * i, i) for i in range(6)} | {"notes.txt": b"plain text\n"}
    emu.control.reset_stats()
    api.create_commit("alice/small", [CommitOperationAdd(p, d) for p, d in files.items()], commit_message="xet", **DS)
    kinds = emu.control.stats()["kinds"]
    assert kinds["xet_token"] >= 1 and kinds["cas_xorb"] >= 1 and kinds["cas_shard"] >= 1
    assert "lfs_batch" not in kinds and "lfs_upload" not in kinds
    listed = {e.path: e for e in api.list_repo_tree("alice/small", recursive=True, **DS) if hasattr(e, "size")}
    for path, data in files.items():
        e = listed[path]
        if path.endswith(".bin"):
            assert e.lfs is not None and e.lfs.sha256 == hashlib.sha256(data).hexdigest()
            assert e.xet_hash and len(e.xet_hash) == 64
        else:
            assert e.lfs is None and e.xet_hash is None
        assert download(emu, "alice/small", path, tmp_path) == data
    assert emu.control.stats()["kinds"]["cas_reconstruction"] >= 6


def test_large_file_roundtrip_and_ranged_reads(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    data = os.urandom(70 * MIB)  # > one 64 MiB xorb
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    api.create_repo("alice/big", **DS)
    emu.control.reset_stats()
    api.create_commit("alice/big", [CommitOperationAdd("v/big.bin", str(src))], commit_message="big", **DS)
    assert emu.control.stats()["by_kind"]["cas_xorb"] == {"200": 2}
    assert download(emu, "alice/big", "v/big.bin", tmp_path / "c") == data
    a, b = 33 * MIB + 12345, 37 * MIB + 999  # the middle, across chunk and xorb-independent offsets
    url = hf_hub_url("alice/big", "v/big.bin", endpoint=emu.url, **DS)
    r = HTTP.get(url, headers={"Range": f"bytes={a}-{b}", "Authorization": f"Bearer {ALICE}"}, follow_redirects=True)
    assert r.status_code == 206 and r.content == data[a : b + 1]  # the bridge host, token dropped on the way
    assert reconstruct_range(emu, "alice/big", url, a, b) == data[a : b + 1]


def reconstruct_range(emu: EmulatorThread, repo: str, url: str, a: int, b: int) -> bytes:
    """What hf_xet does for a segment: reconstruction with Range, xorb ranges, decode, trim."""
    head = HTTP.head(url, headers={"Authorization": f"Bearer {ALICE}"})
    links = {part.split(";")[1].strip(): part.split(";")[0].strip(" <>") for part in head.headers["Link"].split(",")}
    token = HTTP.get(links['rel="xet-auth"'], headers={"Authorization": f"Bearer {ALICE}"}).json()["accessToken"]
    rec = HTTP.get(
        links['rel="xet-reconstruction-info"'], headers={"Authorization": f"Bearer {token}", "Range": f"bytes={a}-{b}"}
    ).json()
    out = bytearray()
    for term in rec["terms"]:
        fetch = next(
            f
            for f in rec["fetch_info"][term["hash"]]
            if f["range"]["start"] <= term["range"]["start"] and term["range"]["end"] <= f["range"]["end"]
        )
        got = HTTP.get(
            fetch["url"], headers={"Range": f"bytes={fetch['url_range']['start']}-{fetch['url_range']['end']}"}
        )
        assert got.status_code == 206
        spans = formats.walk_xorb(got.content)
        chunks = list(formats.iter_chunks(got.content, spans))
        first = term["range"]["start"] - fetch["range"]["start"]
        out += b"".join(chunks[first : first + term["range"]["end"] - term["range"]["start"]])
    start = rec["offset_into_first_range"]
    return bytes(out[start : start + b - a + 1])


def test_thousand_files_in_one_commit(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    api.create_repo("alice/many", **DS)
    files = {
        f"m/{i // 100:02d}/{i:04d}.bin": b"\x00" + i.to_bytes(4, "big") + random.Random(i).randbytes(300)
        for i in range(1000)
    }
    emu.control.reset_stats()
    api.create_commit("alice/many", [CommitOperationAdd(p, d) for p, d in files.items()], commit_message="1000", **DS)
    stats = emu.control.stats()
    assert stats["by_kind"]["commit"] == {"200": 1}
    listed = api.list_repo_tree("alice/many", recursive=True, **DS)
    tree = [e for e in listed if hasattr(e, "size") and e.path != ".gitattributes"]  # the Hub's default one
    assert sorted(e.path for e in tree) == sorted(files)
    assert all(e.xet_hash and e.lfs.sha256 == hashlib.sha256(files[e.path]).hexdigest() for e in tree)
    for path in ("m/00/0000.bin", "m/05/0512.bin", "m/09/0999.bin"):
        assert download(emu, "alice/many", path, tmp_path) == files[path]


# -- refusals (raw HTTP: the official client never sends these) -----------------------------------
def write_token(emu: EmulatorThread, repo: str) -> tuple[str, str]:
    r = HTTP.get(f"{emu.url}/api/datasets/{repo}/xet-write-token/main", headers={"Authorization": f"Bearer {ALICE}"})
    assert r.status_code == 200 and r.headers["X-Xet-Cas-Url"] == r.json()["casUrl"]
    return r.json()["casUrl"], r.json()["accessToken"]


def make_xorb(chunks: list[bytes]) -> tuple[str, bytes]:
    body = b"".join(formats.encode_chunk(c, i % 3) for i, c in enumerate(chunks))
    return hashing.hash_to_text(hashing.xorb_hash([(hashing.chunk_hash(c), len(c)) for c in chunks])), body


def make_shard(xorb: str, chunks: list[bytes], *, sha256: bytes | None = None, fhash: bytes | None = None) -> bytes:
    leaves = [(hashing.chunk_hash(c), len(c)) for c in chunks]
    info = formats.FileInfo(
        fhash or hashing.file_hash(leaves),
        [formats.Term(hashing.text_to_hash(xorb), 0, len(chunks), sum(map(len, chunks)))],
        [hashing.verification_hash([h for h, _ in leaves])],
        sha256 or hashing.text_to_hash(hashlib.sha256(b"".join(chunks)).hexdigest()),
    )
    return formats.build_shard(formats.Shard([info]))


def test_tampered_xorb_bad_shards_and_unknown_content_are_refused(api: HfApi, emu: EmulatorThread) -> None:
    api.create_repo("alice/raw", **DS)
    cas, token = write_token(emu, "alice/raw")
    auth = {"Authorization": f"Bearer {token}"}
    chunks = [b"\x00" + random.Random(i).randbytes(3000) for i in range(5)]
    xorb, body = make_xorb(chunks)
    for where in (9, len(body) - 1):  # a byte of chunk 0 (stored as is): hash mismatch; the last LZ4 frame: undecodable
        tampered = bytearray(body)
        tampered[where] ^= 0xFF
        r = HTTP.post(f"{cas}/v1/xorbs/default/{xorb}", content=bytes(tampered), headers=auth)
        assert r.status_code == 400, where
    assert (
        HTTP.post(f"{cas}/v1/xorbs/default/{xorb}", content=body, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    other, _ = make_xorb(chunks[:2])
    assert HTTP.post(f"{cas}/v1/xorbs/default/{other}", content=body, headers=auth).status_code == 400  # hash mismatch
    assert (
        HTTP.post(f"{cas}/v1/shards", content=make_shard(xorb, chunks), headers=auth).status_code == 400
    )  # unknown xorb
    assert HTTP.post(f"{cas}/v1/xorbs/default/{xorb}", content=body, headers=auth).json() == {"was_inserted": True}
    assert HTTP.post(f"{cas}/v1/xorbs/default/{xorb}", content=body, headers=auth).json() == {"was_inserted": False}
    wrong_sha = make_shard(xorb, chunks, sha256=bytes(32))
    assert HTTP.post(f"{cas}/v1/shards", content=wrong_sha, headers=auth).status_code == 400
    assert (
        HTTP.post(f"{cas}/v1/shards", content=make_shard(xorb, chunks, fhash=bytes(32)), headers=auth).status_code
        == 400
    )
    assert HTTP.post(f"{cas}/v1/shards", content=b"garbage" * 10, headers=auth).status_code == 400
    assert HTTP.post(f"{cas}/v1/shards", content=make_shard(xorb, chunks), headers=auth).json() == {"result": 1}
    data = b"".join(chunks)

    def commit(oid: str) -> httpx.Response:
        lines = [
            {"key": "header", "value": {"summary": "raw"}},
            {"key": "lfsFile", "value": {"path": "r.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ]
        return HTTP.post(
            f"{emu.url}/api/datasets/alice/raw/commit/main",
            content="\n".join(json.dumps(x) for x in lines),
            headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/x-ndjson"},
        )

    assert commit("ab" * 32).status_code == 422  # content the server does not hold
    assert commit(hashlib.sha256(data).hexdigest()).status_code == 200
    info = api.get_paths_info("alice/raw", ["r.bin"], **DS)[0]
    assert info.xet_hash == hashing.hash_to_text(hashing.file_hash([(hashing.chunk_hash(c), len(c)) for c in chunks]))


def test_bridge_host_refuses_authorization(api: HfApi, emu: EmulatorThread) -> None:
    api.create_repo("alice/bridge", **DS)
    data = binary(20_000, 99)
    api.create_commit("alice/bridge", [CommitOperationAdd("b.bin", data)], commit_message="b", **DS)
    head = HTTP.head(
        hf_hub_url("alice/bridge", "b.bin", endpoint=emu.url, **DS), headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert (
        head.status_code == 302
        and head.headers["X-Xet-Hash"]
        and head.headers["X-Linked-Etag"].strip('"') == hashlib.sha256(data).hexdigest()
    )
    location = head.headers["Location"]
    assert httpx.URL(location).port != httpx.URL(emu.url).port  # another origin
    assert HTTP.get(location, headers={"Authorization": f"Bearer {ALICE}"}).status_code == 400
    assert HTTP.get(location).content == data
    assert HTTP.get(location + "x").status_code == 403  # signature


def test_restart_at_same_address(tmp_path: Path) -> None:
    """hf_xet remembers, per CAS URL, the xorbs it uploaded and references them instead of
    uploading again: restarted on the same data the emulator still holds them (as the Hub
    does); restarted empty it has another CAS URL, so the client uploads everything."""
    port = free_port()
    first = binary(3 * MIB, 1)
    grown = first + binary(MIB, 2)
    with start_emulator(tmp_path / "hub", port=port, users={"alice": ALICE}) as e:
        a = HfApi(endpoint=e.url, token=ALICE)
        a.create_repo("alice/r", **DS)
        a.create_commit("alice/r", [CommitOperationAdd("one.bin", first)], commit_message="1", **DS)
        xorbs_before = e.control.stats()["kinds"]["cas_xorb"]
    with start_emulator(tmp_path / "hub", port=port, users={"alice": ALICE}) as e:
        a = HfApi(endpoint=e.url, token=ALICE)
        e.control.reset_stats()
        a.create_commit("alice/r", [CommitOperationAdd("two.bin", grown)], commit_message="2", **DS)
        assert e.control.stats()["kinds"].get("cas_xorb", 0) <= xorbs_before  # the 3 MiB it had were not sent again
        assert download(e, "alice/r", "two.bin", tmp_path / "c1") == grown
    with start_emulator(tmp_path / "fresh", port=port, users={"alice": ALICE}) as e:
        a = HfApi(endpoint=e.url, token=ALICE)
        a.create_repo("alice/r", **DS)
        a.create_commit("alice/r", [CommitOperationAdd("two.bin", grown)], commit_message="again", **DS)
        assert download(e, "alice/r", "two.bin", tmp_path / "c2") == grown


def test_no_xet_hub_answers_404_and_serves_lfs(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "hub", users={"alice": ALICE}, xet=False) as e:
        a = HfApi(endpoint=e.url, token=ALICE)
        a.create_repo("alice/l", **DS)
        r = HTTP.get(f"{e.url}/api/datasets/alice/l/xet-write-token/main", headers={"Authorization": f"Bearer {ALICE}"})
        assert r.status_code == 404
        e.store.commit("alice/l", [("x.bin", b"\x00lfs")])
        assert "xetHash" not in HTTP.get(f"{e.url}/api/datasets/alice/l/tree/main").json()[0]


# -- formats (hypothesis) -------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=3000), st.sampled_from([0, 1, 2])), min_size=1, max_size=8))
def test_xorb_roundtrip(chunks: list[tuple[bytes, int]]) -> None:
    body = b"".join(formats.encode_chunk(data, scheme) for data, scheme in chunks)
    spans = formats.walk_xorb(body)
    assert [s.scheme for s in spans] == [scheme for _, scheme in chunks]
    assert list(formats.iter_chunks(body, spans)) == [data for data, _ in chunks]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_bg4_regroup_inverts_split_as_the_spec_groups(data: bytes) -> None:
    grouped = formats.bg4_split(data)
    q, r = divmod(len(data), 4)
    sizes = [q + (r > 0), q + (r > 1), q + (r > 2), q]
    pos = 0
    for k, size in enumerate(sizes):  # group k holds bytes k, k+4, k+8, ...
        assert grouped[pos : pos + size] == data[k::4]
        pos += size
    assert formats.bg4_regroup(grouped) == data


hashes = st.binary(min_size=32, max_size=32)
u32 = st.integers(0, 2**32 - 1)
terms = st.builds(formats.Term, hashes, st.integers(0, 1000), st.integers(1001, 2000), u32)


@st.composite
def file_infos(draw: st.DrawFn) -> formats.FileInfo:
    ts = draw(st.lists(terms, min_size=1, max_size=4))
    ver = draw(st.one_of(st.none(), st.lists(hashes, min_size=len(ts), max_size=len(ts))))
    return formats.FileInfo(
        draw(hashes.filter(lambda h: h != b"\xff" * 32)), ts, ver, draw(st.one_of(st.none(), hashes))
    )


xorb_infos = st.builds(
    formats.XorbInfo,
    hashes.filter(lambda h: h != b"\xff" * 32),
    st.lists(st.tuples(hashes, u32, u32), max_size=5),
    u32,
    u32,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(file_infos(), max_size=4), st.lists(xorb_infos, max_size=3))
def test_shard_roundtrip(files: list[formats.FileInfo], xorbs: list[formats.XorbInfo]) -> None:
    assert formats.parse_shard(formats.build_shard(formats.Shard(files, xorbs))) == formats.Shard(files, xorbs)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 400))
def test_parsers_refuse_garbage_with_one_error_type(noise: bytes, cut: int) -> None:
    valid = make_shard(make_xorb([b"abc"])[0], [b"abc"])
    for data in (noise, formats.SHARD_TAG + noise, valid[:cut] + noise[:3]):
        try:
            formats.parse_shard(data)
        except formats.XetFormatError:
            pass
    for data in (noise, formats.encode_chunk(b"x" * 50)[:cut] if cut < 30 else noise):
        try:
            list(formats.iter_chunks(data, formats.walk_xorb(data)))
        except formats.XetFormatError:
            pass


def test_hash_text_is_the_specs_byte_order() -> None:
    raw = bytes(range(32))
    # api.md's example (its printed string drops the "10" of the third group)
    assert hashing.hash_to_text(raw) == "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert hashing.text_to_hash(hashing.hash_to_text(raw)) == raw
    one = hashing.chunk_hash(b"x")
    assert hashing.xorb_hash([(one, 1)]) == one  # a single leaf is the root
