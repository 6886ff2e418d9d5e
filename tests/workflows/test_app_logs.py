"""Log hygiene: the SDK log levels the app sets, and the advisory it drops."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from workflows.logs import DURABLE_SERIALIZER_LOGGER, HTTP_LOGGING_POLICY, quiet_sdk_logs


@pytest.fixture(autouse=True)
def restore_loggers() -> Iterator[None]:
    policy = logging.getLogger(HTTP_LOGGING_POLICY)
    serializer = logging.getLogger(DURABLE_SERIALIZER_LOGGER)
    level, filters = policy.level, list(serializer.filters)
    yield
    policy.setLevel(level)
    serializer.filters[:] = filters


def test_azure_core_http_logging_is_at_warning_unless_a_setting_asks_for_more() -> None:
    policy = logging.getLogger(HTTP_LOGGING_POLICY)
    quiet_sdk_logs({})
    assert policy.getEffectiveLevel() == logging.WARNING
    quiet_sdk_logs({"AZURE_SDK_HTTP_LOG_LEVEL": "info"})
    assert policy.getEffectiveLevel() == logging.INFO
    quiet_sdk_logs({"AZURE_SDK_HTTP_LOG_LEVEL": "nonsense"})  # reported by load_settings
    assert policy.getEffectiveLevel() == logging.WARNING


def test_the_serializer_advisory_is_dropped_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_sdk_logs({})
    quiet_sdk_logs({})  # idempotent: one filter
    serializer = logging.getLogger(DURABLE_SERIALIZER_LOGGER)
    assert len(serializer.filters) == 1
    with caplog.at_level(logging.INFO, logger=DURABLE_SERIALIZER_LOGGER):
        serializer.info(
            "azure.functions df_loads was called without expected_type.  Pass the destination"
        )
        serializer.warning("something the serializer really wants to say")
    assert [r.getMessage() for r in caplog.records] == [
        "something the serializer really wants to say"
    ]
