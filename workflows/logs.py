"""Log hygiene: URLs without their secrets, and the SDKs' noise turned down.

* ``redact_url`` is how the app logs any URL: no query string (a SAS is a bearer credential,
  ``sig=`` and all) and no ack token (``/api/acks/<token>`` becomes ``/api/acks/…``).
* ``quiet_sdk_logs`` (called once by ``function_app.py``) sets the azure-core HTTP logging
  policy to ``AZURE_SDK_HTTP_LOG_LEVEL`` (``WARNING`` by default: without it every blob and
  queue request and response is a multi-line INFO block) and drops the one-time advisory the
  ``azure-functions`` serializer prints in every new worker process because the Durable SDK
  1.7 calls ``df_loads`` without ``expected_type`` (the SDK's code, not ours: nothing to act
  on; see docs/app-device-facing.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from workflows.ack_links import is_ack_url

HTTP_LOGGING_POLICY = "azure.core.pipeline.policies.http_logging_policy"
DURABLE_SERIALIZER_LOGGER = "azure.functions.DurableFunctions"
#: The advisories of ``azure.functions._durable_functions`` (each printed once per process).
_ADVISORY_PREFIXES = (
    "azure.functions df_loads was called without expected_type",
    "azure.functions Durable JSON codec reconstructed a custom object",
)


def redact_url(url: str) -> str:
    """``url`` as it may be logged: without query or fragment, an ack token replaced by ``…``."""
    parts = urlsplit(url)
    path = parts.path
    if is_ack_url(url):
        path = path.rstrip("/").rsplit("/", 1)[0] + "/…"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _DropAdvisories(logging.Filter):
    """Drops the serializer's one-time advisories; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage() if record.args else str(record.msg)
        return not message.startswith(_ADVISORY_PREFIXES)


_FILTER = _DropAdvisories()


def quiet_sdk_logs(env: Mapping[str, str] | None = None) -> None:
    """Apply the log levels above (idempotent; safe to call from every process)."""
    source = os.environ if env is None else env
    level_name = source.get("AZURE_SDK_HTTP_LOG_LEVEL", "").strip().upper() or "WARNING"
    level = logging.getLevelName(level_name)
    # An unknown name is reported where settings are validated (load_settings); here the
    # default applies rather than stopping the app from indexing.
    logging.getLogger(HTTP_LOGGING_POLICY).setLevel(level if isinstance(level, int) else 30)
    serializer = logging.getLogger(DURABLE_SERIALIZER_LOGGER)
    if _FILTER not in serializer.filters:
        serializer.addFilter(_FILTER)
