"""Fixture app for the dashboard's browser tests and benchmark: a devices run (one
sub-orchestration per device, child ids derived from the parent's), an orchestrator waiting for
an event, a sequence of activities with a timer, and an HTTP starter. Not the product app."""

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], None, json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def devices_run(context: df.DurableOrchestrationContext):
    # Started with the device ids as a JSON string (the SDK's get_input decodes strings only).
    devices = context.get_input() or []
    if not devices:
        return {"devices": 0, "results": []}
    tasks = [
        context.call_sub_orchestrator(
            "device_flow", device, f"{context.instance_id}:device:{device}"
        )
        for device in devices
    ]
    results = yield context.task_all(tasks)
    return {"devices": len(devices), "results": results}


@app.orchestration_trigger(context_name="context")
def device_flow(context: df.DurableOrchestrationContext):
    device = context.get_input()
    return (yield context.call_activity("provision", device))


@app.orchestration_trigger(context_name="context")
def wait_approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting for Approval"})
    approval = yield context.wait_for_external_event("Approval")
    context.set_custom_status({"stage": "approved"})
    return {"approval": approval}


@app.orchestration_trigger(context_name="context")
def greet_sequence(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("say_hello", "Tokyo")
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    second = yield context.call_activity("say_hello", "Seattle")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", None)
    return "unreachable"


@app.activity_trigger(input_name="device")
def provision(device: str) -> dict:
    return {"device": device, "provisioned": True}


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="value")
def boom(value) -> str:
    raise ValueError("boom")
