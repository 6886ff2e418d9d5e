"""The errors a test author meets, each saying what went wrong and what to do about it."""

from __future__ import annotations


class DurableTestError(Exception):
    """Base class of every error ``durable_local.testing`` raises on purpose."""


class AppLoadError(DurableTestError):
    """The function app could not be loaded; the message holds the reason (and the import
    traceback when importing ``function_app.py`` raised)."""


class UnknownInstanceError(DurableTestError, LookupError):
    """No orchestration instance has this id (it was never started, or it was purged)."""

    def __init__(self, instance_id: str, detail: str = "") -> None:
        self.instance_id = instance_id
        super().__init__(
            f"No orchestration instance '{instance_id}' exists in this test host"
            + (f" {detail}" if detail else "")
            + ". Was it started (check the id the client returned) or purged?"
        )


class UnexpectedStatusError(DurableTestError):
    """``wait_for_status`` saw the instance finish in a status it was not waiting for."""

    def __init__(self, instance_id: str, status: str, wanted: list[str], output: object) -> None:
        self.instance_id = instance_id
        self.status = status
        self.output = output
        super().__init__(
            f"Instance '{instance_id}' finished as {status}, not {' or '.join(wanted)}; "
            f"its output: {output!r}"
        )


class TimeSkippingError(DurableTestError):
    """Time cannot be moved: the host runs on the system clock (``clock="system"``)."""


class NotAnActivityError(DurableTestError, LookupError):
    """``mock_activity`` was given a name the app does not register as an activity."""


class WaitTimeoutError(DurableTestError, TimeoutError):
    """A wait did not end within its timeout (real seconds, not test-clock time)."""
