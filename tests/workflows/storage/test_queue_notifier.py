"""Consumer notifications on a real queue service (Azurite): what a consumer reads.

The send activities are called the way the host calls them, with the app's default notifier
(``NOTIFIER=queue``) built from ``AzureWebJobsStorage``; the test then reads the consumer's
queue with a plain SDK client, as a CRM, a warehouse system or a device gateway would.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueServiceClient

from devtools.azurite import Azurite
from workflows.ack_links import load_ack_keys, verify_token
from workflows.consumers import create_notifier, notification_id_for
from workflows.queue_notifier import (
    NotificationError,
    QueueNotifier,
    create_queue_service,
    queue_endpoint_from_connection,
)
from workflows.settings import SettingsError, load_settings

from .conftest import TEST_ACK_BASE_URL
from .test_blob_workflow import activity

DIGEST = "ab" * 32


@pytest.fixture
def queues(azurite: Azurite, storage_env: dict[str, str]) -> QueueServiceClient:
    """A plain SDK client on the emulator's queue service (and the app settings pointing at it)."""
    return QueueServiceClient.from_connection_string(azurite.connection_string)


def send_request(
    child: str, consumer: str, deadline: datetime, **subject: object
) -> dict[str, Any]:
    return {
        "parentInstanceId": child.split(":", 1)[0],
        "instanceId": child,
        "consumer": consumer,
        "packageUrl": f"http://127.0.0.1:1/devstoreaccount1/p/{child}.json?sv=1&sig=SECRET",
        "sha256": DIGEST,
        "eventName": "DownloadCompletedAck",
        "ackDeadline": deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "ackBaseUrl": None,
        "subject": subject,
    }


def empty(queues: QueueServiceClient, name: str) -> None:
    """Remove what other tests of the session left on the queue (it may not exist yet)."""
    with contextlib.suppress(ResourceNotFoundError):
        queues.get_queue_client(name).clear_messages()


def drain(queues: QueueServiceClient, name: str) -> list[Any]:
    client = queues.get_queue_client(name)
    found = list(client.receive_messages(max_messages=32, visibility_timeout=60))
    for message in found:
        client.delete_message(message)
    return found


@pytest.mark.parametrize(
    ("activity_name", "consumer", "queue", "subject"),
    [
        ("send_package_to_device", "device", "device-notifications", {"deviceId": "dev-1"}),
        ("send_export_to_crm", "crm", "crm-notifications", {"customerId": "cust-1"}),
        ("send_snapshot_to_warehouse", "warehouse", "warehouse-notifications", {"skuCount": 2}),
    ],
)
def test_one_json_message_per_hand_over_on_the_consumers_queue(
    queues: QueueServiceClient,
    activity_name: str,
    consumer: str,
    queue: str,
    subject: dict[str, object],
) -> None:
    child = f"run-q:{consumer}"
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    empty(queues, queue)
    receipt = activity(activity_name)(send_request(child, consumer, deadline, **subject))

    [message] = drain(queues, queue)  # the queue is created on first use
    body = json.loads(message.content)  # plain JSON text, no base64
    assert body == {
        "schema": "package-ready/v1",
        "notificationId": notification_id_for(child, DIGEST),
        "consumer": consumer,
        "instanceId": child,
        "parentInstanceId": "run-q",
        **subject,
        "packageUrl": f"http://127.0.0.1:1/devstoreaccount1/p/{child}.json?sv=1&sig=SECRET",
        "sha256": DIGEST,
        "eventName": "DownloadCompletedAck",
        "ackUrl": receipt["ackUrl"],
        "ackDeadline": deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert receipt["channel"] == f"queue:{queue}"
    assert receipt["messageId"] == message.id
    # The ack link in the message is signed for this child and deadline.
    token = body["ackUrl"].removeprefix(f"{TEST_ACK_BASE_URL}/acks/")
    claim = verify_token(load_ack_keys(), token, "DownloadCompletedAck")
    assert (claim.instance_id, claim.deadline) == (child, deadline)
    # The message lives until the deadline (the link answers 410 after it anyway).
    assert message.expires_on is not None
    assert abs((message.expires_on - deadline).total_seconds()) <= 5


def test_a_retried_send_repeats_the_same_message_for_consumers_to_deduplicate(
    queues: QueueServiceClient,
) -> None:
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    request = send_request("run-r:device:dev-9", "device", deadline, deviceId="dev-9")
    first = activity("send_package_to_device")(request)
    second = activity("send_package_to_device")(request)  # the activity retried after sending
    messages = drain(queues, "device-notifications")
    assert len(messages) == 2
    assert messages[0].content == messages[1].content
    assert first["notificationId"] == second["notificationId"]
    assert first["messageId"] != second["messageId"]


def test_an_unreachable_queue_service_is_a_one_line_error(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = azurite.connection_string.replace(
        azurite.queue_endpoint, "http://127.0.0.1:9/devstoreaccount1"
    )
    monkeypatch.setenv("AzureWebJobsStorage", text)
    assert isinstance(create_notifier(), QueueNotifier)
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(NotificationError) as caught:
        activity("send_package_to_device")(send_request("run-u:device:d", "device", deadline))
    message = str(caught.value)
    assert message.startswith("queue storage unreachable at http://127.0.0.1:9/devstoreaccount1")
    assert "\n" not in message and "AccountKey" not in message


# ---- connection settings (no service needed) --------------------------------------------------


def test_development_storage_means_azurite_queue_port() -> None:
    endpoint, account, _ = queue_endpoint_from_connection("UseDevelopmentStorage=true", "S")
    assert (endpoint, account) == ("http://127.0.0.1:10001/devstoreaccount1", "devstoreaccount1")


def test_an_account_connection_string_gets_the_account_queue_endpoint() -> None:
    endpoint, account, key = queue_endpoint_from_connection(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
        "EndpointSuffix=core.windows.net",
        "S",
    )
    assert (endpoint, account, key) == ("https://acct.queue.core.windows.net", "acct", "a2V5")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AccountName=a;AccountKey=k;BlobEndpoint=http://x:1/a", "no QueueEndpoint"),
        ("AccountName=a;QueueEndpoint=http://x:2/a", "no AccountName/AccountKey"),
        ("not a connection string", "is not a storage connection string"),
    ],
)
def test_unusable_connection_strings_name_the_setting(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        queue_endpoint_from_connection(text, "MY_CONN")
    assert caught.value.name == "MY_CONN"


def test_no_connection_at_all_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="AzureWebJobsStorage: is not set"):
        create_queue_service(load_settings({}), {})


def test_the_identity_form_of_the_connection_selects_a_managed_identity() -> None:
    env = {"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"}
    service = create_queue_service(load_settings(env), env)
    assert service.url.startswith("https://acct.queue.core.windows.net")
    assert service.credential is not None and not isinstance(service.credential, dict)


def test_notifier_setting_selects_log_or_queue() -> None:
    assert type(create_notifier({"NOTIFIER": "log"})).__name__ == "LogNotifier"
    with pytest.raises(SettingsError, match="NOTIFIER: expected one of queue, log"):
        create_notifier({"NOTIFIER": "carrier-pigeon"})
