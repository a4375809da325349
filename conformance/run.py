"""`make conformance`: huggingface_hub's own tests, run against the emulator (`hub serve`).

Takes the tests of the INSTALLED huggingface_hub from its sdist (downloaded once with pip into
.cache/conformance/), adds the conftest the sdist lacks (conformance/conftest.py), and runs the
tests conformance/selection.toml picks, twice: Xet on, and LFS-only (`hub serve --no-xet` with
HF_HUB_DISABLE_XET=1). Prints passed / failed / skipped per run and what is left out and why.
Exit code 0 when nothing failed, 1 otherwise (and 1 with one line if the sdist cannot be had).

    python conformance/run.py [--mode xet|lfs] [--only PREFIX] [--keep] [-- PYTEST ARGS]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "conformance"
SELECTION = HERE / "selection.toml"


def suite_dir() -> Path:
    """tests/ of the installed huggingface_hub's sdist, fetched and extracted once."""
    ver = version("huggingface_hub")
    root = CACHE / f"huggingface_hub-{ver}"
    if not (root / "tests").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        sdist = CACHE / f"huggingface_hub-{ver}.tar.gz"
        if not sdist.exists():
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
            if subprocess.run([*cmd, f"huggingface_hub=={ver}", "-d", str(CACHE)]).returncode != 0:
                sys.exit(f"conformance: could not download the sdist of huggingface_hub {ver} (pip download)")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f"huggingface_hub-{ver}/tests/")]
            tar.extractall(CACHE, members=members, filter="data")
    tests = root / "tests"
    shutil.copy(HERE / "conftest.py", tests / "conftest.py")
    (tests / "__init__.py").touch()
    return root


def users() -> list[str]:
    """--user flags for the suite's own users and tokens (tests/testing_constants.py)."""
    consts: dict[str, object] = {}
    exec((suite_dir() / "tests" / "testing_constants.py").read_text(), consts)
    pairs = [("USER", "TOKEN"), ("OTHER_USER", "OTHER_TOKEN"), ("ENTERPRISE_USER", "ENTERPRISE_TOKEN")]
    return [f"--user={consts[u]}:{consts[t]}" for u, t in pairs]


def run_mode(
    mode: str, root: Path, pytest_args: list[str], keep: bool, only: list[str] | None = None
) -> tuple[Counter[str], dict[str, str], float]:
    """Start `hub serve` for this mode, run the selection against it; (counts, left out, seconds)."""
    from hfcheck.sim.emulator.testing import EmulatorProcess

    work = Path(tempfile.mkdtemp(prefix=f"conformance-{mode}-"))
    args = users() + (["--no-xet"] if mode == "lfs" else [])
    selection = tomllib.loads(SELECTION.read_text())
    files = sorted({key.split("::")[0] for key in selection["run"] if not only or key.startswith(tuple(only))})
    report, left_out = work / "junit.xml", work / "left_out.json"
    start = time.monotonic()
    with EmulatorProcess(work / "hub", *args) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env.update(
            HF_ENDPOINT=emu.url,
            HF_HOME=str(work / "hf_home"),
            HF_XET_CACHE=str(work / "xet_cache"),
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_XET="1" if mode == "lfs" else "",
            HF_XET_CLIENT_RETRY_MAX_ATTEMPTS="1",
            DISABLE_SYMLINKS_IN_WINDOWS_TESTS="1",
            CONFORMANCE_SELECTION=str(SELECTION),
            CONFORMANCE_LEFT_OUT=str(left_out),
        )
        cmd = [sys.executable, "-m", "pytest", "-c", str(HERE / "pytest.ini"), "--rootdir", str(root)]
        cmd += ["-p", "no:cacheprovider", "-q", f"--junitxml={report}", *[f"tests/{f}" for f in files]]
        subprocess.run([*cmd, *pytest_args], cwd=root, env=env)
    seconds = time.monotonic() - start
    counts = count(report)
    reasons = json.loads(left_out.read_text()) if left_out.exists() else {}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return counts, reasons, seconds


def count(report: Path) -> Counter[str]:
    """passed / failed / skipped from pytest's JUnit XML (errors count as failed)."""
    counts: Counter[str] = Counter(passed=0, failed=0, skipped=0)
    if not report.exists():
        counts["failed"] += 1
        return counts
    for case in ET.parse(report).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        counts["failed" if tags & {"failure", "error"} else "skipped" if "skipped" in tags else "passed"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["xet", "lfs"], action="append", help="one run only (default: both)")
    parser.add_argument("--keep", action="store_true", help="keep the emulator's data and the JUnit report")
    parser.add_argument("--only", action="append", metavar="PREFIX", help="only the selection's keys starting so")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    opts = parser.parse_args()
    root = suite_dir()
    modes = opts.mode or ["xet", "lfs"]
    results = {m: run_mode(m, root, opts.pytest_args, opts.keep, opts.only) for m in modes}
    left_out: dict[str, str] = {}
    for _, reasons, _ in results.values():
        left_out.update(reasons)
    by_reason = Counter(reason for reason in left_out.values())
    sys.stdout.flush()
    print(f"\nhuggingface_hub {version('huggingface_hub')} tests against the emulator")
    print(f"left out ({len(left_out)} tests):")
    for reason, n in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {reason}")
    print("files not run:")
    for files, reason in tomllib.loads(SELECTION.read_text())["other_files"].items():
        print(f"  {reason}: {files}")
    print(f"{'run':10} {'passed':>7} {'failed':>7} {'skipped':>8} {'seconds':>8}")
    for mode, (counts, _, seconds) in results.items():
        label = "Xet" if mode == "xet" else "LFS-only"
        print(f"{label:10} {counts['passed']:7d} {counts['failed']:7d} {counts['skipped']:8d} {seconds:8.0f}")
    return 1 if any(c["failed"] for c, _, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
