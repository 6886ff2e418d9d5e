"""Stored event texts (durable_local.engine.events): the played text of a queued event, the
TaskScheduled input array and the fast encoders, all equal to what ``json.dumps`` writes."""

from __future__ import annotations

import json

import pytest

from durable_local.engine import events as ev
from durable_local.model import EventType
from tests.helpers.engine import T0


# -- stored texts ----------------------------------------------------------------------------
def _queued_events() -> list[ev.Event]:
    """One event of each kind a message can carry, with payloads that look like the flag."""
    tricky = json.dumps({"IsPlayed": False, "text": '"IsPlayed": false'})
    return [
        ev.new_orchestrator_started(T0),
        ev.new_execution_started(
            T0,
            instance_id="i",
            execution_id="e",
            name="orch",
            input_json=tricky,
            parent=ev.new_parent_instance(
                name="parent", task_id=1, instance_id="p", execution_id="pe"
            ),
        ),
        ev.new_task_completed(T0, 3, tricky),
        ev.new_task_failed(T0, 4, '"IsPlayed": false', tricky),
        ev.new_sub_orchestration_completed(T0, 5, tricky),
        ev.new_timer_fired(T0, 6, "2026-01-01T00:00:00.0000000Z"),
        ev.new_event_raised(T0, '"IsPlayed": false', tricky),
        ev.new_execution_terminated(T0, tricky),
        ev.new_execution_suspended(T0, None),
        ev.new_execution_resumed(T0, "why"),
    ]


@pytest.mark.parametrize("event", _queued_events(), ids=lambda e: str(e["EventType"]))
def test_played_text_from_the_queued_text_equals_encoding_the_event_again(
    event: ev.Event,
) -> None:
    queued = json.dumps(event)
    assert ev.played_text(event, queued) == ev.played_text(event)
    stored = json.loads(ev.played_text(event, queued))
    assert stored == {**event, "IsPlayed": event["EventType"] != EventType.ORCHESTRATOR_STARTED}


def test_played_text_ignores_a_text_that_does_not_open_with_the_header() -> None:
    event = ev.new_task_completed(T0, 1, '"x"')
    reordered = json.dumps({"Result": '"IsPlayed": false', **event})
    assert json.loads(ev.played_text(event, reordered))["IsPlayed"] is True
    assert json.loads(ev.played_text(event, reordered))["Result"] == '"x"'


@pytest.mark.parametrize(
    "input_json", [None, "1", '"text"', '{"a": [1, 2]}', 'héllo \u2603 \x01\n\t\\ "q"']
)
def test_task_scheduled_input_is_the_one_element_params_array(input_json: str | None) -> None:
    event = ev.new_task_scheduled(T0, 1, "act", input_json)
    assert event["Input"] == json.dumps([input_json])


@pytest.mark.parametrize("event", _queued_events(), ids=lambda e: str(e["EventType"]))
def test_event_json_is_json_dumps(event: ev.Event) -> None:
    assert ev.event_json(event) == json.dumps(event)
    nested = {**event, "Extra": {"list": [1.5, float("nan"), None, True], "s": "\u00e9"}}
    assert ev.event_json(nested) == json.dumps(nested)


@pytest.mark.parametrize(
    "event",
    [
        ev.new_task_scheduled(T0, 2, 'nämé "q"', 'héllo \u2603 \x01\n\t\\ "q"'),
        ev.new_task_scheduled(T0, 2**70, "act", None),
        ev.new_task_completed(T0, 9, '{"a": "\u2028", "b": [1, 2]}'),
        ev.new_task_completed(T0, 9, None),
    ],
    ids=["scheduled", "scheduled-big-id", "completed", "completed-null"],
)
@pytest.mark.parametrize("played", [False, True])
def test_activity_events_written_from_a_template_are_what_json_dumps_writes(
    event: ev.Event, played: bool
) -> None:
    event = {**event, "IsPlayed": played}
    assert ev.event_json(event) == json.dumps(event)
    assert ev.played_text(event) == json.dumps(
        {**event, "IsPlayed": event["EventType"] != EventType.ORCHESTRATOR_STARTED}
    )


@pytest.mark.parametrize(
    "change",
    [{"EventId": True}, {"Extra": 1}, {"Version": "2"}, {"Result": 5}, {"Timestamp": None}],
    ids=["bool-id", "extra-field", "version", "non-text-result", "no-timestamp"],
)
def test_activity_events_unlike_the_factories_fall_back_to_the_encoder(
    change: dict[str, object],
) -> None:
    base = ev.new_task_completed(T0, 1, "1")
    if "Version" in change:
        base = ev.new_task_scheduled(T0, 1, "act", "1")
    event = {**base, **change}
    assert ev.event_json(event) == json.dumps(event)
    assert json.loads(ev.played_text(event)) == {**event, "IsPlayed": True}
