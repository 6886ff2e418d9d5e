"""The SDK's output (spec §3.4): the orchestrator's state parsed from what the SDK returns."""

from __future__ import annotations

import json

from durable_local.engine.orchestration.payload import parse_sdk_output
from tests.helpers.engine import activity

# -- SDK output ----------------------------------------------------------------------------------


def test_out_of_proc_exception_yields_its_actions_and_error() -> None:
    payload = {
        "isDone": False,
        "schemaVersion": 2,
        "actions": [[activity("hello", "x")]],
        "error": "boom",
    }
    state = parse_sdk_output(None, "boom\n\n$OutOfProcData$:" + json.dumps(payload))
    assert state.error == "boom" and state.actions == [activity("hello", "x")]
    plain = parse_sdk_output(None, "something else broke")
    assert plain.error == "something else broke" and plain.actions == []
