"""Telling a consumer (CRM, warehouse system, device) where its package is.

The ``ConsumerNotifier`` protocol is the seam for a real transport (a CRM webhook, an IoT Hub
cloud-to-device message). The default ``LogNotifier`` writes a structured log record; the
consumer then learns the URL from the child orchestration's custom status, which carries the
package URL, the digest and the event to raise. That is how the local demo plays devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from azure_functions_logging import get_logger

from workflows.contracts import DeliveryReceipt

_log = get_logger(__name__)


@dataclass(frozen=True)
class ConsumerNotification:
    consumer: str
    parent_instance_id: str | None
    instance_id: str
    package_url: str
    sha256: str
    event_name: str
    ack_deadline: str


class ConsumerNotifier(Protocol):
    def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
        """Deliver the notification; raise to make the activity fail (and be retried)."""
        ...


class LogNotifier:
    """Notifies by structured log line; consumers poll the child's custom status."""

    def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
        _log.info(
            "package ready for %s: %s (sha256 %s); raise %s on %s before %s",
            notification.consumer,
            notification.package_url,
            notification.sha256,
            notification.event_name,
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
            "channel": "log+customStatus",
        }


_notifier: ConsumerNotifier = LogNotifier()


def get_notifier() -> ConsumerNotifier:
    """The process-wide notifier the send activities use."""
    return _notifier


def set_notifier(notifier: ConsumerNotifier | None) -> None:
    """Replace the notifier (tests, another transport); None restores ``LogNotifier``."""
    global _notifier
    _notifier = LogNotifier() if notifier is None else notifier
