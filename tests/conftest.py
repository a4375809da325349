"""Test-wide settings. The official client reads these at import: set them before anything imports it.

Xet is on, as for every real user: each test run gets its own HF_XET_CACHE (hf_xet keeps a
process-global dedupe cache keyed by CAS URL) and hf_xet gives up after one attempt instead of
retrying for minutes. Tests that need Xet off run the client in a subprocess.

About 170 tests' steps are `python -m hfcheck ...` child processes, as users run them. Where
PYTHONDONTWRITEBYTECODE is set (CI images often set it) no child may cache its bytecode, so
each recompiled hfcheck's ~100 modules on start (~0.12 s CPU a child, ~20 s a suite). The
controller compiles them once up front into the usual `__pycache__/` (git-ignored), which
children read whether or not they may write; the code they run is the same source.
"""

import compileall
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.pop("HF_HUB_DISABLE_XET", None)
os.environ["HF_XET_CACHE"] = tempfile.mkdtemp(prefix="hfcheck-xet-cache-")
os.environ["HF_XET_CLIENT_RETRY_MAX_ATTEMPTS"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TWS_TELEMETRY"] = "0"
os.environ.pop("HF_TOKEN", None)
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"

if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller (or a run without xdist), before any worker starts
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "hfcheck", quiet=2)

# imported after the settings above: the official client reads them at import
from huggingface_hub import HfApi

from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from tests.helpers import ALICE_TOKEN


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    """The test file's own Hub emulator with one user, alice (`ALICE_TOKEN`); a file that needs
    other users or settings defines its own `emu` (and `api`)."""
    with start_emulator(tmp_path_factory.mktemp("hub"), users={"alice": ALICE_TOKEN}) as e:
        yield e


@pytest.fixture
def api(emu: EmulatorThread) -> HfApi:
    return HfApi(endpoint=emu.url, token=ALICE_TOKEN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files with the most `slow` tests first; each file's tests stay together, in order.

    `make test` runs two workers that take a whole file at a time (`--dist loadfile` in
    pyproject.toml, so module fixtures are built once). In alphabetical order the longest files
    (test_watch.py: ~35 s) came last and one worker ran them alone for ~20 s after the other had
    finished; longest first, the many short files fill in at the end."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])  # stable: files stay whole and in their order
