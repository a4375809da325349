"""The Fernet archive of the tests: the demo archive (`build_demo(scheme="fernet")`), whose
backups `hfcheck.sim.demo.FernetBackups` made with plain `cryptography.fernet` calls, files and
names, as the users' scrapers did (never with hfcheck's codec):

    key file   Fernet.generate_key() (url-safe base64), mode 0600
    bytes      Fernet(key).encrypt(data)
    names      Fernet(key).encrypt(local_name.encode()).decode()   (random IV, current time)
    path       encrypted_{images|videos}/{username}/{token}

Same tweets, damage and counts as the hfcheck-v1 demo (same seed); `hfcheck.toml` says
`scheme = "fernet"`. `plain_fernet` is the users' own reader, to check what hfcheck writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from hfcheck.sim.demo import Plan, build_demo
from tests.helpers import DemoWorld, free_port, serve_world


def plain_fernet(key_file: Path) -> Fernet:
    """The users' own reader: nothing of hfcheck."""
    return Fernet(key_file.read_bytes().strip())


def build_fernet_demo(
    root: Path, *, tweets: int = 60, seed: int = 7, media_port: int = 0, endpoint: str = "http://127.0.0.1:0"
) -> Plan:
    """The demo archive with every backup encrypted by plain Fernet code and `scheme = "fernet"`."""
    return build_demo(root, tweets=tweets, seed=seed, media_port=media_port, endpoint=endpoint, scheme="fernet")


@contextlib.contextmanager
def fernet_world(root: Path, tweets: int = 60, seed: int = 7, **emulator: Any) -> Iterator[DemoWorld]:
    """`helpers.demo_world` for the Fernet archive: built, then served on the ports its URLs name."""
    port, media_port = free_port(), free_port()
    build_fernet_demo(root, tweets=tweets, seed=seed, media_port=media_port, endpoint=f"http://127.0.0.1:{port}")
    with serve_world(root, **emulator) as world:
        yield world
