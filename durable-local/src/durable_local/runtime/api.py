"""The in-process runtime API: everything the HTTP layer (and tests) may ask of the runtime.

``DurableRuntime`` (runtime.py) implements it. Every method raises a ``DurableError`` subclass
(errors.py) for caller mistakes, so the HTTP layer maps failures to status codes in one place.
Payload values (``input``, ``data``) are already-parsed JSON values; the runtime stores their
compact JSON text exactly as the extension stores the request body it received (spec §4.3).
"""

from __future__ import annotations

from typing import Any, Protocol

from durable_local.functions.registry import HttpFunction
from durable_local.model import QueryFilter
from durable_local.worker.http_call import HttpRequestData, HttpResult

StatusObject = dict[str, Any]
"""A status object as the extension renders it (spec §6): name, instanceId, runtimeStatus, input,
customStatus, output, createdTime, lastUpdatedTime and, when asked for, historyEvents."""


class RuntimeAPI(Protocol):
    """Everything the HTTP layer (and tests) may ask of the runtime (``client.DurableRuntime``)."""

    hub_name: str

    def problem(self) -> str | None:
        """Why the runtime refuses work now (its store is gone, full or unwritable), or None."""
        ...

    async def call_http(
        self,
        function: HttpFunction,
        request: HttpRequestData,
        *,
        client_binding: str | None,
        invocation_id: str,
    ) -> HttpResult:
        """Run an HTTP function where user code runs (the worker process, as in Azure).

        Raises HttpFunctionError when the user code fails, WorkerError when the worker dies.
        """
        ...

    async def start_new(
        self,
        name: str,
        input: Any = None,
        instance_id: str | None = None,
        version: str | None = None,
    ) -> str:
        """Create an instance (Pending) and return its id; a new 32-hex id when none is given;
        ``version`` (None: host.json ``defaultVersion``) is what ``context.version`` reads.

        Raises BadRequest (unknown orchestrator, invalid id, §7.1) or InstanceAlreadyExists (§7.2).
        """
        ...

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Append EventRaised to the instance. InstanceNotFound / InstanceGone (terminal)."""
        ...

    async def terminate(self, instance_id: str, reason: str | None = None) -> None:
        """Terminate (output = reason). InstanceNotFound / InstanceGone."""
        ...

    async def suspend(self, instance_id: str, reason: str | None = None) -> None:
        """InstanceNotFound / InstanceGone / InvalidOperation (already suspended)."""
        ...

    async def resume(self, instance_id: str, reason: str | None = None) -> None:
        """InstanceNotFound / InstanceGone / InvalidOperation (not suspended)."""
        ...

    async def rewind(self, instance_id: str, reason: str | None = None) -> None:
        """Rewind a Failed instance. InstanceNotFound / InstanceGone / InvalidOperation."""
        ...

    async def restart(self, instance_id: str, restart_with_new_instance_id: bool = True) -> str:
        """Start the instance's orchestrator again with its original input; returns the id used.

        Raises BadRequest for an unknown id (the extension answers 400 there, spec §9.18).
        """
        ...

    async def purge(self, instance_id: str) -> int:
        """Delete an instance and its history; returns 1. InstanceNotFound when missing."""
        ...

    async def purge_by(self, query: QueryFilter) -> int:
        """Delete the instances matching the filter; returns how many (0 when none)."""
        ...

    async def get_status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> StatusObject:
        """The status object of spec §6. InstanceNotFound when missing."""
        ...

    async def query(
        self,
        query: QueryFilter,
        page_size: int = 100,
        continuation: str | None = None,
        show_input: bool = True,
    ) -> tuple[list[StatusObject], str | None]:
        """One page of status objects ordered by creation, and the token of the next page.

        Raises BadRequest for a page size below 1 or a malformed continuation token.
        """
        ...

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no episode, activity or due timer is pending (timers in the future do not
        count). Raises TimeoutError when that does not happen within ``timeout`` seconds."""
        ...


class FunctionRunner(Protocol):
    """Runs a non-HTTP function by hand (``POST /admin/functions/{name}``)."""

    async def run_now(self, function_name: str) -> bool:
        """Run it once, now; False when there is no such function to run."""
        ...
