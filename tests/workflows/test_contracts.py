"""Architecture rules import-linter cannot express: ``function_app.py`` is a module at the top
level (import-linter only takes packages as roots), so its imports are checked here; and the
packaging rules (supported Pythons, requirements.txt matching pyproject)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

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


def _pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def test_requires_python_admits_the_versions_azure_functions_runs_this_app_on() -> None:
    # Azure Functions 4 offers 3.11, 3.12 and 3.13 for this SDK line; the code needs 3.11.
    spec = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if v in spec] == [
        "3.11",
        "3.12",
        "3.13",
    ]


def test_requirements_txt_is_exactly_the_runtime_dependencies() -> None:
    """What Azure installs (requirements.txt) and what pyproject declares never drift apart."""
    declared = {str(Requirement(r)) for r in _pyproject()["project"]["dependencies"]}
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = {str(Requirement(line)) for line in lines if line.strip() and not line.startswith("#")}
    assert listed == declared
    # Every supported Python gets exactly one azure-functions line (1.x up to 3.12, 2.x on 3.13).
    for version in ("3.11", "3.12", "3.13"):
        env = {"python_version": version}
        chosen = [
            r for r in map(Requirement, declared)
            if r.name == "azure-functions" and (r.marker is None or r.marker.evaluate(env))
        ]  # fmt: skip
        assert len(chosen) == 1, (version, chosen)
