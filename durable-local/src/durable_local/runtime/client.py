"""``DurableRuntime``: the in-process API (api.RuntimeAPI) over a store, a clock and a dispatcher.

Client operations validate against the instance's current state with the extension's status
codes (spec §6, §7) and queue a message; the dispatcher applies it in the instance's next
episode, exactly as the extension's control-queue messages are applied.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from durable_local.engine import events as ev
from durable_local.engine.orchestration.render import (
    parse_stored_json,
    render_history,
    status_of,
)
from durable_local.engine.orchestration.rewind import rewind_history
from durable_local.functions.registry import FunctionRegistry, HttpFunction
from durable_local.model import (
    EventType,
    InstanceRecord,
    QueryFilter,
    RuntimeStatus,
    compact,
    instance_id_problem,
)
from durable_local.model.errors import (
    BadRequest,
    InstanceAlreadyExists,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
)
from durable_local.model.messages import function_missing
from durable_local.model.versions import Versioning
from durable_local.runtime.activities import DEFAULT_CRASH_LIMIT
from durable_local.runtime.api import StatusObject
from durable_local.runtime.clock import Clock
from durable_local.runtime.dispatcher import Dispatcher
from durable_local.store.base import InstanceExistsError, Store
from durable_local.store.continuation import decode_continuation, encode_continuation
from durable_local.worker.http_call import HttpRequestData, HttpResult
from durable_local.worker.protocol import LanguageWorker


class DurableRuntime:
    """Implements ``durable_local.api.RuntimeAPI``."""

    def __init__(
        self,
        registry: FunctionRegistry,
        store: Store,
        clock: Clock,
        *,
        hub_name: str = "TestHubName",
        max_concurrent_activities: int = 10,
        max_concurrent_orchestrations: int = 10,
        app_dir: str = ".",
        worker: LanguageWorker | None = None,
        activity_window: int | None = None,
        versioning: Versioning | None = None,
        crash_limit: int = DEFAULT_CRASH_LIMIT,
    ) -> None:
        self.registry = registry
        self.versioning = versioning or Versioning()
        self.store = store
        self.clock = clock
        self.hub_name = hub_name
        self.dispatcher = Dispatcher(
            registry,
            store,
            clock,
            max_concurrent_activities=max_concurrent_activities,
            max_concurrent_orchestrations=max_concurrent_orchestrations,
            app_dir=app_dir,
            worker=worker,
            activity_window=activity_window,
            versioning=self.versioning,
            crash_limit=crash_limit,
        )

    async def start(self) -> None:
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()

    async def __aenter__(self) -> DurableRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def problem(self) -> str | None:
        return self.store.problem()

    async def call_http(
        self,
        function: HttpFunction,
        request: HttpRequestData,
        *,
        client_binding: str | None,
        invocation_id: str,
    ) -> HttpResult:
        return await self.dispatcher.worker.call_http(
            function, request, client_binding=client_binding, invocation_id=invocation_id
        )

    # -- helpers -------------------------------------------------------------------------------
    def _existing(self, instance_id: str) -> InstanceRecord:
        record = self.store.get_instance(instance_id)
        if record is None:
            raise InstanceNotFound(instance_id)
        return record

    def _active(self, instance_id: str) -> InstanceRecord:
        record = self._existing(instance_id)
        if record.status.is_terminal:
            raise InstanceGone(instance_id, record.status.value)
        return record

    def _send(self, instance_id: str, event: ev.Event) -> None:
        self.store.enqueue(instance_id, event)
        self.dispatcher.wake()

    # -- starting ------------------------------------------------------------------------------
    async def start_new(
        self,
        name: str,
        input: Any = None,
        instance_id: str | None = None,
        version: str | None = None,
    ) -> str:
        function = self.registry.orchestrator(name) if name else None
        if function is None:
            known = ", ".join(f"'{o.name}'" for o in self.registry.orchestrators.values())
            raise BadRequest(
                function_missing(
                    name, "orchestrator", f"the known orchestrator functions are: {known}."
                )
            )
        if not instance_id:
            instance_id = uuid.uuid4().hex
        problem = instance_id_problem(instance_id)
        if problem:
            raise BadRequest(f"instanceId (Parameter '{problem}')")
        now = self.clock.now()
        execution_id = uuid.uuid4().hex
        input_json = None if input is None else compact(input)
        record = InstanceRecord(
            instance_id=instance_id,
            name=function.name,
            execution_id=execution_id,
            status=RuntimeStatus.PENDING,
            input_json=input_json,
            created=now,
            updated=now,
        )
        start = ev.new_execution_started(
            now,
            instance_id=instance_id,
            execution_id=execution_id,
            name=function.name,
            input_json=input_json,
            version=self.versioning.default_version if version is None else version,
        )
        try:
            self.store.create_instance(record, start)
        except InstanceExistsError as exc:
            raise InstanceAlreadyExists(instance_id, exc.status.value) from None
        self.dispatcher.wake()
        return instance_id

    async def restart(self, instance_id: str, restart_with_new_instance_id: bool = True) -> str:
        record = self.store.get_instance(instance_id)
        if record is None:
            raise BadRequest("InstanceId does not match a valid orchestration instance.")
        new_id = uuid.uuid4().hex if restart_with_new_instance_id else instance_id
        # The restarted instance keeps its version (the extension restarts with the same one).
        history = [json.loads(text) for text in self.store.load_history(instance_id)[:2]]
        version = ev.execution_version(history)
        return await self.start_new(
            record.name, parse_stored_json(record.input_json), new_id, version=version
        )

    # -- messages to instances -----------------------------------------------------------------
    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        if not event_name:
            raise BadRequest("The event name must not be empty.")
        self._active(instance_id)
        now = self.clock.now()
        self.store.enqueue(instance_id, ev.new_event_raised(now, event_name, compact(data)))
        self.dispatcher.event_raised(instance_id)

    async def terminate(self, instance_id: str, reason: str | None = None) -> None:
        self._active(instance_id)
        self._send(instance_id, ev.new_execution_terminated(self.clock.now(), reason))
        self.dispatcher.abandon(instance_id)  # a stuck episode never blocks a terminate

    async def suspend(self, instance_id: str, reason: str | None = None) -> None:
        record = self._active(instance_id)
        if record.status == RuntimeStatus.SUSPENDED:
            raise InvalidOperation(f"The instance '{instance_id}' is already suspended.")
        self._send(instance_id, ev.new_execution_suspended(self.clock.now(), reason))

    async def resume(self, instance_id: str, reason: str | None = None) -> None:
        record = self._active(instance_id)
        if record.status != RuntimeStatus.SUSPENDED and not self._suspension_pending(instance_id):
            raise InvalidOperation(
                f"The instance '{instance_id}' is {record.status.value}, not Suspended: "
                "only a suspended instance can be resumed."
            )
        self._send(instance_id, ev.new_execution_resumed(self.clock.now(), reason))

    def _suspension_pending(self, instance_id: str) -> bool:
        # A suspend accepted a moment ago is applied by the next episode; resuming it is valid.
        return EventType.EXECUTION_SUSPENDED in self.store.pending_event_types(instance_id)

    async def rewind(self, instance_id: str, reason: str | None = None) -> None:
        record = self._existing(instance_id)
        if record.status != RuntimeStatus.FAILED:
            if record.status.is_terminal:
                raise InstanceGone(instance_id, record.status.value)
            raise InvalidOperation(
                "The rewind operation is only supported on failed orchestration instances."
            )
        self._rewind(record, reason)
        self.dispatcher.wake()

    def _rewind(self, record: InstanceRecord, reason: str | None) -> None:
        events = [json.loads(text) for text in self.store.load_history(record.instance_id)]
        rewritten, children = rewind_history(events, self._is_failed)
        now = self.clock.now()
        self.store.rewind_instance(
            record.instance_id, rewritten, ev.new_execution_rewound(now, reason), now
        )
        for child_id in children:
            child = self.store.get_instance(child_id)
            if child is not None:
                self._rewind(child, reason)

    def _is_failed(self, instance_id: str) -> bool:
        record = self.store.get_instance(instance_id)
        return record is not None and record.status == RuntimeStatus.FAILED

    # -- reading and purging -------------------------------------------------------------------
    async def get_status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> StatusObject:
        record = self._existing(instance_id)
        history = None
        if show_history and record.status != RuntimeStatus.PENDING:
            events = [json.loads(text) for text in self.store.load_history(instance_id)]
            history = render_history(events, show_output=show_history_output, show_input=show_input)
        return self._status(record, show_input, history)

    @staticmethod
    def _status(
        record: InstanceRecord, show_input: bool, history: list[dict[str, Any]] | None = None
    ) -> StatusObject:
        return status_of(record, show_input, history)

    async def query(
        self,
        query: QueryFilter,
        page_size: int = 100,
        continuation: str | None = None,
        show_input: bool = True,
    ) -> tuple[list[StatusObject], str | None]:
        if page_size < 1:
            raise BadRequest(f"The page size must be at least 1, not {page_size}.")
        after = None
        if continuation:
            try:
                after = decode_continuation(continuation)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        records = self.store.query(query, page_size + 1, after)
        token = None
        if len(records) > page_size:
            records = records[:page_size]
            token = encode_continuation(records[-1].created, records[-1].instance_id)
        return [self._status(r, show_input) for r in records], token

    async def purge(self, instance_id: str) -> int:
        if not self.store.purge(instance_id):
            raise InstanceNotFound(instance_id)
        self.dispatcher.forget({instance_id})
        return 1

    async def purge_by(self, query: QueryFilter) -> int:
        purged = self.store.purge_by(query)
        if purged:
            self.dispatcher.forget()
        return purged

    # -- tests ---------------------------------------------------------------------------------
    def idle_now(self) -> bool:
        """No episode or activity runs, and none is ready to run (pending timers, and instances
        left waiting for a worker of their version, do not count)."""
        return not self.dispatcher.busy and not self.store.has_ready_work(
            self.clock.now(), self.dispatcher.rejected
        )

    async def wait_idle(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while True:
            if self.idle_now():
                quiet += 1
                if quiet >= 2:  # twice in a row: nothing was about to be claimed either
                    return
            else:
                quiet = 0
            if loop.time() >= deadline:
                raise TimeoutError(f"the runtime did not become idle within {timeout} s")
            self.dispatcher.wake()
            await asyncio.sleep(0.005)

    async def wait_for_status(
        self, instance_id: str, *statuses: RuntimeStatus, timeout: float = 30.0
    ) -> StatusObject:
        """Poll until the instance reaches one of ``statuses`` (default: any terminal one)."""
        wanted = {s.value for s in statuses} or {s.value for s in RuntimeStatus if s.is_terminal}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            record = self.store.get_instance(instance_id)
            if record is not None and record.status.value in wanted:
                return self._status(record, True)
            if loop.time() >= deadline:
                current = record.status.value if record else "missing"
                raise TimeoutError(f"instance '{instance_id}' is {current} after {timeout} s")
            await asyncio.sleep(0.005)
