"""Architecture rules import-linter cannot express: ``function_app.py`` is a module at the top
level (import-linter only takes packages as roots), so its imports are checked here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_function_app_never_imports_the_local_runtime() -> None:
    imported = _imported_modules(ROOT / "function_app.py")
    assert not {m for m in imported if m.split(".")[0] == "durable_local"}


def test_function_app_is_composition_only() -> None:
    """function_app.py defines no functions of its own: they live in blueprints."""
    tree = ast.parse((ROOT / "function_app.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert defined == []
