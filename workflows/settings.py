"""App settings the function app reads, with their defaults and validation.

Every value comes from an environment variable (an app setting in Azure, the ``Values`` of
``local.settings.json`` under ``func start``). ``load_settings`` is cheap and reads the
environment on every call: app settings only change when the host restarts the worker, so an
orchestrator that reads them during replay sees the same values it saw when it first ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import azure.functions as func

#: Identifier grammar shared by device ids, customer ids, SKUs and client-chosen instance ids.
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

ACK_TIMEOUT_MIN_SECONDS = 1
#: Seven days: long enough for a device that is offline over a weekend, short enough that a
#: forgotten instance does not wait forever.
ACK_TIMEOUT_MAX_SECONDS = 604_800

# Setting names (documented in README.md and local.settings.json.example).
ACK_TIMEOUT_SECONDS = "ACK_TIMEOUT_SECONDS"
ACTIVITY_RETRY_MAX_ATTEMPTS = "ACTIVITY_RETRY_MAX_ATTEMPTS"
ACTIVITY_RETRY_FIRST_INTERVAL_MS = "ACTIVITY_RETRY_FIRST_INTERVAL_MS"
MAX_DEVICES_PER_RUN = "MAX_DEVICES_PER_RUN"
PENDING_DEVICE_IDS = "PENDING_DEVICE_IDS"
HTTP_AUTH_LEVEL = "HTTP_AUTH_LEVEL"
PACKAGE_BASE_URL = "PACKAGE_BASE_URL"
PACKAGE_STORE = "PACKAGE_STORE"
PACKAGE_STORAGE_CONNECTION = "PACKAGE_STORAGE_CONNECTION"
PACKAGE_STORAGE_ACCOUNT_URL = "PACKAGE_STORAGE_ACCOUNT_URL"
PACKAGE_STORAGE_CLIENT_ID = "PACKAGE_STORAGE_CLIENT_ID"
PACKAGE_SAS_GRACE_SECONDS = "PACKAGE_SAS_GRACE_SECONDS"
NOTIFIER = "NOTIFIER"
NOTIFICATION_STORAGE_CONNECTION = "NOTIFICATION_STORAGE_CONNECTION"
NOTIFICATION_QUEUE_ACCOUNT_URL = "NOTIFICATION_QUEUE_ACCOUNT_URL"
ACK_BASE_URL = "ACK_BASE_URL"
AZURE_SDK_HTTP_LOG_LEVEL = "AZURE_SDK_HTTP_LOG_LEVEL"
#: The ack-link signing keys are secrets: read by ``workflows.ack_links``, never kept here.
ACK_SIGNING_KEY = "ACK_SIGNING_KEY"
ACK_SIGNING_KEY_PREVIOUS = "ACK_SIGNING_KEY_PREVIOUS"

#: Package store implementations ``PACKAGE_STORE`` may name.
PACKAGE_STORE_KINDS = ("blob", "memory")
#: Consumer notifiers ``NOTIFIER`` may name.
NOTIFIER_KINDS = ("queue", "log")
#: Levels ``AZURE_SDK_HTTP_LOG_LEVEL`` may name.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

DEFAULTS: dict[str, str] = {
    ACK_TIMEOUT_SECONDS: "900",
    ACTIVITY_RETRY_MAX_ATTEMPTS: "3",
    ACTIVITY_RETRY_FIRST_INTERVAL_MS: "5000",
    MAX_DEVICES_PER_RUN: "500",
    PENDING_DEVICE_IDS: "",
    HTTP_AUTH_LEVEL: "FUNCTION",
    PACKAGE_BASE_URL: "memory://packages",
    PACKAGE_STORE: "blob",
    PACKAGE_STORAGE_CONNECTION: "AzureWebJobsStorage",
    PACKAGE_STORAGE_ACCOUNT_URL: "",
    PACKAGE_STORAGE_CLIENT_ID: "",
    PACKAGE_SAS_GRACE_SECONDS: "300",
    NOTIFIER: "queue",
    NOTIFICATION_STORAGE_CONNECTION: "",
    NOTIFICATION_QUEUE_ACCOUNT_URL: "",
    ACK_BASE_URL: "",
    AZURE_SDK_HTTP_LOG_LEVEL: "WARNING",
}


class SettingsError(ValueError):
    """An app setting holds a value the app cannot use."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"app setting {name}: {message}")
        self.name = name


@dataclass(frozen=True)
class AppSettings:
    """Typed view of the app settings."""

    ack_timeout_seconds: int
    activity_retry_max_attempts: int
    activity_retry_first_interval_ms: int
    max_devices_per_run: int
    pending_device_ids: tuple[str, ...]
    http_auth_level: func.AuthLevel
    package_base_url: str
    #: ``blob`` (Azure Blob Storage, SAS URLs) or ``memory`` (worker memory, tests).
    package_store: str = "blob"
    #: Name of the app setting that holds the storage connection string.
    package_storage_connection: str = "AzureWebJobsStorage"
    #: Blob endpoint for managed-identity access (user-delegation SAS); empty: connection string.
    package_storage_account_url: str = ""
    #: Client id of a user-assigned managed identity (empty: system-assigned / developer login).
    package_storage_client_id: str = ""
    #: Extra validity of a SAS URL beyond the ack window (the deadline starts after the build).
    package_sas_grace_seconds: int = 300
    #: ``queue`` (Azure Queue Storage, one queue per consumer) or ``log`` (a log line; tests).
    notifier: str = "queue"
    #: Name of the app setting with the queues' connection string (empty: the packages' one).
    notification_storage_connection: str = "AzureWebJobsStorage"
    #: Queue endpoint for managed-identity access; empty: connection string (or its identity form).
    notification_queue_account_url: str = ""
    #: Base of the ack links (``https://<app>/api``); empty: from WEBSITE_HOSTNAME or the request.
    ack_base_url: str = ""
    #: Level of the azure-core HTTP logging policy (every storage request and response).
    azure_sdk_http_log_level: str = "WARNING"


