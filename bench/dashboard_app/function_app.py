"""The dashboard benchmark's app (not the product app): many small instances for the list, and
a devices run (one sub-orchestration per device, ids derived from the parent's) for the timeline.

* ``quick``: completes at once;
* ``waiting``: waits for an ``Approval`` event (stays Running);
* ``broken``: fails after one activity;
* ``devices_run``: one ``device_flow`` child per device id (input: the ids as a JSON string);
* ``device_flow``: one ``provision`` activity, a 50-200 ms timer, a second activity.
"""

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

Gen = Generator[Any, Any, Any]
app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def quick(context: df.DurableOrchestrationContext) -> Any:
    return {"done": context.instance_id}


@app.orchestration_trigger(context_name="context")
def waiting(context: df.DurableOrchestrationContext) -> Gen:
    return (yield context.wait_for_external_event("Approval"))


@app.orchestration_trigger(context_name="context")
def devices_run(context: df.DurableOrchestrationContext) -> Gen:
    devices = context.get_input() or []
    children = [
        context.call_sub_orchestrator("device_flow", d, f"{context.instance_id}:device:{d}")
        for d in devices
    ]
    results = yield context.task_all(children)
    return {"devices": len(results), "provisioned": sum(1 for r in results if r["ok"])}


@app.orchestration_trigger(context_name="context")
def device_flow(context: df.DurableOrchestrationContext) -> Gen:
    device = context.get_input()
    yield context.call_activity("provision", device)
    wait = 50 * (1 + int(device[-1]) % 4)  # 50-200 ms, by the device id's last digit
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=wait))
    yield context.call_activity("provision", device)
    return {"device": device, "ok": True}


@app.activity_trigger(input_name="device")
def provision(device: str) -> str:
    return device


@app.orchestration_trigger(context_name="context")
def broken(context: df.DurableOrchestrationContext) -> Gen:
    yield context.call_activity("provision", None)
    raise RuntimeError("the import file is missing")
