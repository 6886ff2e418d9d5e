"""Package content and naming (pure logic).

Each package is a small JSON manifest. Its bytes depend only on the activity input (the child
instance id, the subject and the orchestration's replay-safe timestamp), never on wall-clock
time or randomness, so an activity that runs twice (retry, crash, redelivery) writes the same
blob and returns the same digest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal

PackageKind = Literal["customer-profile-export", "inventory-snapshot", "device-installation"]

#: Container per package kind (names follow Azure's lowercase-and-dash container rules).
CONTAINERS: dict[PackageKind, str] = {
    "customer-profile-export": "customer-exports",
    "inventory-snapshot": "inventory-snapshots",
    "device-installation": "device-packages",
}
OUTCOME_CONTAINER = "package-outcomes"

# Fixed namespace so package ids are stable across processes and deployments.
_PACKAGE_NAMESPACE = uuid.UUID("6f1f7c1e-4d38-5b7a-9a50-3c7c2f0b8e11")


@dataclass(frozen=True)
class PackageDraft:
    """A package ready to store."""

    package_id: str
    container: str
    blob_name: str
    content: bytes


def blob_name_for(instance_id: str) -> str:
    """Blob name of a child's package: ``{parent}/{child-suffix}.json``.

    Child ids look like ``{parent}:device:{deviceId}``; turning ``:`` into ``/`` groups a
    parent's packages under one virtual folder.
    """
    return instance_id.replace(":", "/") + ".json"


def package_id_for(kind: PackageKind, instance_id: str) -> str:
    """Deterministic package id for a child's package of ``kind``."""
    return str(uuid.uuid5(_PACKAGE_NAMESPACE, f"{kind}/{instance_id}"))


def _encode(document: dict[str, object]) -> bytes:
    # Sorted keys and fixed separators: equal documents always have equal bytes (and digests).
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def build_package(
    kind: PackageKind,
    *,
    instance_id: str,
    parent_instance_id: str | None,
    created_at: str,
    subject: dict[str, object],
) -> PackageDraft:
    """The manifest of a package of ``kind`` about ``subject`` for child ``instance_id``."""
    package_id = package_id_for(kind, instance_id)
    document: dict[str, object] = {
        "schema": f"{kind}/v1",
        "packageId": package_id,
        "createdAt": created_at,
        "instanceId": instance_id,
        "parentInstanceId": parent_instance_id,
        **subject,
    }
    return PackageDraft(
        package_id=package_id,
        container=CONTAINERS[kind],
        blob_name=blob_name_for(instance_id),
        content=_encode(document),
    )


def build_outcome_record(document: dict[str, object]) -> bytes:
    """Bytes of an outcome record (same canonical encoding as packages)."""
    return _encode(document)
