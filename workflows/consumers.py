"""Telling a consumer (CRM, warehouse system, device fleet) where its package is.

The send activities hand a ``ConsumerNotification`` to the process-wide ``ConsumerNotifier``,
chosen by the ``NOTIFIER`` app setting:

* ``queue`` (default): ``QueueNotifier`` (``workflows/queue_notifier.py``) puts one JSON
  message on the consumer's queue (``QUEUE_NAMES``) with the package URL, its sha256, the ack
  URL and the deadline.
* ``log``: ``LogNotifier`` writes a log line (URLs redacted) and nothing else; for tests that
  read the ack link from the child's custom status instead.

Delivery is at least once: an activity retried after its message was sent sends it again. The
message is the same each time (its ``notificationId`` derives from the child and the package
digest), so consumers de-duplicate on ``notificationId``; acking twice is harmless anyway.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from azure_functions_logging import get_logger

from workflows.contracts import DeliveryReceipt
from workflows.logs import redact_url
from workflows.settings import NOTIFIER, SettingsError, load_settings

_log = get_logger(__name__)

#: The queue each consumer reads.
QUEUE_NAMES: dict[str, str] = {
    "crm": "crm-notifications",
    "warehouse": "warehouse-notifications",
    "device": "device-notifications",
}
MESSAGE_SCHEMA = "package-ready/v1"
_NOTIFICATION_NAMESPACE = uuid.UUID("0b6f6d2a-52a4-5f0e-9d51-6c1c5d1f3a77")


def queue_name_for(consumer: str) -> str:
    try:
        return QUEUE_NAMES[consumer]
    except KeyError:
        raise ValueError(f"no queue for consumer {consumer!r}") from None


def notification_id_for(instance_id: str, sha256: str) -> str:
    """Stable id of the notification about ``instance_id``'s package (for de-duplication)."""
    return str(uuid.uuid5(_NOTIFICATION_NAMESPACE, f"{instance_id}/{sha256.lower()}"))


@dataclass(frozen=True)
class ConsumerNotification:
    consumer: str
    parent_instance_id: str | None
    instance_id: str
    package_url: str
    sha256: str
    event_name: str
    ack_deadline: str
    ack_url: str
    #: What the package is about (``deviceId``, ``customerId``, ``skuCount``).
    subject: dict[str, object] = field(default_factory=dict)


def notification_message(notification: ConsumerNotification) -> dict[str, object]:
    """The JSON document a consumer receives (see docs/app-device-facing.md)."""
    return {
        "schema": MESSAGE_SCHEMA,
        "notificationId": notification_id_for(notification.instance_id, notification.sha256),
        "consumer": notification.consumer,
        "instanceId": notification.instance_id,
        "parentInstanceId": notification.parent_instance_id,
        **notification.subject,
        "packageUrl": notification.package_url,
        "sha256": notification.sha256,
        "eventName": notification.event_name,
        "ackUrl": notification.ack_url,
        "ackDeadline": notification.ack_deadline,
    }


class ConsumerNotifier(Protocol):
    def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
        """Deliver the notification; raise to make the activity fail (and be retried)."""
        ...


class LogNotifier:
    """Notifies by log line only (tests): URLs without SAS or ack token."""

    def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
        _log.info(
            "package ready for %s: %s (sha256 %s); %s through %s on %s before %s",
            notification.consumer,
            redact_url(notification.package_url),
            notification.sha256,
            notification.event_name,
            redact_url(notification.ack_url),
            notification.instance_id,
            notification.ack_deadline,
            parent_instance_id=notification.parent_instance_id,
            instance_id=notification.instance_id,
            consumer=notification.consumer,
        )
        return {
            "consumer": notification.consumer,
            "instanceId": notification.instance_id,
            "packageUrl": notification.package_url,
            "channel": "log",
            "notificationId": notification_id_for(notification.instance_id, notification.sha256),
            "messageId": "",
            "ackUrl": notification.ack_url,
        }


def create_notifier(env: Mapping[str, str] | None = None) -> ConsumerNotifier:
    """The notifier the app settings select (``NOTIFIER``; ``os.environ`` unless ``env``)."""
    source = os.environ if env is None else env
    settings = load_settings(source)
    if settings.notifier == "log":
        return LogNotifier()
    if settings.notifier == "queue":
        # Imported here: queue_notifier imports this module (the message format).
        from workflows.queue_notifier import QueueNotifier, create_queue_service

        return QueueNotifier(create_queue_service(settings, source))
    raise SettingsError(NOTIFIER, f"unknown notifier {settings.notifier!r}")


_notifier: ConsumerNotifier | None = None
_notifier_lock = threading.Lock()


def get_notifier() -> ConsumerNotifier:
    """The process-wide notifier (created from the app settings on first use; a failed
    creation is not cached, so the next activity attempt tries again)."""
    global _notifier
    with _notifier_lock:
        if _notifier is None:
            _notifier = create_notifier()
        return _notifier


def set_notifier(notifier: ConsumerNotifier | None) -> None:
    """Replace the notifier (tests); None goes back to the settings' choice on next use."""
    global _notifier
    with _notifier_lock:
        _notifier = notifier
