"""Orchestration versioning, in the shape of the SDK's orchestration_versioning sample: the
orchestrator branches on ``context.version``, waits for a ``Continue`` event (a redeploy can
happen meanwhile), then calls a sub-orchestrator with an explicit version and without one."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    if context.version == "1.0":
        greeting = yield context.call_activity("greet_a", None)  # the path of version 1.0
    else:
        greeting = yield context.call_activity("greet_b", None)
    context.set_custom_status("waiting for Continue")
    yield context.wait_for_external_event("Continue")
    explicit = yield context.call_sub_orchestrator("report_version", version="0.9")
    default = yield context.call_sub_orchestrator("report_version")
    return [
        f"Orchestration version: {context.version}",
        f"Suborchestration version (explicit): {explicit}",
        f"Suborchestration version (default): {default}",
        greeting,
    ]


@app.orchestration_trigger(context_name="context")
def report_version(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return context.version
    yield  # a generator, as orchestrators are


@app.activity_trigger(input_name="unused")
def greet_a(unused: object) -> str:
    return "Hello from A!"


@app.activity_trigger(input_name="unused")
def greet_b(unused: object) -> str:
    return "Hello from B!"
