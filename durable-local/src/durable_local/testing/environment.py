"""The process environment of a test host: app settings applied for its lifetime, then undone.

Loading an app writes ``local.settings.json`` into ``os.environ`` (as Core Tools does, a
variable already set wins); a test host first applies the settings the test gave, so they win
over the file, and on exit gives the environment back exactly as it found it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


class EnvironmentPatch:
    """``os.environ`` with extra settings until ``restore()``; restores every change made
    meanwhile (the settings, and what loading the app wrote)."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self._before = dict(os.environ)
        self._restored = False
        for name, value in (settings or {}).items():
            # Non-string values are written as JSON text, as local.settings.json Values are.
            os.environ[name] = value if isinstance(value, str) else json.dumps(value)

    def restore(self) -> None:
        """Give ``os.environ`` back as it was when the patch was made (idempotent)."""
        if self._restored:
            return
        self._restored = True
        for name in [name for name in os.environ if name not in self._before]:
            del os.environ[name]
        for name, value in self._before.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
