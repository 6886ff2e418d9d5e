"""Golden histories: scenarios on the golden app (tests/fixture_apps/golden_app.py), their
recording on the runtime, and their replay episode by episode through the SDK and the engine.

Recordings use fixed execution ids (``fixed_execution_id``: derived from the instance id),
tracebacks with paths relative to the checkout, and activities one at a time, so recording again
gives the same files. Regenerate after a deliberate change with
``UPDATE_GOLDEN=1 python -m pytest tests/durable_local/engine/orchestration/test_golden.py`` or
``python -m tests.helpers.golden``.
"""

from __future__ import annotations

import asyncio
import json
import site
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from durable_local.engine.events import played_text
from durable_local.engine.orchestration.decide import decide
from durable_local.engine.orchestration.payload import build_context_json, parse_sdk_output
from durable_local.engine.orchestration.plan import EpisodePlan, InstanceState
from durable_local.functions.registry import FunctionRegistry
from durable_local.model import EventType, RuntimeStatus, parse_time
from durable_local.runtime.client import DurableRuntime
from durable_local.runtime.clock import ManualClock
from durable_local.store.sqlite import SqliteStore
from durable_local.worker.invoke import invoke_orchestrator
from tests.fixture_apps import golden_app
from tests.helpers.paths import PROJECT_ROOT

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "durable_local/engine/orchestration/golden"
#: The namespace of the fixed execution ids (any constant UUID would do).
GOLDEN_NAMESPACE = uuid.UUID("6f1c2a52-6a0e-4c55-9a55-3c3b0c1de7a1")
REGISTRY = FunctionRegistry.from_app(golden_app.app)
DECISIONS = {
    EventType.TASK_SCHEDULED,
    EventType.TIMER_CREATED,
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
    EventType.EVENT_SENT,
    EventType.CONTINUE_AS_NEW,
    EventType.EXECUTION_COMPLETED,
    EventType.ORCHESTRATOR_COMPLETED,
}

Scenario = Callable[[DurableRuntime, ManualClock], Awaitable[str]]


async def _run_to_end(runtime: DurableRuntime, clock: ManualClock, step: float = 1.0) -> None:
    for _ in range(50):
        await runtime.wait_idle()
        if not runtime.store.next_visible_at(clock.now()):
            return
        clock.advance(step)


def _simple(name: str, value: Any = None, step: float = 1.0) -> Scenario:
    async def scenario(runtime: DurableRuntime, clock: ManualClock) -> str:
        instance_id = await runtime.start_new(name, value, f"golden-{name}")
        await _run_to_end(runtime, clock, step)
        return instance_id

    return scenario


async def _suspend_resume(runtime: DurableRuntime, clock: ManualClock) -> str:
    instance_id = await runtime.start_new("suspend_resume", None, "golden-suspend_resume")
    await runtime.wait_idle()
    await runtime.suspend(instance_id, "maintenance")
    await runtime.wait_idle()
    await runtime.raise_event(instance_id, "Approval", {"approved": True})
    await runtime.wait_idle()
    assert (await runtime.get_status(instance_id))["runtimeStatus"] == "Suspended"
    await runtime.resume(instance_id, "back")
    await runtime.wait_idle()
    return instance_id


async def _sub_failure(runtime: DurableRuntime, clock: ManualClock) -> str:
    instance_id = await runtime.start_new(
        "sub_orchestration_failure", None, "golden-sub_orchestration_failure"
    )
    await runtime.wait_idle()
    return instance_id


SCENARIOS: dict[str, tuple[Scenario, str, Any]] = {
    "chaining": (
        _simple("chaining"),
        "Completed",
        ["Hello Tokyo!", "Hello Seattle!", "Hello London!"],
    ),
    "fan_out_fan_in": (_simple("fan_out_fan_in"), "Completed", 285),
    "retry_success": (_simple("retry_success"), "Completed", "succeeded after 3 attempts"),
    "retry_exhausted": (
        _simple("retry_exhausted"),
        "Failed",
        "Orchestrator function 'retry_exhausted' failed: Activity function 'always_fails' "
        "failed:  RuntimeError: permanent failure",
    ),
    "long_timer": (_simple("long_timer", step=86_400.0), "Completed", "2026-01-11T00:00:00+00:00"),
    "continue_as_new": (_simple("continue_as_new", "0"), "Completed", 2),
    "sub_orchestration_failure": (
        _sub_failure,
        "Completed",
        "child failed: Orchestrator function 'failing_child' failed: child is broken ",
    ),
    "suspend_resume": (
        _suspend_resume,
        "Completed",
        {"approval": {"approved": True}, "done": "Hello after approval!"},
    ),
}


def output_matches(output: Any, expected: Any) -> bool:
    if isinstance(expected, str) and isinstance(output, str) and expected.endswith("failed"):
        return output.startswith(expected)
    if isinstance(expected, str) and isinstance(output, str):
        return output.startswith(expected.rstrip())
    return bool(output == expected)


async def record(name: str) -> dict[str, Any]:
    """One run of scenario ``name``, as a golden file holds it (fixed ids, relative paths).

    Activities run one at a time (in scheduling order), so the history does not depend on
    which thread finishes first; how completions are batched into episodes still depends on
    timing (the dispatcher holds a fan-in for a few milliseconds): see ``record_for_golden``.
    """
    scenario, _, _ = SCENARIOS[name]
    golden_app.attempts.clear()
    clock = ManualClock()
    store = SqliteStore(":memory:")
    async with DurableRuntime(REGISTRY, store, clock, max_concurrent_activities=1) as runtime:
        instance_id = await scenario(runtime, clock)
        status = await runtime.get_status(instance_id)
    history = [json.loads(text) for text in store.load_history(instance_id)]
    instance = store.get_instance(instance_id)
    store.close()
    assert instance is not None
    recorded = {
        "instanceId": instance_id,
        "orchestrator": instance.name,
        "runtimeStatus": status["runtimeStatus"],
        "output": status["output"],
        "history": history,
    }
    return with_relative_paths(with_fixed_execution_ids(recorded))


