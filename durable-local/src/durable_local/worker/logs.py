"""Console logging for the host and the app, set up before the app is imported."""

from __future__ import annotations

import logging
import sys

from durable_local.functions.settings import LoaderError

_HANDLER_NAME = "durable-local-console"


def configure_logging(level: int | str = logging.INFO) -> None:
    """Console logging for the host and the app, set up before the app is imported.

    The worker gives the root logger a handler; ``azure-functions-logging`` in host mode (it
    sees ``FUNCTIONS_WORKER_RUNTIME``) only decorates existing root handlers, so one must exist
    before ``function_app.py`` calls ``setup_logging()``. Idempotent.
    """
    root = logging.getLogger()
    if isinstance(level, str):
        resolved = logging.getLevelName(level.upper())
        if not isinstance(resolved, int):
            raise LoaderError(f"Unknown log level '{level}'.")
        level = resolved
    root.setLevel(level)
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # One line per request is the host's own "Executing/Executed" log, not aiohttp's.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
