"""Storage Buckets in the emulator, with the unmodified official client as the other party.

Uploads go through `HfApi.batch_bucket_files` (Xet: token, xorbs, shard, then the NDJSON batch),
reads through `list_bucket_tree`, `download_bucket_files`, `HfFileSystem` and the `hf` CLI.
What the client never sends (an unknown hash, a forged copy, 1,001 operations) is sent as raw
HTTP. The listing's paging is also checked as a property of the store, against a plain model.
conftest.py gives the run its own HF_XET_CACHE.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, HfFileSystem
from huggingface_hub.errors import BucketBatchError, BucketNotFoundError, EntryNotFoundError, HfHubHTTPError
from hypothesis import given, settings
from hypothesis import strategies as st

from hfcheck.sim.emulator.buckets import EMPTY_HASH, BucketStore
from hfcheck.sim.emulator.store import Store
from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from hfcheck.sim.emulator.xet.cas import XetCAS

ALICE, BOB = "tok-alice", "tok-bob"
HTTP = httpx.Client()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with start_emulator(tmp_path_factory.mktemp("hub"), users={"alice": ALICE, "bob": BOB}) as e:
        yield e


@pytest.fixture(scope="module")
def api(emu: EmulatorThread) -> HfApi:
    return HfApi(endpoint=emu.url, token=ALICE)


@pytest.fixture(scope="module")
def bob(emu: EmulatorThread) -> HfApi:
    return HfApi(endpoint=emu.url, token=BOB)


def kinds(emu: EmulatorThread) -> dict[str, int]:
    return emu.control.stats()["kinds"]


def raw_batch(emu: EmulatorThread, bucket: str, ops: list[dict], token: str = ALICE) -> httpx.Response:
    body = "".join(json.dumps(op) + "\n" for op in ops)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    return HTTP.post(f"{emu.url}/api/buckets/{bucket}/batch", content=body, headers=headers)


def test_create_exists_and_namespaces(api: HfApi, bob: HfApi) -> None:
    url = api.create_bucket("made")  # no namespace: the caller's own
    assert url.bucket_id == "alice/made"
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_bucket("alice/made")
    assert exc.value.response.status_code == 409
    assert api.create_bucket("alice/made", exist_ok=True).bucket_id == "alice/made"  # reads `url` off the 409
    with pytest.raises(HfHubHTTPError) as exc:
        bob.create_bucket("alice/not-yours")
    assert exc.value.response.status_code == 403
    info = api.bucket_info("alice/made")
    assert (info.id, info.private, info.size, info.total_files) == ("alice/made", False, 0, 0)
    assert "alice/made" in {b.id for b in bob.list_buckets(namespace="alice")}


def test_files_roundtrip_through_xet(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    bucket = api.create_bucket("alice/roundtrip").bucket_id
    big = os.urandom(300_000)
    src = tmp_path / "photo.jpg"
    src.write_bytes(big)
    os.utime(src, (1_700_000_000.25, 1_700_000_000.25))
    before = kinds(emu)
    odd = "media/50%25 off #1?.txt"  # quoted by the client, decoded once by the emulator
    api.batch_bucket_files(
        bucket, add=[(src, "media/photo.jpg"), (b"small", "notes.txt"), (b"", "empty.txt"), (b"odd", odd)]
    )
    after = kinds(emu)
    assert after.get("cas_shard", 0) > before.get("cas_shard", 0)  # the bytes went through the CAS
    listed = {f.path: f for f in api.list_bucket_tree(bucket)}
    assert set(listed) == {"media/photo.jpg", "notes.txt", "empty.txt", odd}
    photo = listed["media/photo.jpg"]
    assert photo.size == len(big) and len(photo.xet_hash) == 64  # size taken from the CAS, not sent
    assert photo.mtime is not None and photo.mtime.timestamp() == 1_700_000_000.25  # the client's ms, kept
    assert (listed["empty.txt"].size, listed["empty.txt"].xet_hash) == (0, EMPTY_HASH)
    out = tmp_path / "out"
    api.download_bucket_files(bucket, [(p, str(out / p)) for p in listed])
    assert (out / "media/photo.jpg").read_bytes() == big
    assert (out / "notes.txt").read_bytes() == b"small"
    assert (out / "empty.txt").read_bytes() == b""
    assert (out / odd).read_bytes() == b"odd"
    assert [e.path for e in api.list_bucket_tree(bucket, prefix=odd)] == [odd]
    fs = HfFileSystem(endpoint=emu.url, token=ALICE, skip_instance_cache=True)
    assert fs.cat(f"buckets/{bucket}/media/photo.jpg", start=10, end=20) == big[10:20]  # plain GET, Range
    info = api.bucket_info(bucket)
    assert fs.cat(f"buckets/{bucket}/{odd}") == b"odd"
    assert (info.size, info.total_files) == (len(big) + 8, 4)


def test_delete_files_and_bucket(api: HfApi, tmp_path: Path) -> None:
    bucket = api.create_bucket("alice/deletions").bucket_id
    api.batch_bucket_files(bucket, add=[(b"a", "a.txt"), (b"b", "d/b.txt")])
    api.batch_bucket_files(bucket, delete=["a.txt", "never-there.txt"])  # a missing path is a no-op
    assert [f.path for f in api.list_bucket_tree(bucket)] == ["d/b.txt"]
    with pytest.raises(EntryNotFoundError):
        api.download_bucket_files(bucket, [("a.txt", str(tmp_path / "a"))], raise_on_missing_files=True)
    api.delete_bucket(bucket)
    with pytest.raises(BucketNotFoundError):
        api.bucket_info(bucket)
    with pytest.raises(BucketNotFoundError):
        list(api.list_bucket_tree(bucket))
    with pytest.raises(BucketNotFoundError):
        api.delete_bucket(bucket)
    api.delete_bucket(bucket, missing_ok=True)


def test_private_buckets_are_hidden(api: HfApi, bob: HfApi, emu: EmulatorThread) -> None:
    bucket = api.create_bucket("alice/secret", private=True).bucket_id
    api.batch_bucket_files(bucket, add=[(b"s", "s.txt")])
    with pytest.raises(BucketNotFoundError):
        bob.bucket_info(bucket)
    with pytest.raises(BucketNotFoundError):
        list(bob.list_bucket_tree(bucket))
    anonymous = HfApi(endpoint=emu.url, token=False)
    with pytest.raises(HfHubHTTPError) as exc:
        list(anonymous.list_bucket_tree(bucket))
    assert exc.value.response.status_code == 401
    assert HTTP.head(f"{emu.url}/buckets/{bucket}/resolve/s.txt").status_code == 401
    assert bucket not in {b.id for b in bob.list_buckets(namespace="alice")}
    assert bucket in {b.id for b in api.list_buckets()}
    with pytest.raises(HfHubHTTPError) as exc:
        bob.batch_bucket_files("alice/made-by-bob", delete=["x"])
    assert exc.value.response.status_code == 404
    api.update_bucket_settings(bucket, private=False)
    assert bob.bucket_info(bucket).private is False


def test_writes_need_the_owner(api: HfApi, emu: EmulatorThread) -> None:
    bucket = api.create_bucket("alice/guarded").bucket_id
    response = raw_batch(emu, bucket, [{"type": "deleteFile", "path": "x"}], token=BOB)
    assert response.status_code == 403
    token = HTTP.get(f"{emu.url}/api/buckets/{bucket}/xet-write-token", headers={"Authorization": f"Bearer {BOB}"})
    assert token.status_code == 403


def test_batch_refusals_are_per_operation(api: HfApi, emu: EmulatorThread) -> None:
    bucket = api.create_bucket("alice/refusals").bucket_id
    api.batch_bucket_files(bucket, add=[(b"known", "known.txt")])
    known = next(iter(api.list_bucket_tree(bucket))).xet_hash
    ops = [
        {"type": "addFile", "path": "ok.txt", "xetHash": known, "mtime": 1},
        {"type": "addFile", "path": "ghost.txt", "xetHash": "ab" * 32, "mtime": 1},  # never uploaded
        {"type": "addFile", "path": "../up.txt", "xetHash": known, "mtime": 1},
        {"type": "addFile", "path": "secs.txt", "xetHash": known, "mtime": 1.5},
    ]
    response = raw_batch(emu, bucket, ops)
    assert response.status_code == 200
    body = response.json()
    assert (body["processed"], body["succeeded"], body["success"]) == (4, 1, False)
    assert [f["path"] for f in body["failed"]] == ["ghost.txt", "../up.txt", "secs.txt"]
    assert raw_batch(emu, bucket, ops[1:2]).status_code == 422  # all failed
    assert {f.path for f in api.list_bucket_tree(bucket)} == {"known.txt", "ok.txt"}
    too_many = [{"type": "deleteFile", "path": f"{i}"} for i in range(1001)]
    assert raw_batch(emu, bucket, too_many).status_code == 400
    assert raw_batch(emu, bucket, too_many[:1000]).status_code == 200


def test_copy_by_xet_hash(api: HfApi, bob: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    src = api.create_bucket("alice/copy-src").bucket_id
    dst = api.create_bucket("alice/copy-dst").bucket_id
    payload = os.urandom(50_000)
    api.batch_bucket_files(src, add=[(payload, "logs/a.bin"), (b"b", "logs/sub/b.txt"), (b"c", "other/c.txt")])
    shards = kinds(emu).get("cas_shard", 0)
    api.copy_files(f"hf://buckets/{src}/logs", f"hf://buckets/{dst}/backup/")
    assert kinds(emu).get("cas_shard", 0) == shards  # no bytes moved: copyFile lines only
    assert {f.path for f in api.list_bucket_tree(dst)} == {"backup/a.bin", "backup/sub/b.txt"}
    api.download_bucket_files(dst, [("backup/a.bin", str(tmp_path / "a.bin"))])
    assert (tmp_path / "a.bin").read_bytes() == payload
    # A hash the source does not hold is refused, even one the CAS holds (it is in another bucket).
    held = {f.path: f.xet_hash for f in api.list_bucket_tree(src)}["other/c.txt"]
    with pytest.raises(BucketBatchError) as exc:
        api.batch_bucket_files(dst, copy=[("bucket", dst, held, "stolen.txt")])
    assert [f["path"] for f in exc.value.failures] == ["stolen.txt"]
    # Nor can bob copy out of alice's private bucket into his own.
    private = api.create_bucket("alice/copy-private", private=True).bucket_id
    api.batch_bucket_files(private, add=[(b"private bytes", "p.txt")])
    secret_hash = next(iter(api.list_bucket_tree(private))).xet_hash
    mine = bob.create_bucket("bob/mine").bucket_id
    with pytest.raises(BucketBatchError):
        bob.batch_bucket_files(mine, copy=[("bucket", private, secret_hash, "p.txt")])


def test_copy_from_a_dataset_repo(api: HfApi, tmp_path: Path) -> None:
    api.create_repo("alice/ds", repo_type="dataset")
    payload = b"\x00" + os.urandom(40_000)  # binary: stored over Xet, listed with its xetHash
    api.upload_file(path_or_fileobj=payload, path_in_repo="d/x.bin", repo_id="alice/ds", repo_type="dataset")
    bucket = api.create_bucket("alice/from-repo").bucket_id
    api.copy_files("hf://datasets/alice/ds/d/x.bin", f"hf://buckets/{bucket}/x.bin")
    api.download_bucket_files(bucket, [("x.bin", str(tmp_path / "x.bin"))])
    assert (tmp_path / "x.bin").read_bytes() == payload


def test_5000_files_list_in_pages(api: HfApi, emu: EmulatorThread) -> None:
    bucket = api.create_bucket("alice/many").bucket_id
    names = [f"d{i % 3}/f{i:05d}.enc" for i in range(5000)]
    # 5 batches of 1,000; 50 distinct contents (each new Xet file costs the emulator's CAS ~2 ms to take in)
    api.batch_bucket_files(bucket, add=[(f"{i % 50}".encode(), n) for i, n in enumerate(names)])
    emu.control.reset_stats()
    listed = list(api.list_bucket_tree(bucket, recursive=True))
    assert [f.path for f in listed] == sorted(names)
    assert len({f.xet_hash for f in listed}) == 50
    assert kinds(emu)["bucket_tree"] == 5  # 1,000 entries a page, cursor followed through Link
    one_level = [e.path for e in api.list_bucket_tree(bucket, prefix="d1", recursive=False)]
    assert one_level == sorted(n for n in names if n.startswith("d1/"))
    page = HTTP.get(f"{emu.url}/api/buckets/{bucket}/tree?recursive=true", headers={"Authorization": f"Bearer {ALICE}"})
    link = page.headers["Link"]
    assert link.startswith(f"<{emu.url}/api/buckets/{bucket}/tree?") and "recursive=true" in link  # absolute
    paths = api.get_bucket_paths_info(bucket, names[:1500] + ["missing.enc"])  # two calls: 1,000 paths each
    assert len(list(paths)) == 1500


def test_sync_both_ways_with_the_cli(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    bucket = api.create_bucket("alice/synced").bucket_id
    up = tmp_path / "up"
    (up / "sub").mkdir(parents=True)
    (up / "a.txt").write_bytes(b"alpha")
    (up / "sub" / "b.bin").write_bytes(os.urandom(20_000))
    env = {**os.environ, "HF_ENDPOINT": emu.url, "HF_TOKEN": ALICE}
    env.pop("HF_HUB_DISABLE_IMPLICIT_TOKEN")  # set by conftest.py; the CLI's Xet token fetch would go without
    hf = [sys.executable, "-m", "huggingface_hub.cli.hf"]

    def sync(*args: str) -> None:
        done = subprocess.run([*hf, "buckets", "sync", *args, "--quiet"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    sync(str(up), f"hf://buckets/{bucket}/data")
    assert {f.path for f in api.list_bucket_tree(bucket)} == {"data/a.txt", "data/sub/b.bin"}
    (up / "a.txt").unlink()
    sync(str(up), f"hf://buckets/{bucket}/data", "--delete")
    assert {f.path for f in api.list_bucket_tree(bucket)} == {"data/sub/b.bin"}
    down = tmp_path / "down"
    sync(f"hf://buckets/{bucket}/data", str(down))
    assert (down / "sub" / "b.bin").read_bytes() == (up / "sub" / "b.bin").read_bytes()
    assert sorted(p.relative_to(down).as_posix() for p in down.rglob("*") if p.is_file()) == ["sub/b.bin"]


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(name, payload) of each server-sent event; keep-alive comments skipped."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_events_feed_follows_and_replays(api: HfApi, emu: EmulatorThread) -> None:
    bucket = api.create_bucket("alice/followed").bucket_id
    url = f"{emu.url}/api/buckets/{bucket}/events"
    headers = {"Authorization": f"Bearer {ALICE}", "Accept": "text/event-stream"}
    with HTTP.stream("GET", url, headers=headers, timeout=30) as live:
        assert live.headers["content-type"].startswith("text/event-stream")
        feed = _events(live.iter_lines())
        name, ready = next(feed)
        assert name == "ready"
        api.batch_bucket_files(bucket, add=[(b"one", "a.txt"), (b"two", "b.txt")])
        api.batch_bucket_files(bucket, add=[(b"uno", "a.txt")], delete=["b.txt"])
        name, first = next(feed)
        assert name == "changes" and [(c["path"], c["op"], c["size"]) for c in first["changes"]] == [
            ("a.txt", "add", 3),
            ("b.txt", "add", 3),
        ]
        name, second = next(feed)
        assert [(c["path"], c["op"]) for c in second["changes"]] == [("a.txt", "update"), ("b.txt", "delete")]
    # Resuming after the first batch replays the second only, then `ready`.
    with HTTP.stream("GET", url, params={"cursor": first["cursor"]}, headers=headers, timeout=30) as again:
        feed = _events(again.iter_lines())
        assert next(feed) == ("changes", second)
        assert next(feed)[0] == "ready"
    # A cursor this server never gave (another run's) asks the client to re-list.
    with HTTP.stream("GET", url, params={"cursor": "feedbeef.1"}, headers=headers, timeout=30) as stale:
        assert next(_events(stale.iter_lines()))[0] == "reset"
    assert HTTP.get(url, params={"cursor": "nonsense"}, headers=headers).status_code == 400


def test_buckets_survive_a_restart(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "hub", users={"alice": ALICE}) as e:
        HfApi(endpoint=e.url, token=ALICE).create_bucket("alice/kept")
        HfApi(endpoint=e.url, token=ALICE).batch_bucket_files("alice/kept", add=[(b"kept", "k.txt")])
    with start_emulator(tmp_path / "hub") as e:
        out = tmp_path / "k.txt"
        HfApi(endpoint=e.url, token=ALICE).download_bucket_files("alice/kept", [("k.txt", str(out))])
        assert out.read_bytes() == b"kept"


# -- paging, as a property of the store --------------------------------------------------------------
SEGMENT = st.sampled_from(["a", "b", "a.b", "a-", "ab", "z", "é"])
COUNTER = itertools.count()
PATHS = st.sets(st.lists(SEGMENT, min_size=1, max_size=3).map("/".join), max_size=40)


@pytest.fixture(scope="module")
def buckets(tmp_path_factory: pytest.TempPathFactory) -> BucketStore:
    store = Store(tmp_path_factory.mktemp("bucket-store"))
    return BucketStore(store, XetCAS(store))


def _model(paths: set[str], prefix: str, recursive: bool) -> list[str]:
    if recursive:
        return sorted(p for p in paths if p.startswith(prefix))
    base = prefix + "/" if prefix else ""
    files = {p for p in paths if p.startswith(base) and "/" not in p[len(base) :]}
    folders = {base + p[len(base) :].split("/")[0] + "/" for p in paths if p.startswith(base)} - {
        f + "/" for f in files
    }
    own = [prefix] if prefix in paths else []
    return own + [p.rstrip("/") for p in sorted(files | folders)]  # path order: a folder sorts as 'name/'


@settings(max_examples=60, deadline=None)
@given(paths=PATHS, prefix=st.sampled_from(["", "a", "a/b", "b"]), recursive=st.booleans(), limit=st.integers(1, 7))
def test_pages_cover_the_listing_once(
    buckets: BucketStore, paths: set[str], prefix: str, recursive: bool, limit: int
) -> None:
    # A set of paths where no path is also a folder of another (a file 'a' and a file 'a/b' can coexist
    # in a bucket, but then 'a' is listed twice in one level: as the file and as the folder).
    paths = {p for p in paths if not any(q.startswith(p + "/") for q in paths)}
    bucket = buckets.create(f"alice/p{next(COUNTER)}", "alice", private=False)
    result = buckets.apply(
        bucket, [{"type": "addFile", "path": p, "xetHash": EMPTY_HASH, "mtime": 0} for p in paths], lambda *_: False
    )
    assert (result.succeeded, result.failed) == (len(paths), [])
    seen: list[str] = []
    after = None
    while page := buckets.page(bucket, prefix, recursive=recursive, after=after, limit=limit):
        seen += [e.path for e in page]
        after = page[-1].key
    assert seen == _model(paths, prefix, recursive)
    buckets.delete(bucket)
