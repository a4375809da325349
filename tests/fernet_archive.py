"""A demo-like archive encrypted the way the users' scrapers did it: with plain
`cryptography.fernet` code (never hfcheck's codec), files and names.

    key file   Fernet.generate_key() (url-safe base64), mode 0600
    bytes      Fernet(key).encrypt(data)
    names      Fernet(key).encrypt(local_name.encode()).decode()   (random IV, current time)
    path       encrypted_{images|videos}/{username}/{token}

Same tweets, damage and counts as `build_demo` (same seed, same rows apart from the URLs);
`hfcheck.toml` says `scheme = "fernet"`. Serve it with `helpers.serve_world`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from hfcheck.model.paths import remote_parent
from hfcheck.sim.demo import DemoBuilder, Medium, Plan, seed_hub, write_config, write_db
from tests.helpers import free_port, serve_world


def write_fernet_key(path: Path) -> bytes:
    """A key file as a Fernet user keeps it: the url-safe base64 key, one line, mode 0600."""
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key


def plain_fernet(key_file: Path) -> Fernet:
    """The users' own reader: nothing of hfcheck."""
    return Fernet(key_file.read_bytes().strip())


class FernetDemoBuilder(DemoBuilder):
    """`DemoBuilder` whose backups are made with plain Fernet code."""

    def __init__(self, root: Path, tweets: int, seed: int, media_port: int, endpoint: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        key_file = root / "archive.key"
        if not key_file.exists():
            write_fernet_key(key_file)
        super().__init__(root, tweets, seed, media_port, endpoint)
        self.fernet = plain_fernet(key_file)

    def backed_up(self, m: Medium, upload: bool = True) -> str:
        parent = remote_parent(m.name.media, m.username)
        remote = f"{parent}/{self.fernet.encrypt(str(m.name).encode()).decode()}"
        if upload:
            self.uploads.append((remote, self.fernet.encrypt(m.data)))
        return self.hub_url(remote)


def build_fernet_demo(root: Path, *, tweets: int = 60, seed: int = 7, media_port: int = 0, endpoint: str = "http://127.0.0.1:0") -> Plan:
    """`build_demo`, with every backup encrypted by plain Fernet code and `scheme = "fernet"`."""
    import shutil

    for sub in ("media", "source", "hub", "data", "restored"):
        shutil.rmtree(root / sub, ignore_errors=True)
    builder = FernetDemoBuilder(root, tweets, seed, media_port, endpoint)
    plan = builder.build()
    write_db(root / "archive.db", builder.rows)
    seed_hub(root / "hub", builder.uploads)
    (root / "x_fixtures.json").write_text(json.dumps(builder.x_fixtures, indent=1), encoding="utf-8")
    planted: dict[str, Any] = {"counts": plan.counts, "gaps": plan.gaps, "tweets": plan.tweets, "endpoint": endpoint, "media_port": media_port}
    (root / "planted.json").write_text(json.dumps(planted, indent=1), encoding="utf-8")
    write_config(root, media_port)
    cfg = root / "hfcheck.toml"
    cfg.write_text(cfg.read_text().replace("[crypto]\n", '[crypto]\nscheme = "fernet"\n', 1), encoding="utf-8")
    return plan


@contextlib.contextmanager
def fernet_world(root: Path, tweets: int = 60, seed: int = 7, **emulator: Any) -> Iterator[Any]:
    """`helpers.demo_world` for the Fernet archive: built, then served on the ports its URLs name."""
    port, media_port = free_port(), free_port()
    build_fernet_demo(root, tweets=tweets, seed=seed, media_port=media_port, endpoint=f"http://127.0.0.1:{port}")
    with serve_world(root, **emulator) as world:
        yield world
