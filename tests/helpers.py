"""Shared test helpers: free ports, a demo archive served by an emulator thread, the CLI run
on it as users run it (a child process), and snapshots of its database, Hub and folders."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hfcheck.config import Config, load_config
from hfcheck.net.hub import Hub
from hfcheck.sim.demo import REPO, TOKEN, build_demo
from hfcheck.sim.demo_cycle import free_port
from hfcheck.sim.emulator.testing import EmulatorThread
from hfcheck.sim.mediaserver import MediaServerHandle, start_media_server

ALICE_TOKEN = "tok-alice"  # the one user of the shared `emu` fixture (tests/conftest.py)


@dataclass
class DemoWorld:
    root: Path
    hub: EmulatorThread
    planted: dict[str, Any]
    media: MediaServerHandle

    def config(self, **overrides: Any) -> Config:
        env = {"HF_ENDPOINT": self.hub.url, "HF_TOKEN": TOKEN}
        return load_config(self.root / "hfcheck.toml", {"lang": "en", **overrides}, env=env)

    def env(self) -> dict[str, str]:
        import os

        return {**os.environ, "HF_ENDPOINT": self.hub.url, "HF_TOKEN": TOKEN, "LANG": "C.UTF-8"}


@contextlib.contextmanager
def demo_world(
    root: Path, tweets: int = 60, seed: int = 7, scheme: str = "hfcheck-v1", **emulator: Any
) -> Iterator[DemoWorld]:
    """Build a demo archive (its backups in `scheme`) and serve its hub on the port its URLs name."""
    port, media_port = free_port(), free_port()
    build_demo(
        root, tweets=tweets, seed=seed, media_port=media_port, endpoint=f"http://127.0.0.1:{port}", scheme=scheme
    )
    with serve_world(root, **emulator) as world:
        yield world


def copy_world(src: Path, dst: Path) -> None:
    """An identical archive elsewhere (same key, ports and URLs); serve it after `src` stops."""
    import shutil

    shutil.copytree(src, dst)
    cfg = dst / "hfcheck.toml"
    cfg.write_text(cfg.read_text().replace(str(src), str(dst)))


@contextlib.contextmanager
def serve_world(root: Path, **emulator: Any) -> Iterator[DemoWorld]:
    """Serve a built demo archive: the hub and the media server on the ports it was built for."""
    planted = json.loads((root / "planted.json").read_text())
    port = int(planted["endpoint"].rsplit(":", 1)[1])
    media_port = planted["media_port"]
    hub = EmulatorThread(root / "hub", port=port, **emulator).start()
    media = start_media_server(root / "source", port=media_port)
    try:
        yield DemoWorld(root, hub, planted, media)
    finally:
        media.stop()
        hub.stop()


def run_cli(
    world: DemoWorld,
    *args: str,
    config: Path | None = None,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """`python -m hfcheck ARGS --config WORLD/hfcheck.toml` with the world's endpoint and token
    (or `env`), as users run it: a child process, output captured. X answers from the world's
    canned answers (`x_fixtures.json`, read when the command runs)."""
    extra = ["--data-dir", str(data_dir)] if data_dir else []
    answers = world.root / "x_fixtures.json"
    run = ["hfcheck.sim.x_canned", str(answers)] if answers.exists() else ["hfcheck"]
    cmd = [sys.executable, "-m", *run, *args, "--config", str(config or world.root / "hfcheck.toml"), *extra]
    return subprocess.run(cmd, check=False, env=env or world.env(), capture_output=True, text=True, timeout=timeout)


def db_rows(world: DemoWorld) -> dict[str, tuple[Any, ...]]:
    """{tweet id: (username, media_urls, huggingface_urls, text)} as stored."""
    con = sqlite3.connect(world.root / "archive.db")
    try:
        return {r[0]: r[1:] for r in con.execute("SELECT id, username, media_urls, huggingface_urls, text FROM tweets")}
    finally:
        con.close()


def hub_state(world: DemoWorld) -> dict[str, str | None]:
    """{path: sha256} of every file in the demo repo."""
    store = world.hub.store
    return {p: store.file_info(REPO, p).sha256 for p in store.list_paths(REPO)}


def tree_hash(root: Path) -> str:
    """One digest over every file's relative path and bytes under `root`."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


# -- `watch`: an empty archive that a scraper process fills while the service runs ----------------


