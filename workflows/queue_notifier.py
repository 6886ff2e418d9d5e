"""Notifications through Azure Queue Storage (Azurite locally): ``QueueNotifier``.

One queue per consumer (``workflows.consumers.QUEUE_NAMES``), created on first use. Each
hand-over puts one message: the UTF-8 JSON of ``notification_message`` as plain text (no
base64; a Functions queue trigger reading it sets ``"messageEncoding": "none"``), alive until
the ack deadline, since after it the ack link answers 410 anyway.

The queues' account is the packages' by default: the connection string named by
``NOTIFICATION_STORAGE_CONNECTION`` (empty: ``PACKAGE_STORAGE_CONNECTION``, i.e.
``AzureWebJobsStorage``), or a managed identity when ``NOTIFICATION_QUEUE_ACCOUNT_URL`` or the
connection's identity form (``<name>__queueServiceUri`` / ``<name>__accountName``) is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.queue import LinearRetry, QueueServiceClient
from azure_functions_logging import get_logger

from workflows.blob_store import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, split_connection_string
from workflows.consumers import (
    ConsumerNotification,
    notification_message,
    queue_name_for,
)
from workflows.contracts import DeliveryReceipt
from workflows.logs import redact_url
from workflows.settings import (
    NOTIFICATION_QUEUE_ACCOUNT_URL,
    NOTIFICATION_STORAGE_CONNECTION,
    AppSettings,
    SettingsError,
)

_log = get_logger(__name__)

DEV_QUEUE_PORT = 10001
#: Azure keeps a queue message at most 7 days unless told "forever" (-1); the ack window is at
#: most 7 days, so the deadline always fits.
MAX_TTL_SECONDS = 604_800

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotificationError(RuntimeError):
    """The queue service could not be reached or refused the message (one line, no secrets)."""


def queue_endpoint_from_connection(text: str, setting: str) -> tuple[str, str, str]:
    """Queue endpoint, account name and key of a key-bearing connection string."""
    parts = split_connection_string(text, setting)
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        host = parts.get("developmentstorageproxyuri", "http://127.0.0.1").rstrip("/")
        return f"{host}:{DEV_QUEUE_PORT}/{DEV_ACCOUNT_NAME}", DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY
    account, key = parts.get("accountname", ""), parts.get("accountkey", "")
    if not account or not key:
        raise SettingsError(
            setting,
            "the connection string has no AccountName/AccountKey; configure "
            f"{NOTIFICATION_QUEUE_ACCOUNT_URL} to reach the queues with a managed identity",
        )
    endpoint = parts.get("queueendpoint", "").rstrip("/")
    if not endpoint:
        if parts.get("blobendpoint"):
            # Explicit endpoints (an emulator, a custom domain): guessing the queue's is wrong.
            raise SettingsError(
                setting, "the connection string names a BlobEndpoint but no QueueEndpoint"
            )
        protocol = parts.get("defaultendpointsprotocol", "https")
        suffix = parts.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.queue.{suffix}"
    return endpoint, account, key


def _client_options() -> dict[str, Any]:
    # As for blobs: one quick SDK retry; the durable activity retry is the real one.
    return {
        "retry_policy": LinearRetry(backoff=1, retry_total=1, random_jitter_range=1),
        "connection_timeout": 10,
        "read_timeout": 30,
    }


def create_queue_service(settings: AppSettings, env: Mapping[str, str]) -> QueueServiceClient:
    """The queue service the app settings describe (identity when an endpoint is configured)."""
    setting = settings.notification_storage_connection
    account_url = settings.notification_queue_account_url
    if not account_url:
        account_url = env.get(f"{setting}__queueServiceUri", "").strip().rstrip("/")
    if not account_url and env.get(f"{setting}__accountName", "").strip():
        account_url = f"https://{env[f'{setting}__accountName'].strip()}.queue.core.windows.net"
    if account_url:
        from azure.identity import DefaultAzureCredential

        client_id = settings.package_storage_client_id or env.get(f"{setting}__clientId", "")
        credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
        return QueueServiceClient(account_url, credential=credential, **_client_options())
    text = env.get(setting, "").strip()
    if not text:
        raise SettingsError(
            setting,
            "is not set: the queue notifier needs a storage connection string "
            f"(UseDevelopmentStorage=true for Azurite), {NOTIFICATION_QUEUE_ACCOUNT_URL} for a "
            f"managed identity, or {NOTIFICATION_STORAGE_CONNECTION} naming another setting",
        )
    endpoint, account, key = queue_endpoint_from_connection(text, setting)
    return QueueServiceClient(
        endpoint, credential={"account_name": account, "account_key": key}, **_client_options()
    )


class QueueNotifier:
    """Puts one JSON message per hand-over on the consumer's queue."""

    def __init__(self, service: QueueServiceClient, clock: Clock = _utcnow) -> None:
        self._service = service
        self._clock = clock

    @property
    def service(self) -> QueueServiceClient:
        return self._service

    def _ttl(self, ack_deadline: str) -> int:
        deadline = datetime.fromisoformat(ack_deadline.replace("Z", "+00:00"))
        remaining = int((deadline - self._clock()).total_seconds()) + 1
        return min(max(remaining, 1), MAX_TTL_SECONDS)

    def notify(self, notification: ConsumerNotification) -> DeliveryReceipt:
        queue = queue_name_for(notification.consumer)
        message = notification_message(notification)
        text = json.dumps(message, sort_keys=True, separators=(",", ":"))
        client = self._service.get_queue_client(queue)
        ttl = self._ttl(notification.ack_deadline)
        try:
            try:
                sent = client.send_message(text, time_to_live=ttl)
            except ResourceNotFoundError:
                try:
                    client.create_queue()
                    _log.info("created queue %s", queue)
                except ResourceExistsError:
                    pass  # a parallel activity created it first
                sent = client.send_message(text, time_to_live=ttl)
        except (ServiceRequestError, HttpResponseError) as error:
            raise self._error(queue, error) from error
        _log.info(
            "notified %s on queue %s: package %s, notification %s",
            notification.consumer,
            queue,
            redact_url(notification.package_url),
            message["notificationId"],
            parent_instance_id=notification.parent_instance_id,
            instance_id=notification.instance_id,
        )
        return {
            "consumer": notification.consumer,
            "instanceId": notification.instance_id,
            "packageUrl": notification.package_url,
            "channel": f"queue:{queue}",
            "notificationId": str(message["notificationId"]),
            "messageId": str(sent.id),
            "ackUrl": notification.ack_url,
        }

    def _error(self, queue: str, error: Exception) -> NotificationError:
        if isinstance(error, ServiceRequestError):
            return NotificationError(
                f"queue storage unreachable at {redact_url(self._service.url)}: could not "
                f"send to {queue}"
            )
        status = getattr(error, "status_code", None)
        code = getattr(error, "error_code", None)
        code = str(getattr(code, "value", code) or "")
        return NotificationError(
            f"queue storage refused the message for {queue}: HTTP {status} {code}".rstrip()
        )
