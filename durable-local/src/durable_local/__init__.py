"""durable-local: a local stand-in for the Azure Functions host and the Durable Task extension.

It loads a v2-model ``function_app.py``, drives the real ``azure-functions-durable`` SDK the way
the host does (spec: ``shared/spec/durable-protocol.md``) and persists orchestration state in
SQLite, so a Durable Functions app runs and is tested with Python alone.

The public names are below; every other module is internal. They are imported on first use, so
``import durable_local`` stays cheap (the worker process and the CLI import it first).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "FunctionsHost": "durable_local.host",
    "HostOptions": "durable_local.host",
    "LoadedApp": "durable_local.functions.loader",
    "load_app": "durable_local.functions.loader",
    "LoaderError": "durable_local.functions.settings",
    "DurableRuntime": "durable_local.runtime.client",
    "ManualClock": "durable_local.runtime.clock",
    "SystemClock": "durable_local.runtime.clock",
    "RuntimeStatus": "durable_local.model",
}

__all__ = [
    "DurableRuntime",
    "FunctionsHost",
    "HostOptions",
    "LoadedApp",
    "LoaderError",
    "ManualClock",
    "RuntimeStatus",
    "SystemClock",
    "__version__",
    "load_app",
]

if TYPE_CHECKING:
    from durable_local.functions.loader import LoadedApp, load_app
    from durable_local.functions.settings import LoaderError
    from durable_local.host import FunctionsHost, HostOptions
    from durable_local.model import RuntimeStatus
    from durable_local.runtime.client import DurableRuntime
    from durable_local.runtime.clock import ManualClock, SystemClock


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'durable_local' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
