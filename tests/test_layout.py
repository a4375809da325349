"""The package layout holds the direction of the data flow (docs/CONVENTIONS.md, "Import rule").

Each top-level part of `hfcheck` has a rank; a module may import its own part and parts of a
lower rank, never a higher one. `sim/` (the emulator, media server and demo) is imported by
`commands/` only. Imports under `if TYPE_CHECKING:` are annotations, not dependencies, and are
not counted.
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
    # the stages, in the order the data flows: verify's findings feed write and readback
    "verify": 2,
    "write": 3,
    "readback": 3,
    # rendering results, apart from producing them
    "report": 4,
    # the service that runs the stages unattended
    "watch": 5,
    # the user's entry points
    "commands": 6,
    "cli": 6,
    "__main__": 7,
    "__init__": 0,
    "sim": 6,
}


def part_of(module: str) -> str:
    """`hfcheck.net.hub` -> `net`; the word catalog is its own part (`report.catalog`)."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[:2] == ["report", "catalog"]:
        return "report.catalog"
    return parts[0]


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _package_member(name: str) -> str:
    """`from hfcheck import X`: a submodule X, or a name defined in `hfcheck/__init__.py`."""
    is_module = (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
    return f"hfcheck.{name}" if is_module else "hfcheck"


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported hfcheck module, line) for every runtime import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
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


def test_every_part_has_a_rank() -> None:
    unranked = {part_of(m) for m, _, _ in imports()} - RANKS.keys()
    assert not unranked, f"give these parts a rank in tests/test_layout.py: {sorted(unranked)}"


def test_imports_follow_the_data_flow() -> None:
    wrong = []
    for module, target, line in imports():
        src, dst = part_of(module), part_of(target)
        if src == dst or dst == "__init__":
            continue
        if dst == "sim" and src != "commands":
            wrong.append(f"{module}:{line} imports {target} (only commands import sim/)")
        elif RANKS[dst] > RANKS[src]:
            wrong.append(f"{module}:{line} imports {target} ({src} is below {dst})")
    assert not wrong, "\n".join(wrong)


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
