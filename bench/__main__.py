"""`python -m bench [topic ...]`: run the named benchmarks, or all of them."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def topics() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    """Topics come first; options after them (`python -m bench verify --urls 5000`) are read by
    the benchmark itself from the command line (or from HFCHECK_BENCH_ARGS)."""
    names = argv[: next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))]
    wanted = names or topics()
    unknown = [t for t in wanted if t not in topics()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(topics())}", file=sys.stderr)
        return 2
    for topic in wanted:
        print(f"== {topic}")
        importlib.import_module(f"bench.bench_{topic}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
