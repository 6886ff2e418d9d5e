"""User code in threads of the host process (embedded runtimes, tests, ``--in-process``)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from durable_local.functions.registry import FunctionRegistry, HttpFunction, OrchestratorFunction
from durable_local.worker.http_call import HttpRequestData, HttpResult, invoke_http
from durable_local.worker.invoke import ActivityCall, OrchestratorResult, invoke_orchestrator
from durable_local.worker.protocol import CrashCallback, ResultsCallback
from durable_local.worker.threads import ActivityRunner, Mailbox


class InProcessWorker:
    """User code in threads of the host process (embedded runtimes, tests, ``--in-process``)."""

    shares_host_process = True

    def __init__(
        self,
        registry: FunctionRegistry,
        *,
        max_activities: int = 10,
        max_orchestrations: int = 10,
        app_dir: str = ".",
    ) -> None:
        self.registry = registry
        self.max_activities = max_activities
        self.max_orchestrations = max_orchestrations
        self.app_dir = app_dir
        self._pool: ThreadPoolExecutor | None = None
        self._runner: ActivityRunner | None = None

    async def start(
        self, on_results: ResultsCallback, on_crash: CrashCallback | None = None
    ) -> None:
        # on_crash: never called, user code that kills this process kills the host with it.
        loop = asyncio.get_running_loop()
        self._pool = ThreadPoolExecutor(self.max_orchestrations, thread_name_prefix="orchestrator")
        mailbox = Mailbox(loop, on_results)
        self._runner = ActivityRunner(
            self.registry, self.max_activities, mailbox.put, app_dir=self.app_dir, loop=loop
        )

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def call_orchestrator(
        self, function: OrchestratorFunction, context_json: str
    ) -> OrchestratorResult:
        assert self._pool is not None, "the worker is not started"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, invoke_orchestrator, function, context_json)

    def submit_activities(self, calls: Sequence[ActivityCall]) -> None:
        assert self._runner is not None, "the worker is not started"
        self._runner.submit(calls)

    async def call_http(
        self,
        function: HttpFunction,
        request: HttpRequestData,
        *,
        client_binding: str | None,
        invocation_id: str,
    ) -> HttpResult:
        # On the host's loop (async functions) or a thread of it (sync ones).
        return await invoke_http(
            function,
            request,
            client_binding=client_binding,
            function_directory=self.app_dir,
            invocation_id=invocation_id,
        )

    def cancel_activities(self, keys: Collection[int]) -> None:
        if self._runner is not None:
            self._runner.cancel(keys)
