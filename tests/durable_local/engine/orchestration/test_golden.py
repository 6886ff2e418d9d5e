"""Golden histories: recorded once from real SDK orchestrators on the runtime, committed, and
replayed here episode by episode through the SDK handle and the engine.

Each episode of a golden history must lead to exactly the decisions recorded after it (the same
scheduling events with the same ids and names, the same completion), so any change to the
engine or the event shapes that would break a replay of stored histories fails these tests.
Regenerate after a deliberate change with ``UPDATE_GOLDEN=1 pytest tests/runtime/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from durable_local.clock import ManualClock
from durable_local.engine.episode import (
    EpisodePlan,
    InstanceState,
    build_context_json,
    decide,
    parse_sdk_output,
)
from durable_local.engine.events import played_text
from durable_local.invoker import invoke_orchestrator
from durable_local.model import EventType, RuntimeStatus
from durable_local.registry import FunctionRegistry
from durable_local.runtime import DurableRuntime
from durable_local.store.sqlite import SqliteStore
from tests.runtime import golden_app

GOLDEN_DIR = Path(__file__).parent / "golden"
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


def _output_matches(output: Any, expected: Any) -> bool:
    if isinstance(expected, str) and isinstance(output, str) and expected.endswith("failed"):
        return output.startswith(expected)
    if isinstance(expected, str) and isinstance(output, str):
        return output.startswith(expected.rstrip())
    return bool(output == expected)


async def _record(name: str) -> dict[str, Any]:
    scenario, _, _ = SCENARIOS[name]
    golden_app.attempts.clear()
    clock = ManualClock()
    store = SqliteStore(":memory:")
    async with DurableRuntime(REGISTRY, store, clock) as runtime:
        instance_id = await scenario(runtime, clock)
        status = await runtime.get_status(instance_id)
    history = [json.loads(text) for text in store.load_history(instance_id)]
    record = store.get_instance(instance_id)
    assert record is not None
    return {
        "instanceId": instance_id,
        "orchestrator": record.name,
        "runtimeStatus": status["runtimeStatus"],
        "output": status["output"],
        "history": history,
    }


def _load(name: str) -> dict[str, Any]:
    path = GOLDEN_DIR / f"{name}.json"
    if not path.exists():
        pytest.fail(f"missing golden file {path}: run with UPDATE_GOLDEN=1 to record it")
    return dict(json.loads(path.read_text()))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_recording_matches_golden(name: str) -> None:
    """A fresh run of the scenario reaches the golden outcome with the same event sequence."""
    recorded = await _record(name)
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(recorded, indent=1) + "\n")
    golden = _load(name)
    _, status, output = SCENARIOS[name]
    assert recorded["runtimeStatus"] == golden["runtimeStatus"] == status
    assert _output_matches(recorded["output"], output)
    if name != "fan_out_fan_in":  # completion batching of a fan-in depends on timing
        assert _shape(recorded["history"]) == _shape(golden["history"])


def _shape(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["EventType"], e["EventId"], e.get("Name"), e.get("TaskScheduledId")) for e in history
    ]


def _episodes(history: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
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
    for begin, first, end in _episodes(history):
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
    from durable_local.model import parse_time

    return parse_time(event["Timestamp"])


def _decision(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event["EventType"],
        event["EventId"],
        event.get("Name"),
        event.get("FireAt") if event["EventType"] == EventType.TIMER_CREATED else None,
        event.get("OrchestrationStatus"),
        event.get("Result"),
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_episode_of_the_golden_history_replays_to_the_same_decisions(name: str) -> None:
    golden = _load(name)
    episodes = replay_golden(golden)
    assert episodes, "a golden history has at least one episode"
    for recorded, replayed, _ in episodes:
        assert [_decision(e) for e in replayed] == [_decision(e) for e in recorded]


def test_non_deterministic_change_fails_the_replay() -> None:
    golden = _load("chaining")
    episodes = replay_golden(golden, orchestrator="chaining_changed")
    outcomes = [outcome for _, _, outcome in episodes]
    failed = [o for o in outcomes if o.status == RuntimeStatus.FAILED]
    assert failed, "replaying a changed orchestrator over the old history must fail"
    output = failed[0].completion.output
    assert output.startswith("Non-Deterministic workflow detected:")
    assert "'greet'" in output and "'square'" in output
