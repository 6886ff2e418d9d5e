"""Where packages live: the ``PackageStore`` interface and its in-memory implementation.

Activities only ever talk to a ``PackageStore``. Two implementations:

* ``BlobPackageStore`` (``workflows/blob_store.py``, ``PACKAGE_STORE=blob``, the default):
  Azure Blob Storage or Azurite, read-only SAS URLs valid for the ack window.
* ``InMemoryPackageStore`` (``PACKAGE_STORE=memory``): bytes in the worker process,
  ``memory://`` URLs nobody outside the process can fetch; for unit tests of orchestrators
  and activities.

Both are deterministic where it matters for idempotent activities: the same name always holds
the same bytes with the same digest, and a re-run overwrites the blob with identical content.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from workflows.settings import PACKAGE_STORE, SettingsError, load_settings


@dataclass(frozen=True)
class StoredObject:
    """A stored blob: a URL a consumer can fetch it from, and the digest to verify it."""

    url: str
    sha256: str
    size_bytes: int


class PackageStore(Protocol):
    """Blob storage as the app needs it: put (overwriting) and read back."""

    def put(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str,
        ttl_seconds: int,
    ) -> StoredObject:
        """Store ``data`` under ``container/name`` (replacing any previous blob).

        ``ttl_seconds`` is how long the returned URL must stay readable (the ack window).
        """
        ...

    def get(self, container: str, name: str) -> bytes | None:
        """The stored bytes, or None when nothing is stored under that name."""
        ...


def check_put_arguments(container: str, name: str, ttl_seconds: int) -> None:
    """The argument rules every ``PackageStore.put`` enforces."""
    if not container or not name:
        raise ValueError("container and name must not be empty")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")


class InMemoryPackageStore:
    """A ``PackageStore`` in process memory (tests, local runs without storage)."""

    def __init__(self, base_url: str = "memory://packages") -> None:
        self._base_url = base_url.rstrip("/")
        self._blobs: dict[tuple[str, str], tuple[bytes, str]] = {}
        # The Python worker runs sync activities on a thread pool.
        self._lock = threading.Lock()

    def url_for(self, container: str, name: str) -> str:
        """The URL of ``container/name`` (the same for every put of that name)."""
        return f"{self._base_url}/{quote(container)}/{quote(name)}"

    def put(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str,
        ttl_seconds: int,
    ) -> StoredObject:
        check_put_arguments(container, name, ttl_seconds)
        with self._lock:
            self._blobs[(container, name)] = (bytes(data), content_type)
        return StoredObject(
            url=self.url_for(container, name),
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
        )

    def get(self, container: str, name: str) -> bytes | None:
        with self._lock:
            entry = self._blobs.get((container, name))
        return None if entry is None else entry[0]


_store: PackageStore | None = None
_store_lock = threading.Lock()


def create_package_store(env: Mapping[str, str] | None = None) -> PackageStore:
    """The store the app settings select (``PACKAGE_STORE``; ``os.environ`` unless ``env``).

    Raises ``SettingsError`` naming the setting when the storage configuration is unusable;
    in an activity that becomes an activity failure the orchestrator reports as the reason.
    """
    source = os.environ if env is None else env
    settings = load_settings(source)
    if settings.package_store == "memory":
        return InMemoryPackageStore(settings.package_base_url)
    if settings.package_store == "blob":
        # Imported here: blob_store imports this module (StoredObject).
        from workflows.blob_store import create_blob_store

        return create_blob_store(settings, source)
    raise SettingsError(PACKAGE_STORE, f"unknown package store {settings.package_store!r}")


def get_package_store() -> PackageStore:
    """The process-wide store activities use (created from the app settings on first use).

    A failed creation is not cached: the next activity attempt tries again.
    """
    global _store
    with _store_lock:
        if _store is None:
            _store = create_package_store()
        return _store


def set_package_store(store: PackageStore | None) -> None:
    """Replace the process-wide store (tests; None goes back to the default on next use)."""
    global _store
    with _store_lock:
        _store = store
