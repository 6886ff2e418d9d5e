"""Loading function apps in tests so that every load is undone afterwards.

``load_app`` imports ``function_app`` into ``sys.modules`` and puts the app folder on
``sys.path``; a test that leaves them behind breaks the next test that loads or imports another
``function_app``. Use ``loaded_app`` (a context manager) in a test body, or the ``app_loader``
fixture (tests/durable_local/conftest.py), which unloads everything it loaded at teardown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from durable_local.functions.loader import LoadedApp, load_app


def write_app(root: Path, source: str, **files: str) -> Path:
    """An app folder: ``function_app.py`` with ``source``, and ``files`` (``a__py`` is a.py)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "function_app.py").write_text(source)
    for name, text in files.items():
        (root / name.replace("__", ".")).write_text(text)
    return root


@contextlib.contextmanager
def loaded_app(app_dir: str | os.PathLike[str], **options: Any) -> Iterator[LoadedApp]:
    """``load_app(app_dir)`` for the duration of the block, unloaded after it."""
    loaded = load_app(app_dir, **options)
    try:
        yield loaded
    finally:
        loaded.unload()


class AppLoader:
    """Loads apps and remembers them; ``unload_all()`` undoes the loads, newest first."""

    def __init__(self) -> None:
        self._loaded: list[LoadedApp] = []

    def __call__(self, app_dir: str | os.PathLike[str], **options: Any) -> LoadedApp:
        loaded = load_app(app_dir, **options)
        self._loaded.append(loaded)
        return loaded

    def unload_all(self) -> None:
        while self._loaded:
            self._loaded.pop().unload()
