"""Which host the demo and the end-to-end tests talk to: durable-local (default) or another one.

By default both start their own ``durable-local`` process and a private Azurite. With
``DEVICE_SYNC_HOST_URL`` set they use an already-running host instead, e.g. ``func start`` with
Azurite on a machine where Core Tools is installed, or a deployed app::

    DEVICE_SYNC_HOST_URL          base URL of the host, e.g. http://localhost:7071
    DEVICE_SYNC_STORAGE           connection string of the storage that host uses (consumers
                                  read their queues there; default UseDevelopmentStorage=true)
    DEVICE_SYNC_FUNCTION_KEY      key for the app's function-level routes (Azure; optional)
    DEVICE_SYNC_SYSTEM_KEY        key of the Durable HTTP API (durabletask_extension; optional)

The host must run with the settings the suite expects (``REMOTE_SETTINGS`` in
tests/e2e/conftest.py, docs/app-device-facing.md). Tests that need durable-local itself (kill
and restart it, read its log, start it with other settings) skip with a reason saying so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

HOST_URL = "DEVICE_SYNC_HOST_URL"
STORAGE = "DEVICE_SYNC_STORAGE"
FUNCTION_KEY = "DEVICE_SYNC_FUNCTION_KEY"
SYSTEM_KEY = "DEVICE_SYNC_SYSTEM_KEY"


@dataclass(frozen=True)
class RemoteTarget:
    """An already-running host (and the storage it uses)."""

    base_url: str
    storage_connection: str
    function_key: str = ""
    system_key: str = ""

    @property
    def running(self) -> bool:
        return True

    def log_text(self, offset: int = 0) -> str:
        """A remote host's log is not ours to read; tests that need it skip."""
        return ""


def remote_target(env: Mapping[str, str] | None = None) -> RemoteTarget | None:
    """The host named by ``DEVICE_SYNC_HOST_URL``, or None to start durable-local."""
    source = os.environ if env is None else env
    url = source.get(HOST_URL, "").strip().rstrip("/")
    if not url:
        return None
    return RemoteTarget(
        base_url=url,
        storage_connection=source.get(STORAGE, "").strip() or "UseDevelopmentStorage=true",
        function_key=source.get(FUNCTION_KEY, "").strip(),
        system_key=source.get(SYSTEM_KEY, "").strip(),
    )
