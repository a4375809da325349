"""The package layout holds the direction of the data flow (docs/CONVENTIONS.md, "Import rule").

Each top-level part of `hfcheck` has a rank; a module may import its own part and parts of a
lower rank, never a higher one nor another part of the same rank (write and readback both feed
on verify; neither is built on the other). `sim/` (the emulator, media server and demo) is
imported by `commands/` only. Imports in the body of `if TYPE_CHECKING:` are annotations, not
dependencies, and are not counted; everything else is (its `else:`, `if not TYPE_CHECKING:`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hfcheck"

RANKS: dict[str, int] = {
    # the floor: no I/O of its own beyond files, usable by every part
    "errors": 0,
    "atomic": 0,
    "config": 0,
    "pool": 0,
    "model": 0,
    "report.catalog": 0,
    # the resources the stages use
    "crypto": 1,
    "db": 1,
    "net": 1,
    # the stages, in the order the data flows: verify's findings feed readback and write;
    # write builds on readback (migrate reads old backups back through the walk)
    "verify": 2,
    "readback": 3,
    "write": 4,
    # rendering results, apart from producing them
    "report": 5,
    # the service that runs the stages unattended
    "watch": 6,
    # the command line's frame (common flags, running a coroutine), the simulated world that
    # drives it, and the commands that use both
    "cli": 7,
    "sim": 8,
    "commands": 9,
    "__main__": 10,
    "__init__": 0,
}


def part_of(module: str) -> str:
    """`hfcheck.net.hub` -> `net`; the word catalog is its own part (`report.catalog`)."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[:2] == ["report", "catalog"]:
        return "report.catalog"
    return parts[0]


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines of the bodies of `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) exactly: not of
    `if not TYPE_CHECKING:`, a compound test, or the `else:` branch, which all run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _package_member(name: str) -> str:
    """`from hfcheck import X`: a submodule X, or a name defined in `hfcheck/__init__.py`."""
    is_module = (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
    return f"hfcheck.{name}" if is_module else "hfcheck"


def module_imports(module: str, source: str) -> list[tuple[str, str, int]]:
    """(module, imported hfcheck module, line) for every runtime import in `source`."""
    found = []
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hfcheck"):
            targets = [node.module] if node.module != "hfcheck" else [_package_member(a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("hfcheck")]
        else:
            continue
        found.extend((module, target, node.lineno) for target in targets)
    return found


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported hfcheck module, line) for every runtime import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found += module_imports(module, path.read_text(encoding="utf-8"))
    return found


def violations(found: list[tuple[str, str, int]]) -> list[str]:
    """The imports that break the rule, one line each."""
    wrong = []
    for module, target, line in found:
        src, dst = part_of(module), part_of(target)
        if src == dst or dst == "__init__":
            continue
        if dst == "sim" and src != "commands":
            wrong.append(f"{module}:{line} imports {target} (only commands import sim/)")
        elif RANKS[dst] > RANKS[src]:
            wrong.append(f"{module}:{line} imports {target} ({src} is below {dst})")
        elif RANKS[dst] == RANKS[src] and RANKS[src] > 0:
            wrong.append(f"{module}:{line} imports {target} ({src} and {dst} are of equal rank)")
    return wrong


def test_every_part_has_a_rank() -> None:
    unranked = {part_of(m) for m, _, _ in imports()} - RANKS.keys()
    assert not unranked, f"give these parts a rank in tests/test_layout.py: {sorted(unranked)}"


def test_imports_follow_the_data_flow() -> None:
    wrong = violations(imports())
    assert not wrong, "\n".join(wrong)


GUARDED = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from hfcheck.write.plan import TweetPlan
if not TYPE_CHECKING:
    from hfcheck.watch.service import Service
if TYPE_CHECKING:
    pass
else:
    from hfcheck.report.html import render
"""


def test_only_the_body_of_if_type_checking_is_skipped() -> None:
    """`if not TYPE_CHECKING:` and the `else:` of `if TYPE_CHECKING:` run: their imports count."""
    wrong = violations(module_imports("hfcheck.verify.synthetic", GUARDED))
    assert wrong == [
        "hfcheck.verify.synthetic:6 imports hfcheck.watch.service (verify is below watch)",
        "hfcheck.verify.synthetic:10 imports hfcheck.report.html (verify is below report)",
    ]


def test_parts_of_equal_rank_do_not_import_each_other() -> None:
    """crypto, db and net all rank 1: none may import another (the floor's parts may)."""
    source = "from hfcheck.db.state import StateDB\nfrom hfcheck.net import hub\nfrom hfcheck import config\n"
    assert violations(module_imports("hfcheck.net.synthetic", source)) == [
        "hfcheck.net.synthetic:1 imports hfcheck.db.state (net and db are of equal rank)"
    ]
    assert violations(module_imports("hfcheck.errors", "from hfcheck.config import Config\n")) == []


@pytest.mark.parametrize(
    ("module", "part"),
    [
        ("hfcheck.net.hub", "net"),
        ("hfcheck.report.catalog", "report.catalog"),
        ("hfcheck.report.html", "report"),
        ("hfcheck", "__init__"),
        ("hfcheck.cli", "cli"),
    ],
)
def test_part_of(module: str, part: str) -> None:
    assert part_of(module) == part