def _raw(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    # An empty setting means "not set": the portal and local.settings.json make it easy to
    # leave a key with an empty value, and that should not be an error.
    return value if value else DEFAULTS[name]


def _int_setting(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    text = _raw(env, name)
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(name, f"expected an integer, got {text!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")
    return value


def _device_ids_setting(env: Mapping[str, str]) -> tuple[str, ...]:
    text = env.get(PENDING_DEVICE_IDS, DEFAULTS[PENDING_DEVICE_IDS])
    ids: list[str] = []
    for part in text.replace(";", ",").split(","):
        device_id = part.strip()
        if not device_id:
            continue
        if not ID_PATTERN.fullmatch(device_id):
            raise SettingsError(
                PENDING_DEVICE_IDS, f"device id {device_id!r} is outside [A-Za-z0-9._-]{{1,64}}"
            )
        # Keep the first occurrence: a duplicate would collide on the child instance id.
        if device_id not in ids:
            ids.append(device_id)
    return tuple(ids)


def _auth_level_setting(env: Mapping[str, str]) -> func.AuthLevel:
    text = _raw(env, HTTP_AUTH_LEVEL).upper()
    try:
        return func.AuthLevel[text]
    except KeyError:
        allowed = ", ".join(level.name for level in func.AuthLevel)
        raise SettingsError(HTTP_AUTH_LEVEL, f"expected one of {allowed}, got {text!r}") from None


def _package_store_setting(env: Mapping[str, str]) -> str:
    kind = _raw(env, PACKAGE_STORE).lower()
    if kind not in PACKAGE_STORE_KINDS:
        allowed = ", ".join(PACKAGE_STORE_KINDS)
        raise SettingsError(PACKAGE_STORE, f"expected one of {allowed}, got {kind!r}")
    return kind


def _account_url_setting(env: Mapping[str, str]) -> str:
    url = env.get(PACKAGE_STORAGE_ACCOUNT_URL, "").strip().rstrip("/")
    if url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", url):
        raise SettingsError(
            PACKAGE_STORAGE_ACCOUNT_URL,
            f"expected a blob endpoint like https://<account>.blob.core.windows.net, got {url!r}",
        )
    return url


def _choice_setting(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _raw(env, name)
    folded = value.upper() if choices[0].isupper() else value.lower()
    if folded not in choices:
        raise SettingsError(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return folded


def _http_url_setting(env: Mapping[str, str], name: str, example: str) -> str:
    url = env.get(name, "").strip().rstrip("/")
    if url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", url):
        raise SettingsError(name, f"expected an http(s) URL like {example}, got {url!r}")
    return url


def load_settings(env: Mapping[str, str] | None = None) -> AppSettings:
    """Read and validate all app settings (``os.environ`` unless ``env`` is given)."""
    source = os.environ if env is None else env
    base_url = _raw(source, PACKAGE_BASE_URL).rstrip("/")
    return AppSettings(
        ack_timeout_seconds=_int_setting(
            source, ACK_TIMEOUT_SECONDS, ACK_TIMEOUT_MIN_SECONDS, ACK_TIMEOUT_MAX_SECONDS
        ),
        activity_retry_max_attempts=_int_setting(source, ACTIVITY_RETRY_MAX_ATTEMPTS, 1, 100),
        # The SDK's RetryOptions rejects 0 ms; one hour is far beyond any sensible first delay.
        activity_retry_first_interval_ms=_int_setting(
            source, ACTIVITY_RETRY_FIRST_INTERVAL_MS, 1, 3_600_000
        ),
        max_devices_per_run=_int_setting(source, MAX_DEVICES_PER_RUN, 1, 10_000),
        pending_device_ids=_device_ids_setting(source),
        http_auth_level=_auth_level_setting(source),
        package_base_url=base_url,
        package_store=_package_store_setting(source),
        package_storage_connection=_raw(source, PACKAGE_STORAGE_CONNECTION),
        package_storage_account_url=_account_url_setting(source),
        package_storage_client_id=source.get(PACKAGE_STORAGE_CLIENT_ID, "").strip(),
        package_sas_grace_seconds=_int_setting(source, PACKAGE_SAS_GRACE_SECONDS, 0, 86_400),
        notifier=_choice_setting(source, NOTIFIER, NOTIFIER_KINDS),
        notification_storage_connection=(
            source.get(NOTIFICATION_STORAGE_CONNECTION, "").strip()
            or _raw(source, PACKAGE_STORAGE_CONNECTION)
        ),
        notification_queue_account_url=_http_url_setting(
            source, NOTIFICATION_QUEUE_ACCOUNT_URL, "https://<account>.queue.core.windows.net"
        ),
        ack_base_url=_http_url_setting(source, ACK_BASE_URL, "https://<app>.azurewebsites.net/api"),
        azure_sdk_http_log_level=_choice_setting(source, AZURE_SDK_HTTP_LOG_LEVEL, LOG_LEVELS),
    )
