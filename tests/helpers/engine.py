"""Builders for the engine's unit tests: histories as plain event lists and SDK actions shaped
exactly as SDK 1.7.0 emits them (spec §3.2, §11 section B), action types named by
``ActionType``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from durable_local.engine import events as ev
from durable_local.model import ActionType

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def activity(name: str, value: Any) -> dict[str, Any]:
    return {
        "actionType": ActionType.CALL_ACTIVITY,
        "functionName": name,
        "input": json.dumps(value),
    }


def retry_activity(name: str, value: Any, interval_ms: int, attempts: int) -> dict[str, Any]:
    inner = {
        "actionType": ActionType.CALL_ACTIVITY_WITH_RETRY,
        "functionName": name,
        "input": json.dumps(value),
        "retryOptions": {
            "firstRetryIntervalInMilliseconds": interval_ms,
            "maxNumberOfAttempts": attempts,
        },
    }
    return {"actionType": ActionType.WHEN_ALL, "compoundActions": [inner]}


def timer(fire_at: datetime, cancelled: bool = False) -> dict[str, Any]:
    return {
        "actionType": ActionType.CREATE_TIMER,
        "fireAt": fire_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "isCanceled": cancelled,
    }


def wait(name: str) -> dict[str, Any]:
    return {
        "actionType": ActionType.WAIT_FOR_EXTERNAL_EVENT,
        "externalEventName": name,
        "reason": "ExternalEvent",
    }


def sub(name: str, instance_id: str | None = None) -> dict[str, Any]:
    return {
        "actionType": ActionType.CALL_SUB_ORCHESTRATOR,
        "functionName": name,
        "input": "null",
        "instanceId": instance_id,
        "version": None,
    }


def continue_as_new(input_json: str) -> dict[str, Any]:
    return {"actionType": ActionType.CONTINUE_AS_NEW, "input": input_json}


def when_all(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": ActionType.WHEN_ALL, "compoundActions": list(children)}


def when_any(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": ActionType.WHEN_ANY, "compoundActions": list(children)}


def start(seconds: float = 0) -> list[ev.Event]:
    """OrchestratorStarted and ExecutionStarted of instance ``i1``, execution ``e1``."""
    return [
        ev.new_orchestrator_started(at(seconds)),
        ev.new_execution_started(
            at(seconds), instance_id="i1", execution_id="e1", name="orch", input_json=None
        ),
    ]
