"""Typed errors raised by the runtime API; each carries the HTTP status the host answers with.

The HTTP layer maps them in one middleware to the ASP.NET ``HttpError`` JSON shape the Durable
extension produces (spec §6), so ``exception_type`` names the .NET exception the real host raises.
"""

from __future__ import annotations

from durable_local.model.messages import instance_already_exists


class DurableError(Exception):
    """Base of every error a runtime API call raises for a caller mistake or a state conflict."""

    http_status = 500
    exception_type = "System.InvalidOperationException"
    message = "Something went wrong while processing your request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(DurableError):
    """The request is malformed: invalid instance id, unknown function, bad filter (400)."""

    http_status = 400
    exception_type = "System.ArgumentException"
    message = "One or more of the arguments submitted is incorrect"


class InstanceNotFound(DurableError):
    """No instance with that id exists in the task hub (404)."""

    http_status = 404
    exception_type = "System.ArgumentException"

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"No instance with ID '{instance_id}' found.")
        self.instance_id = instance_id


class InstanceGone(DurableError):
    """The instance exists but is in a terminal state, so the operation no longer applies (410)."""

    http_status = 410

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(
            f"Instance with ID '{instance_id}' is gone: it is {status}, "
            "so it no longer accepts this operation."
        )
        self.instance_id = instance_id
        self.status = status


class InstanceAlreadyExists(DurableError):
    """Starting an id whose instance is Pending/Running/Suspended (§7.2: the host answers 500)."""

    http_status = 500
    exception_type = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(instance_already_exists(status))
        self.instance_id = instance_id
        self.status = status


class InvalidOperation(DurableError):
    """The operation does not fit the instance's state, e.g. resuming a running one (500)."""

    http_status = 500
    exception_type = "System.InvalidOperationException"


class PayloadTooLarge(DurableError):
    """A request body over the configured limit (413)."""

    http_status = 413
    exception_type = "System.ArgumentException"
    message = "The request body is too large"


class StoreUnavailable(DurableError):
    """The store cannot take work (deleted, full, unwritable): every request is refused (503)."""

    http_status = 503
    exception_type = "System.InvalidOperationException"
    message = "durable-local refuses work: its store cannot take it"
