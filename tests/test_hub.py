"""One Hub per run: every kind of Hub call goes through `Hub`'s one retry policy.

Each kind of call (listing, paths-info, preupload/commit, delete, the Xet probe, a download
and its redirect) runs twice against the emulator over real HTTP, on two identical repos:
once calm, once with the emulator's faults on that kind alone (5xx, connection resets) or
with its rate limits (429 with `RateLimit`). The answers must be the same. Two structural
tests hold the rest: the official client and the HTTP sessions are built in one place, and
only the retry policy sleeps between attempts.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import hfcheck
from hfcheck.config import Config
from hfcheck.errors import HubAnswered
from hfcheck.net.destination import Upload, XetChoice
from hfcheck.net.fetch import download
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import HubOutcome
from hfcheck.net.ratelimit import Bucket, hub_buckets
from hfcheck.net.retry import RetryPolicy
from hfcheck.sim.emulator.faults import KIND_BUCKET, XET_KINDS
from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from hfcheck.write.placement import RepoPlacement

TOKEN = "tok-alice-hub"
CALM, ROUGH = "alice/calm", "alice/rough"
SEEDED = {f"encrypted_images/u/{i:02d}.enc": os.urandom(100 + i) for i in range(12)}
# every endpoint kind the emulator names (a request of a kind not listed would be faulted too)
ALL_KINDS = sorted(
    {
        *KIND_BUCKET,
        *XET_KINDS,
        "lfs_upload",
        *(f"{k}_{m}" for k in ("resolve", "cdn", "bridge") for m in ("get", "head")),
    }
)
FAST = RetryPolicy(attempts=15, base=0.01, cap=0.05)


@pytest.fixture
def emu(tmp_path: Path) -> Any:
    with start_emulator(tmp_path / "hub", users={"alice": TOKEN}) as emu:
        for repo in (CALM, ROUGH):
            emu.store.create_repo(repo, owner="alice")
            emu.store.commit(repo, list(SEEDED.items()), lfs=True)
        yield emu


def cfg_of(emu: EmulatorThread, tmp_path: Path) -> Config:
    return Config(endpoint=emu.url, token=TOKEN, repos=(CALM, ROUGH), data_dir=tmp_path / "data")


async def state_of(hub: Hub, repo: str) -> dict[str, tuple[int, str | None, str | None]]:
    """What the repo holds: path -> (size, LFS sha256, blob id), through a listing and a look-up."""
    paths = [e.path async for e in hub.destination.entries(repo) if e.type == "file"]
    found = await hub.destination.lookup(repo, paths)
    return {p: (f.size, f.sha256, f.blob_id) for p, f in found.items()}


def uploads(tmp_path: Path, repo: str) -> list[Upload]:
    out = []
    for i in range(4):
        data = f"ciphertext {i}".encode() * (50 + i)
        f = tmp_path / f"{repo.replace('/', '_')}_{i}.enc"
        f.write_bytes(data)
        out.append(Upload(f"encrypted_images/v/{i}.enc", f, hashlib.sha256(data).hexdigest(), len(data)))
    return out


async def _listing(hub: Hub, repo: str, tmp_path: Path) -> Any:
    return sorted([e.path async for e in hub.destination.entries(repo)])


async def _paths_info(hub: Hub, repo: str, tmp_path: Path) -> Any:
    found = await hub.destination.lookup(repo, [*SEEDED, "encrypted_images/u/absent.enc"])
    return {p: (f.size, f.sha256) for p, f in found.items()}


async def _commit(hub: Hub, repo: str, tmp_path: Path) -> Any:
    async def no_loss(paths: list[str], version: str | None) -> None:
        pass

    written = await hub.destination.write(repo, uploads(tmp_path, repo), message="up", on_landed=no_loss, policy=FAST)
    assert written is not None and written.version
    return await state_of(hub, repo)


async def _delete(hub: Hub, repo: str, tmp_path: Path) -> Any:
    version = await hub.destination.delete(repo, list(SEEDED)[:5], message="delete", policy=FAST)
    assert version == await hub.destination.repo.head(repo)
    return await state_of(hub, repo)


async def _xet_probe(hub: Hub, repo: str, tmp_path: Path) -> Any:
    return await XetChoice(hub).use_xet(repo, "main")


async def _download(hub: Hub, repo: str, tmp_path: Path) -> Any:
    path = next(iter(SEEDED))
    got = await download(hub, hub.destination.url(repo, path), tmp_path / f"{repo.replace('/', '_')}.part")
    return got.part.read_bytes(), got.sha256


CALLS: dict[str, tuple[Callable[[Hub, str, Path], Awaitable[Any]], list[str]]] = {
    "listing": (_listing, ["tree"]),
    "paths-info": (_paths_info, ["paths_info"]),
    "preupload/commit": (_commit, ["preupload", "commit"]),
    "delete": (_delete, ["commit"]),
    "xet probe": (_xet_probe, ["xet_token"]),
    "download+redirect": (_download, ["resolve_get", "cdn_get"]),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_each_kind_of_call_is_retried_with_the_same_result(
    emu: EmulatorThread, tmp_path: Path, name: str
) -> None:
    action, kinds = CALLS[name]
    async with Hub(cfg_of(emu, tmp_path), policy=FAST) as hub:
        calm = await action(hub, CALM, tmp_path)
        assert hub.retries == 0
        emu.control.reset_stats()
        emu.control.set_faults(
            error_rate=0.35, reset_rate=0.2, seed=11, exempt=[k for k in ALL_KINDS if k not in kinds]
        )
        rough = await action(hub, ROUGH, tmp_path)
        faults = emu.control.stats()["faults"]
        emu.control.clear_faults()
        assert faults.get("5xx", 0) + faults.get("reset", 0) > 0, faults
        assert hub.retries > 0
    if name in ("preupload/commit", "delete"):
        assert emu.store.list_paths(CALM) == emu.store.list_paths(ROUGH)
    assert rough == calm


async def test_a_429_with_ratelimit_waits_the_hub_says_and_answers_the_same(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    async with Hub(cfg_of(emu, tmp_path), policy=FAST) as hub:
        calm = [await _paths_info(hub, CALM, tmp_path) for _ in range(3)]
        emu.control.set_rate_limits(window_s=1, api=1)
        rough = [await _paths_info(hub, ROUGH, tmp_path) for _ in range(3)]
        assert emu.control.stats()["faults"].get("rate_limited", 0) >= 1
        assert hub.rate_limited >= 1 and hub.retries == 0  # a 429 is no failed attempt
    assert rough == calm


async def test_a_final_answer_is_not_retried(emu: EmulatorThread, tmp_path: Path) -> None:
    async with Hub(cfg_of(emu, tmp_path), policy=FAST) as hub:
        with pytest.raises(HubAnswered) as err:
            await hub.destination.lookup("alice/absent", ["a.enc"])
    assert err.value.outcome in (HubOutcome.REPO_NOT_FOUND, HubOutcome.NO_ACCESS) and hub.retries == 0
    assert TOKEN not in str(err.value)


class CountingBucket(Bucket):
    """The api bucket, counting the tokens taken."""

    taken = 0

    async def acquire(self) -> None:
        self.taken += 1
        await super().acquire()


async def test_placement_takes_one_api_token_per_listing_request(emu: EmulatorThread, tmp_path: Path) -> None:
    emu.store.create_repo("alice/big", owner="alice")
    emu.store.commit("alice/big", [(f"encrypted_images/u/{i:04d}.enc", b"x%d" % i) for i in range(2500)])
    cfg = Config(endpoint=emu.url, token=TOKEN, repos=("alice/big", CALM), data_dir=tmp_path / "data")
    api = CountingBucket("api", None, 300, 1000)
    emu.control.reset_stats()
    async with Hub(cfg, buckets={**hub_buckets(cfg.limits), "api": api}) as hub:
        placement = await RepoPlacement.load(hub)
    assert placement.file_count("alice/big") == 2500 and placement.file_count(CALM) == len(SEEDED)
    listings = emu.control.stats()["kinds"]["tree"]
    assert listings == 3 + 1 and api.taken == listings  # 1,000 entries a page


# -- structure -------------------------------------------------------------------------------
PACKAGE = Path(hfcheck.__file__).parent
PRODUCT = [p for p in PACKAGE.rglob("*.py") if "sim" not in p.relative_to(PACKAGE).parts]


def _calls(names: set[str]) -> dict[str, list[str]]:
    """module (relative path) -> the calls in it of any function or class named in `names`."""
    found: dict[str, list[str]] = {}
    for path in PRODUCT:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                if name in names:
                    found.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(name)
    return found


def test_one_place_builds_the_official_client() -> None:
    assert _calls({"HfApi", "get_session", "build_hf_headers"}) == {"net/hub.py": ["HfApi"]}


def test_http_sessions_are_built_by_net_only() -> None:
    """The Hub's session in `net/hub.py`; the media downloader's own (its guarded resolver
    must see every host) in `net/download.py`; the watch service's alerts to webhook hosts
    (never the Hub) in `watch/service.py`."""
    assert set(_calls({"ClientSession"})) == {"net/hub.py", "net/download.py", "watch/service.py"}
    assert len(_calls({"ClientSession"})["net/hub.py"]) == 1


def test_only_the_retry_policy_sleeps_between_hub_attempts() -> None:
    """`retry.py` waits between attempts; `ratelimit.py` paces a request before it is sent;
    verify's pipeline waits out `--delay` and its checkpoint timer. Nothing else sleeps."""
    sleepers = {
        path
        for path, names in _calls({"sleep"}).items()
        for _ in names  # asyncio.sleep and time.sleep alike
    }
    assert sleepers == {"net/retry.py", "net/ratelimit.py", "verify/pipeline.py"}
