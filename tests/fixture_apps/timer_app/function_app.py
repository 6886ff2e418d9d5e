"""Timer triggers for durable-local's trigger tests: a nightly starter with a durable client, a
timer that runs at start-up, a monitored five-minute timer, a schedule from an app setting, and
functions an app setting disables."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

#: (function name, past_due) per run, in order: test instrumentation.
RUNS: list[tuple[str, bool]] = []
#: Instance ids the nightly starter started.
STARTED: list[str] = []


@app.timer_trigger(schedule="0 30 1 * * *", arg_name="timer")
@app.durable_client_input(client_name="client")
async def nightly_sync(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    RUNS.append(("nightly_sync", timer.past_due))
    STARTED.append(await client.start_new("sync_orchestrator", None, {"night": True}))


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer", run_on_startup=True)
def hourly_cleanup(timer: func.TimerRequest) -> None:
    RUNS.append(("hourly_cleanup", timer.past_due))


@app.timer_trigger(schedule="%POLL_SCHEDULE%", arg_name="timer", use_monitor=True)
def poll(timer: func.TimerRequest) -> None:
    RUNS.append(("poll", timer.past_due))


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
def flaky(timer: func.TimerRequest) -> None:
    RUNS.append(("flaky", timer.past_due))
    raise RuntimeError("the downstream service is down")


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
def switched_off(timer: func.TimerRequest) -> None:
    RUNS.append(("switched_off", timer.past_due))


@app.orchestration_trigger(context_name="context")
def sync_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    result = yield context.call_activity("sync_step", context.get_input())
    return result


@app.orchestration_trigger(context_name="context")
def calls_a_disabled_activity(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    result = yield context.call_activity("retired_step", None)
    return result


@app.activity_trigger(input_name="payload")
def sync_step(payload: dict) -> str:  # type: ignore[type-arg]
    return f"synced night={payload['night']}"


@app.activity_trigger(input_name="payload")
def retired_step(payload: object) -> str:
    return "should not run"


@app.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@app.route(route="old", methods=["GET"])
def old_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("should not answer")
