"""The layout's rules, checked on the import statements of every module of ``backpack``.

- nothing below ``cli/`` imports ``cli/``;
- ``store/`` and ``data/`` never import torch or DGL at module level, and inside a function only
  where the function's job needs it (listed below: reading ``.pt`` files, searching with torch
  queries a caller passed);
- ``models/`` never imports ``pipeline/``;
- ``distributed/`` holds collectives only: it imports neither ``cli/`` nor ``pipeline/``.

Deprecated aliases kept for one release (``learner/``, ``training/``, ``tasks/data/``,
``distributed/worker.py``) are exempt: they only forward old names to their new homes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "backpack"
DEPRECATED = ("learner", "training", "tasks/data", "distributed/worker.py")
# Where store/ and data/ may import torch inside a function: the .pt feature files (data), and
# torch queries that a caller passed to the store (answered on their device).
TORCH_ALLOWED = {
    "data/features.py",
    "data/synthetic_write.py",
    "store/_device_search.py",
    "store/taskview.py",
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if any(rel == d or rel.startswith(d + "/") for d in DEPRECATED):
            continue
        out.append((rel, path))
    return out


def _runtime_nodes(tree: ast.Module, top_level_only: bool) -> list[ast.AST]:
    """Statements that run: ``if TYPE_CHECKING:`` blocks are left out (they import for type hints)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        out.append(node)
        if not top_level_only:
            todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text()), top_level_only):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _uses(names: set[str], prefix: str) -> list[str]:
    return sorted(n for n in names if n == prefix or n.startswith(prefix + "."))


MODULES = _modules()


def test_the_layout_has_its_packages() -> None:
    for sub in ("store/backends", "data", "backbone", "tasks", "models", "pipeline", "distributed", "cli"):
        assert (PACKAGE / sub / "__init__.py").is_file(), sub


@pytest.mark.parametrize(("rel", "path"), MODULES, ids=[m[0] for m in MODULES])
def test_import_rules(rel: str, path: Path) -> None:
    names = _imports(path)
    top = rel.split("/")[0]
    if top != "cli":
        assert not _uses(names, "backpack.cli"), f"{rel} imports the CLI"
    if top in ("store", "data"):
        checked = _imports(path, top_level_only=True) if rel in TORCH_ALLOWED else names
        assert not (_uses(checked, "torch") or _uses(checked, "dgl")), f"{rel} imports torch or DGL"
    if top == "models":
        assert not _uses(names, "backpack.pipeline"), f"{rel} imports pipeline/"
    if top == "distributed":
        assert not (_uses(names, "backpack.pipeline") or _uses(names, "backpack.models")), rel
    if rel == "tasks/registry.py":
        assert _uses(names, "backpack") == _uses(names, "backpack.errors"), "the registry is a leaf"
