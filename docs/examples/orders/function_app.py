"""An order service: the sample app of the testing guide (docs/testing.md).

Three orchestrations, each the shape of a common test problem:

* ``process_order``, a chain: reserve stock, charge the card, ship; the custom status says how
  far it got. ``charge_card`` calls a payment provider over HTTP (the I/O a test mocks).
* ``price_basket``, a fan-out: one ``price_item`` per line, in parallel, summed.
* ``approve_refund``, a human approval: ask for it, then wait for an ``Approval`` event or 72
  hours, whichever comes first; escalate on timeout.
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

APPROVAL_TIMEOUT = timedelta(hours=72)
PRICES = {"apple": 3, "pear": 4, "plum": 5}


@app.route(route="orders/{orchestrator}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_order(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    """Start an orchestration with the request's JSON body as its input."""
    instance_id = await client.start_new(req.route_params["orchestrator"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext) -> Any:
    order = context.get_input()
    reservation = yield context.call_activity("reserve_stock", order)
    context.set_custom_status("reserved")
    receipt = yield context.call_activity("charge_card", order)
    context.set_custom_status("charged")
    tracking = yield context.call_activity("ship", order)
    context.set_custom_status("shipped")
    return {"reservation": reservation, "receipt": receipt, "tracking": tracking}


@app.orchestration_trigger(context_name="context")
def price_basket(context: df.DurableOrchestrationContext) -> Any:
    lines = context.get_input()
    prices = yield context.task_all([context.call_activity("price_item", line) for line in lines])
    return sum(prices)


@app.orchestration_trigger(context_name="context")
def approve_refund(context: df.DurableOrchestrationContext) -> Any:
    refund = context.get_input()
    yield context.call_activity("request_approval", refund)
    timeout = context.create_timer(context.current_utc_datetime + APPROVAL_TIMEOUT)
    approval = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        decision = approval.result
        # The SDK client sends event data JSON-encoded once more (as in Azure).
        if isinstance(decision, str):
            decision = json.loads(decision)
        return "approved" if decision["approved"] else "rejected"
    yield context.call_activity("escalate", refund)
    return "escalated"


@app.activity_trigger(input_name="order")
def reserve_stock(order: dict[str, Any]) -> str:
    return f"R-{order['id']}"


@app.activity_trigger(input_name="order")
def charge_card(order: dict[str, Any]) -> str:
    """Charge the order at the payment provider (``PAYMENT_URL``); its receipt id."""
    request = urllib.request.Request(
        os.environ["PAYMENT_URL"],
        data=json.dumps({"order": order["id"], "amount": order["amount"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["receipt"])


@app.activity_trigger(input_name="order")
def ship(order: dict[str, Any]) -> str:
    return f"T-{order['id']}"


@app.activity_trigger(input_name="line")
def price_item(line: dict[str, Any]) -> int:
    return PRICES[line["sku"]] * int(line["qty"])


@app.activity_trigger(input_name="refund")
def request_approval(refund: dict[str, Any]) -> str:
    """Ask a person to approve (in production: an e-mail with a link raising ``Approval``)."""
    return f"approval requested for {refund['id']}"


@app.activity_trigger(input_name="refund")
def escalate(refund: dict[str, Any]) -> str:
    return f"escalated {refund['id']}"