@dataclass
class WatchWorld:
    """An archive in the demo's schema, empty at first, its Hub (emulator thread) and media server."""

    root: Path
    hub: EmulatorThread
    media: MediaServerHandle

    @property
    def db(self) -> Path:
        return self.root / "archive.db"

    def env(self) -> dict[str, str]:
        import os

        return {
            **os.environ,
            "HF_ENDPOINT": self.hub.url,
            "HF_TOKEN": TOKEN,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }

    def scraper(self, tweets: int, rate: float, first_id: int, seed: int = 1) -> subprocess.Popen[str]:
        """`python -m hfcheck.sim.scraper`: a separate process inserting `tweets` rows at `rate`/s."""
        cmd = [
            sys.executable,
            "-m",
            "hfcheck.sim.scraper",
            str(self.db),
            str(self.root / "source"),
            self.media.url + "/media",
            "--tweets",
            str(tweets),
            "--rate",
            str(rate),
            "--first-id",
            str(first_id),
            "--local",
            str(self.root / "media"),
            "--seed",
            str(seed),
            "--small",
        ]
        return subprocess.Popen(cmd, env=self.env(), text=True)

    def watch_cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "hfcheck", "watch", "--config", str(self.root / "hfcheck.toml"), *args]

    def watch(self, *args: str) -> subprocess.Popen[str]:
        """`python -m hfcheck watch --config ... ARGS` as a service runs: a child process, its
        output appended to ROOT/watch.log."""
        with (self.root / "watch.log").open("a") as out:
            return subprocess.Popen(
                self.watch_cmd(*args), env=self.env(), stdout=out, stderr=subprocess.STDOUT, text=True
            )

    def recorded_paths(self) -> list[str]:
        """Every path in the repo that a row's backup URL names, in key order."""
        from hfcheck.model.paths import BackupURL

        con = sqlite3.connect(self.db, timeout=30)
        try:
            rows = con.execute("SELECT huggingface_urls FROM tweets ORDER BY id").fetchall()
        finally:
            con.close()
        return [BackupURL.parse(u).path for (raw,) in rows for u in json.loads(raw or "[]")]

    def progress(self) -> tuple[int, int]:
        """(tweets whose every medium has a backup URL, tweets)."""
        con = sqlite3.connect(self.db, timeout=30)
        try:
            done = con.execute(
                "SELECT count(*) FROM tweets WHERE json_array_length(coalesce(huggingface_urls, '[]')) "
                "= json_array_length(media_urls)"
            ).fetchone()[0]
            return done, con.execute("SELECT count(*) FROM tweets").fetchone()[0]
        finally:
            con.close()

    def check_consistent(self) -> int:
        """Every recorded URL exists on the Hub and decrypts to the medium the scraper saved;
        returns the number of files checked (AssertionError naming the first that does not)."""
        from hfcheck.crypto import Decryptor, load_key
        from hfcheck.model.paths import BackupURL, local_path_for

        key = load_key(self.root / "archive.key")
        store = self.hub.store
        con = sqlite3.connect(self.db, timeout=30)
        try:
            rows = con.execute("SELECT id, media_urls, huggingface_urls FROM tweets").fetchall()
        finally:
            con.close()
        checked = 0
        for tweet_id, media_raw, hf_raw in rows:
            media, hf = json.loads(media_raw), json.loads(hf_raw or "[]")
            assert len(hf) == len(media) == len(set(hf)), (tweet_id, media, hf)
            for url in hf:
                path = BackupURL.parse(url).path
                entry = store.file_info(REPO, path)
                assert entry is not None and entry.sha256, f"{tweet_id}: {path} not on the Hub"
                dec = Decryptor(key, path)
                plain = b"".join(dec.update(chunk) for chunk in store.read_blob(entry.sha256)) + dec.finalize()
                name = local_path_for(key, path).rsplit("/", 1)[1]
                assert plain == (self.root / "source" / name).read_bytes(), (
                    f"{tweet_id}: {path} decrypts to other bytes"
                )
                checked += 1
        return checked


@contextlib.contextmanager
def watch_world(root: Path, *, notify: dict[str, str] | None = None, **emulator: Any) -> Iterator[WatchWorld]:
    """An empty archive, its key, an emulator thread with the demo's repo, a media server on source/."""
    from hfcheck.crypto import generate_key_file
    from hfcheck.sim.demo import seed_hub
    from hfcheck.sim.scraper import create_archive

    root.mkdir(parents=True, exist_ok=True)
    (root / "source").mkdir(exist_ok=True)
    generate_key_file(root / "archive.key")
    create_archive(root / "archive.db")
    seed_hub(root / "hub", [])
    hub = EmulatorThread(root / "hub", **emulator).start()
    media = start_media_server(root / "source")
    notify_lines = "".join(f'{k} = "{v}"\n' for k, v in (notify or {}).items())
    (root / "hfcheck.toml").write_text(
        f'[archive]\ndb = "{root / "archive.db"}"\nmedia_root = "{root / "media"}"\n'
        f'[hub]\nrepos = ["{REPO}"]\n[crypto]\nkey_file = "{root / "archive.key"}"\n'
        f'[run]\ndata_dir = "{root / "data"}"\n'
        f'[download]\nallowed_hosts = ["{media.host_port}"]\n[notify]\n{notify_lines}',
        encoding="utf-8",
    )
    try:
        yield WatchWorld(root, hub, media)
    finally:
        media.stop()
        hub.stop()


# -- one Hub per run (issue 21): a part takes the run's Hub; a test opens one as a command does --
T = TypeVar("T")


async def with_hub(part: Callable[..., Awaitable[T]], cfg: Config, *args: Any, **kwargs: Any) -> T:
    """`part(cfg, *args, hub=hub, **kwargs)` inside one Hub of its own, as a command's entry
    function opens one for its run."""
    async with Hub(cfg) as hub:
        return await part(cfg, *args, hub=hub, **kwargs)


def cli_exit_code(argv: list[str]) -> int:
    """`hfcheck ARGV` in this process (monkeypatches apply), as its exit code."""
    from hfcheck import cli

    try:
        cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
