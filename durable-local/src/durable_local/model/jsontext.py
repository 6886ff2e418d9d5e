"""JSON text as the extension stores it: compact (Newtonsoft, no whitespace)."""

from __future__ import annotations

import json
import re
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]")


def compact(value: Any, *, ensure_ascii: bool = True) -> str:
    """``value`` as compact JSON text (no spaces after separators); response bodies keep
    non-ASCII characters as they are (``ensure_ascii=False``), as Newtonsoft writes them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii)


def compact_text(text: str) -> str:
    """JSON text re-serialised compactly; text that is not JSON is returned as it is."""
    if not _WHITESPACE.search(text):
        return text  # the worker's json.dumps output with no whitespace is compact already
    try:
        return compact(json.loads(text))
    except json.JSONDecodeError:
        return text
