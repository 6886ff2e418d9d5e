"""The fixture app of durable_local.testing's own tests: timers in a row, failing activities,
app settings read by an activity and an HTTP function."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="setting/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


@app.orchestration_trigger(context_name="context")
def reminders(context: df.DurableOrchestrationContext) -> Any:
    """``count`` reminders an hour apart: each timer is created by the episode the previous
    one woke."""
    notes = []
    for index in range(int(context.get_input())):
        yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
        notes.append((yield context.call_activity("note", index)))
        context.set_custom_status({"sent": index + 1})
    return notes


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Any:
    """Sleeps ``hours`` on one timer; returns when it woke."""
    hours = float(context.get_input())
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=hours))
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def fragile(context: df.DurableOrchestrationContext) -> Any:
    """Fails when its activity fails."""
    return (yield context.call_activity("explode", context.get_input()))


@app.orchestration_trigger(context_name="context")
def tolerant(context: df.DurableOrchestrationContext) -> Any:
    """Survives its activity failing."""
    try:
        yield context.call_activity("explode", "first")
    except Exception:
        return (yield context.call_activity("note", "recovered"))
    return "no failure"


@app.orchestration_trigger(context_name="context")
def settings_reader(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("read_setting", context.get_input()))


@app.activity_trigger(input_name="value")
def note(value: Any) -> str:
    return f"note {value}"


@app.activity_trigger(input_name="value")
def explode(value: Any) -> str:
    raise ValueError(f"boom {value}")


@app.activity_trigger(input_name="name")
def read_setting(name: str) -> str:
    return os.environ.get(name, "<unset>")
