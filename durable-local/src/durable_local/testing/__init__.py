"""``durable_local.testing``: test Durable Functions apps without Azure.

* ``DurableTestHost``: a function app on durable-local inside a test (in-memory store, user
  code in-process), with time skipping (``advance``, ``auto_advance``), the SDK's own client
  (``client``), an HTTP test client (``http``), waits, typed history and activity doubles.
* ``HistoryBuilder`` and ``replay``: one orchestrator episode through the SDK's replay engine,
  history in; actions, output and custom status out.
* A pytest plugin (``durable_local.testing.plugin``, registered as a ``pytest11`` entry
  point): the ``durable_host`` and ``history_builder`` fixtures.

Names are imported on first use, so the pytest plugin costs nothing in test runs that do not
use it. The guide is docs/testing.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "DurableTestHost": "durable_local.testing.host",
    "ActivityMock": "durable_local.testing.mocks",
    "HistoryEvent": "durable_local.testing.views",
    "ActivityCall": "durable_local.testing.views",
    "InstanceStatus": "durable_local.testing.views",
    "HistoryBuilder": "durable_local.testing.builder",
    "ReplayResult": "durable_local.testing.builder",
    "ActionType": "durable_local.model",
    "replay": "durable_local.testing.builder",
    "iso": "durable_local.testing.builder",
    "DurableTestError": "durable_local.testing.errors",
    "AppLoadError": "durable_local.testing.errors",
    "UnknownInstanceError": "durable_local.testing.errors",
    "UnexpectedStatusError": "durable_local.testing.errors",
    "TimeSkippingError": "durable_local.testing.errors",
    "NotAnActivityError": "durable_local.testing.errors",
    "WaitTimeoutError": "durable_local.testing.errors",
    "RuntimeStatus": "durable_local.model",
    "ManualClock": "durable_local.runtime.clock",
    "HostKeys": "durable_local.http",
}

__all__ = [
    "ActionType",
    "ActivityCall",
    "ActivityMock",
    "AppLoadError",
    "DurableTestError",
    "DurableTestHost",
    "HistoryBuilder",
    "HistoryEvent",
    "HostKeys",
    "InstanceStatus",
    "ManualClock",
    "NotAnActivityError",
    "ReplayResult",
    "RuntimeStatus",
    "TimeSkippingError",
    "UnexpectedStatusError",
    "UnknownInstanceError",
    "WaitTimeoutError",
    "iso",
    "replay",
]

if TYPE_CHECKING:
    from durable_local.http import HostKeys
    from durable_local.model import ActionType, RuntimeStatus
    from durable_local.runtime.clock import ManualClock
    from durable_local.testing.builder import HistoryBuilder, ReplayResult, iso, replay
    from durable_local.testing.errors import (
        AppLoadError,
        DurableTestError,
        NotAnActivityError,
        TimeSkippingError,
        UnexpectedStatusError,
        UnknownInstanceError,
        WaitTimeoutError,
    )
    from durable_local.testing.host import DurableTestHost
    from durable_local.testing.mocks import ActivityMock
    from durable_local.testing.views import ActivityCall, HistoryEvent, InstanceStatus


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'durable_local.testing' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
