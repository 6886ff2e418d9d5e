"""Where things are: the project root (function_app.py, host.json, workflows/)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
