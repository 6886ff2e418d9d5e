"""Golden histories: recorded once from real SDK orchestrators on the runtime, committed, and
replayed here episode by episode through the SDK handle and the engine (tests/helpers/golden.py).

Each episode of a golden history must lead to exactly the decisions recorded after it (the same
scheduling events with the same ids and names, the same completion), so any change to the
engine or the event shapes that would break a replay of stored histories fails these tests.
Regenerate after a deliberate change with
``UPDATE_GOLDEN=1 python -m pytest tests/durable_local/engine/orchestration/test_golden.py``
(or ``python -m tests.helpers.golden``); execution ids are fixed, so an unchanged engine gives
no diff.
"""

from __future__ import annotations

import os

import pytest

from durable_local.model import RuntimeStatus
from tests.helpers.golden import (
    SCENARIOS,
    decision,
    load,
    output_matches,
    record,
    record_for_golden,
    replay_golden,
    shape,
    write,
)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_recording_matches_golden(name: str) -> None:
    """A fresh run of the scenario reaches the golden outcome with the same event sequence."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write(name, await record_for_golden(name))
    recorded = await record(name)
    golden = load(name)
    _, status, output = SCENARIOS[name]
    assert recorded["runtimeStatus"] == golden["runtimeStatus"] == status
    assert output_matches(recorded["output"], output)
    if name != "fan_out_fan_in":  # completion batching of a fan-in depends on timing
        assert shape(recorded["history"]) == shape(golden["history"])


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_episode_of_the_golden_history_replays_to_the_same_decisions(name: str) -> None:
    golden = load(name)
    episodes = replay_golden(golden)
    assert episodes, "a golden history has at least one episode"
    for recorded, replayed, _ in episodes:
        assert [decision(e) for e in replayed] == [decision(e) for e in recorded]


def test_non_deterministic_change_fails_the_replay() -> None:
    golden = load("chaining")
    episodes = replay_golden(golden, orchestrator="chaining_changed")
    outcomes = [outcome for _, _, outcome in episodes]
    failed = [o for o in outcomes if o.status == RuntimeStatus.FAILED]
    assert failed, "replaying a changed orchestrator over the old history must fail"
    output = failed[0].output
    assert output.startswith("Non-Deterministic workflow detected:")
    assert "'greet'" in output and "'square'" in output