async def record_for_golden(name: str, runs: int = 3) -> dict[str, Any]:
    """The recording to write: of a few runs, the one with the fewest episodes (a slow moment
    on a busy machine can split a fan-in into more episodes; the usual run does not)."""
    recordings = [await record(name) for _ in range(runs)]
    return min(recordings, key=lambda r: len(episodes(r["history"])))


def with_relative_paths(recorded: dict[str, Any]) -> dict[str, Any]:
    """``recorded`` with the checkout's and the virtualenv's folders cut from the tracebacks in
    failure details, so that every checkout records the same text."""
    text = json.dumps(recorded)
    prefixes = {str(PROJECT_ROOT), *site.getsitepackages(), site.getusersitepackages()}
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix.rstrip("/") + "/", "")
    return dict(json.loads(text))


def fixed_execution_id(instance_id: str, n: int) -> str:
    """The ``n``-th execution id of a golden recording: 32 hex digits, as the runtime's, but
    always the same."""
    return uuid.uuid5(GOLDEN_NAMESPACE, f"{instance_id}/{n}").hex


def with_fixed_execution_ids(recorded: dict[str, Any]) -> dict[str, Any]:
    """``recorded`` with each random execution id replaced by its fixed one, wherever it
    appears (the ids of the SDK's sub-orchestrations, ``<execution id>:<n>``, follow)."""
    found: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "ExecutionId" and isinstance(item, str) and item not in found:
                    found.append(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(recorded["history"])
    text = json.dumps(recorded)
    for n, execution_id in enumerate(found):
        text = text.replace(execution_id, fixed_execution_id(recorded["instanceId"], n))
    return dict(json.loads(text))


def load(name: str) -> dict[str, Any]:
    path = GOLDEN_DIR / f"{name}.json"
    if not path.exists():
        raise AssertionError(f"missing golden file {path}: run with UPDATE_GOLDEN=1 to record it")
    return dict(json.loads(path.read_text()))


def write(name: str, recorded: dict[str, Any]) -> None:
    (GOLDEN_DIR / f"{name}.json").write_text(json.dumps(recorded, indent=1) + "\n")


def shape(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["EventType"], e["EventId"], e.get("Name"), e.get("TaskScheduledId")) for e in history
    ]


def episodes(history: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(start, first decision, end) of every episode: new events are [start, first decision)."""
    spans = []
    for index, event in enumerate(history):
        if event["EventType"] != EventType.ORCHESTRATOR_STARTED:
            continue
        first = index + 1
        while first < len(history) and history[first]["EventType"] not in DECISIONS:
            first += 1
        end = first
        while end < len(history) and history[end]["EventType"] in DECISIONS:
            end += 1
            if history[end - 1]["EventType"] == EventType.ORCHESTRATOR_COMPLETED:
                break
        spans.append((index, first, end))
    return spans


def replay_golden(golden: dict[str, Any], orchestrator: str | None = None) -> list[Any]:
    """Replay every episode; returns (recorded decisions, replayed decisions, outcome) each."""
    history = golden["history"]
    name = orchestrator or golden["orchestrator"]
    function = REGISTRY.orchestrator(name)
    assert function is not None
    started = next(e for e in history if e["EventType"] == EventType.EXECUTION_STARTED)
    execution_id = started["OrchestrationInstance"]["ExecutionId"]
    parent = started.get("ParentInstance")
    results = []
    for begin, first, end in episodes(history):
        past = history[:begin]
        new = [dict(e, IsPlayed=False) for e in history[begin:first]]
        context = build_context_json(
            past_event_texts=[played_text(e) for e in past],
            new_events=new,
            input_json=started.get("Input"),
            instance_id=golden["instanceId"],
            parent_instance_id=parent["OrchestrationInstance"]["InstanceId"] if parent else None,
            is_replaying=bool(past),
        )
        result = invoke_orchestrator(function, context)
        state = InstanceState(golden["instanceId"], name, execution_id, RuntimeStatus.RUNNING)
        plan = EpisodePlan(
            new_events=new, consumed=[], invoke_orchestrator=True, status=RuntimeStatus.RUNNING
        )
        outcome = decide(
            state=state,
            plan=plan,
            history=past + new,
            sdk=parse_sdk_output(result.returned, result.error),
            now=datetime_of(new[0]),
            known_activities=lambda n: REGISTRY.activity(n) is not None,
            known_orchestrators=lambda n: REGISTRY.orchestrator(n) is not None,
        )
        results.append((history[first:end], outcome.appended[len(new) :], outcome))
    return results


def datetime_of(event: dict[str, Any]) -> Any:
    return parse_time(event["Timestamp"])


def decision(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event["EventType"],
        event["EventId"],
        event.get("Name"),
        event.get("FireAt") if event["EventType"] == EventType.TIMER_CREATED else None,
        event.get("OrchestrationStatus"),
        event.get("Result"),
    )


def regenerate() -> None:
    """Record every scenario again and write its golden file."""

    async def all_scenarios() -> None:
        for name in sorted(SCENARIOS):
            write(name, await record_for_golden(name))

    asyncio.run(all_scenarios())


if __name__ == "__main__":
    regenerate()
