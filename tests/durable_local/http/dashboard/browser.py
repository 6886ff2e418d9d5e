"""Debian's Chromium driven by Playwright, headless, never a browser Playwright downloads."""

from __future__ import annotations

from devtools.browser import CHROMIUM


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (./dev test installs it with apt-get)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None
