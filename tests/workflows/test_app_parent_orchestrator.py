"""``parent_workflow_orchestrator`` in sync and devices mode, through the SDK's replay engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from durable_local.testing import ActionType, HistoryBuilder, replay

PARENT = "parent_workflow_orchestrator"
RUN_ID = "run-42"

Handle = Callable[[str], str]


@pytest.fixture
def parent(user_function: Callable[[str], Any]) -> Handle:
    handle: Handle = user_function(PARENT)
    return handle


def child_result(
    step: str, child_id: str, status: str = "completed", **extra: Any
) -> dict[str, Any]:
    return {
        "step": step,
        "instanceId": child_id,
        **extra,
        "status": status,
        "reason": None if status == "completed" else f"{status} reason",
        "packageUrl": f"memory://packages/{child_id}",
        "sha256": "ab" * 32,
        "digestVerified": status == "completed",
    }


SYNC_INPUT = {
    "mode": "sync",
    "customerId": "cust-1001",
    "customerSegment": "enterprise",
    "skus": ["SKU-100", "SKU-200"],
    "ackTimeoutSeconds": 900,
}
CUSTOMER_ID = f"{RUN_ID}:customer-sync"
INVENTORY_ID = f"{RUN_ID}:inventory-sync"
CUSTOMER_RESULT = child_result(
    "customer_sync", CUSTOMER_ID, customerId="cust-1001", segment="enterprise"
)
INVENTORY_RESULT = child_result(
    "inventory_sync", INVENTORY_ID, skuCount=2, skus=["SKU-100", "SKU-200"]
)


# ---- sync mode ------------------------------------------------------------------------------


def test_sync_starts_with_the_customer_sync_only(parent: Handle) -> None:
    outcome = replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=SYNC_INPUT))
    assert not outcome.done
    [call] = outcome.actions
    assert call["actionType"] == ActionType.CALL_SUB_ORCHESTRATOR
    assert call["functionName"] == "customer_sync_sub_orchestrator"
    assert call["instanceId"] == CUSTOMER_ID
    assert json.loads(call["input"]) == {
        "customerId": "cust-1001",
        "segment": "enterprise",
        "ackTimeoutSeconds": 900,
    }
    status = outcome.custom_status
    assert status["mode"] == "sync"
    assert status["stage"] == "customer_sync"
    assert status["childInstanceIds"] == [CUSTOMER_ID]
    assert (status["completed"], status["total"]) == (0, 2)


def sync_history_after_customer(customer: dict[str, Any] | None = None) -> HistoryBuilder:
    h = HistoryBuilder(PARENT, instance_id=RUN_ID, input=SYNC_INPUT)
    h.sub_orchestration_created(0, "customer_sync_sub_orchestrator", CUSTOMER_ID)
    h.orchestrator_completed().orchestrator_started()
    if customer is None:
        h.sub_orchestration_completed(0, CUSTOMER_RESULT)
    else:
        h.sub_orchestration_completed(0, customer)
    return h


def test_sync_runs_inventory_only_after_the_customer_sync(parent: Handle) -> None:
    outcome = replay(parent, sync_history_after_customer())
    calls = outcome.leaves()
    assert [c["instanceId"] for c in calls] == [CUSTOMER_ID, INVENTORY_ID]
    assert calls[1]["functionName"] == "inventory_sync_sub_orchestrator"
    assert json.loads(calls[1]["input"]) == {
        "skus": ["SKU-100", "SKU-200"],
        "ackTimeoutSeconds": 900,
    }
    assert outcome.custom_status["stage"] == "inventory_sync"
    assert outcome.custom_status["completed"] == 1


def test_sync_output_has_both_child_results(parent: Handle) -> None:
    h = sync_history_after_customer()
    h.sub_orchestration_created(1, "inventory_sync_sub_orchestrator", INVENTORY_ID)
    h.orchestrator_completed().orchestrator_started()
    h.sub_orchestration_completed(1, INVENTORY_RESULT)
    outcome = replay(parent, h)
    assert outcome.done
    assert outcome.output == {
        "instanceId": RUN_ID,
        "mode": "sync",
        "customer": CUSTOMER_RESULT,
        "inventory": INVENTORY_RESULT,
        "status": "completed",
    }
    assert outcome.custom_status["stage"] == "completed"
    assert outcome.custom_status["childInstanceIds"] == []


def test_sync_reports_a_crashed_customer_sync_and_still_syncs_inventory(parent: Handle) -> None:
    h = HistoryBuilder(PARENT, instance_id=RUN_ID, input=SYNC_INPUT)
    h.sub_orchestration_created(0, "customer_sync_sub_orchestrator", CUSTOMER_ID)
    h.orchestrator_completed().orchestrator_started()
    h.sub_orchestration_failed(
        0, "Orchestrator function 'customer_sync_sub_orchestrator' failed: boom", "stack"
    )
    assert [c["instanceId"] for c in replay(parent, h).leaves()] == [CUSTOMER_ID, INVENTORY_ID]
    h.sub_orchestration_created(1, "inventory_sync_sub_orchestrator", INVENTORY_ID)
    h.orchestrator_completed().orchestrator_started()
    h.sub_orchestration_completed(1, INVENTORY_RESULT)
    outcome = replay(parent, h)
    assert outcome.output["status"] == "completed_with_errors"
    customer = outcome.output["customer"]
    assert customer["status"] == "failed"
    assert customer["reason"] == (
        "Orchestrator function 'customer_sync_sub_orchestrator' failed: boom"
    )
    assert customer["customerId"] == "cust-1001"
    assert outcome.output["inventory"] == INVENTORY_RESULT


def test_sync_with_a_rejected_child_completes_with_errors(parent: Handle) -> None:
    h = sync_history_after_customer(child_result("customer_sync", CUSTOMER_ID, "rejected"))
    h.sub_orchestration_created(1, "inventory_sync_sub_orchestrator", INVENTORY_ID)
    h.orchestrator_completed().orchestrator_started()
    h.sub_orchestration_completed(1, INVENTORY_RESULT)
    assert replay(parent, h).output["status"] == "completed_with_errors"


# ---- devices mode -----------------------------------------------------------------------------

DEVICES = ["dev-a", "dev-b", "dev-c"]
DEVICES_INPUT = {"mode": "devices", "deviceIds": DEVICES, "ackTimeoutSeconds": 120}


def device_id_of(device: str) -> str:
    return f"{RUN_ID}:device:{device}"


def devices_history(devices: list[str] = DEVICES) -> HistoryBuilder:
    """History where every device child has been created (ids 0..n-1)."""
    h = HistoryBuilder(PARENT, instance_id=RUN_ID, input={**DEVICES_INPUT, "deviceIds": devices})
    for index, device in enumerate(devices):
        h.sub_orchestration_created(index, "device_provisioning_orchestrator", device_id_of(device))
    return h.orchestrator_completed()


def test_devices_are_all_scheduled_in_one_episode_with_deterministic_ids(parent: Handle) -> None:
    outcome = replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=DEVICES_INPUT))
    assert not outcome.done
    [race] = outcome.actions
    assert race["actionType"] == ActionType.WHEN_ANY
    calls = race["compoundActions"]
    assert [c["actionType"] for c in calls] == [ActionType.CALL_SUB_ORCHESTRATOR] * 3
    assert [c["instanceId"] for c in calls] == [device_id_of(d) for d in DEVICES]
    assert [json.loads(c["input"]) for c in calls] == [
        {"deviceId": d, "ackTimeoutSeconds": 120} for d in DEVICES
    ]
    status = outcome.custom_status
    assert status["stage"] == "provisioning"
    assert status["childInstanceIdPrefix"] == f"{RUN_ID}:device:"
    assert status["childInstanceIds"] == [device_id_of(d) for d in DEVICES]
    assert (status["completed"], status["total"]) == (0, 3)
    # Same input, same ids: a replay or a restart derives exactly the same children.
    assert (
        replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=DEVICES_INPUT)).state
        == outcome.state
    )


def test_one_failing_child_does_not_lose_the_others(parent: Handle) -> None:
    h = devices_history()
    h.orchestrator_started()
    h.sub_orchestration_failed(
        1, "Orchestrator function 'device_provisioning_orchestrator' failed: crash", "stack"
    )
    h.sub_orchestration_completed(
        0, child_result("device_provisioning", device_id_of("dev-a"), deviceId="dev-a")
    )
    middle = replay(parent, h)
    assert not middle.done
    assert middle.custom_status["completed"] == 2
    assert middle.custom_status["childInstanceIds"] == [device_id_of("dev-c")]
    # No child is started twice while the parent waits for the rest.
    assert len(middle.leaves()) == 3

    h.orchestrator_completed().orchestrator_started()
    h.sub_orchestration_completed(
        2,
        child_result("device_provisioning", device_id_of("dev-c"), "timed_out", deviceId="dev-c"),
    )
    outcome = replay(parent, h)
    assert outcome.done
    output = outcome.output
    assert output["total"] == 3
    assert output["succeeded"] == ["dev-a"]
    assert output["failed"] == [
        {
            "deviceId": "dev-b",
            "status": "failed",
            "reason": "Orchestrator function 'device_provisioning_orchestrator' failed: crash",
        },
        {"deviceId": "dev-c", "status": "timed_out", "reason": "timed_out reason"},
    ]
    assert list(output["devices"]) == DEVICES
    assert output["devices"]["dev-a"]["status"] == "completed"
    assert output["devices"]["dev-b"]["instanceId"] == device_id_of("dev-b")
    assert output["status"] == "completed_with_errors"
    assert outcome.custom_status["stage"] == "completed"
    assert outcome.custom_status["succeeded"] == 1
    assert outcome.custom_status["failed"] == 2


def test_all_devices_succeeding_completes(parent: Handle) -> None:
    h = devices_history().orchestrator_started()
    for index, device in reversed(list(enumerate(DEVICES))):
        h.sub_orchestration_completed(
            index, child_result("device_provisioning", device_id_of(device), deviceId=device)
        )
    outcome = replay(parent, h)
    assert outcome.output["succeeded"] == DEVICES
    assert outcome.output["failed"] == []
    assert outcome.output["status"] == "completed"


def test_without_device_ids_the_configured_pending_devices_are_used(parent: Handle) -> None:
    h = HistoryBuilder(
        PARENT, instance_id=RUN_ID, input={"mode": "devices", "ackTimeoutSeconds": 120}
    )
    [lookup] = replay(parent, h).leaves()
    assert lookup["actionType"] == ActionType.CALL_ACTIVITY_WITH_RETRY
    assert lookup["functionName"] == "get_new_device_ids"
    assert json.loads(lookup["input"]) == {"parentInstanceId": RUN_ID}
    h.task_scheduled(0, "get_new_device_ids").orchestrator_completed()
    h.orchestrator_started().task_completed(0, {"deviceIds": ["cfg-1", "cfg-2"]})
    outcome = replay(parent, h)
    children = [a for a in outcome.leaves() if a["actionType"] == ActionType.CALL_SUB_ORCHESTRATOR]
    assert [c["instanceId"] for c in children] == [device_id_of("cfg-1"), device_id_of("cfg-2")]


def test_no_pending_devices_completes_immediately(parent: Handle) -> None:
    h = HistoryBuilder(
        PARENT, instance_id=RUN_ID, input={"mode": "devices", "ackTimeoutSeconds": 120}
    )
    h.task_scheduled(0, "get_new_device_ids").orchestrator_completed()
    h.orchestrator_started().task_completed(0, {"deviceIds": []})
    outcome = replay(parent, h)
    assert outcome.done
    assert outcome.output == {
        "instanceId": RUN_ID,
        "mode": "devices",
        "total": 0,
        "succeeded": [],
        "failed": [],
        "devices": {},
        "status": "completed",
    }


def test_custom_status_lists_a_bounded_number_of_child_ids(parent: Handle) -> None:
    devices = [f"dev-{i:03d}" for i in range(60)]
    outcome = replay(
        parent,
        HistoryBuilder(PARENT, instance_id=RUN_ID, input={**DEVICES_INPUT, "deviceIds": devices}),
    )
    assert len(outcome.leaves()) == 60
    status = outcome.custom_status
    assert len(status["childInstanceIds"]) == 25
    assert status["childInstanceIdsTruncated"] is True
    assert len(json.dumps(status)) < 16_000 // 2  # custom status slot: 16 KB of UTF-16


def test_replaying_the_final_devices_history_reproduces_the_same_actions(parent: Handle) -> None:
    h = devices_history().orchestrator_started()
    for index, device in enumerate(DEVICES):
        h.sub_orchestration_completed(
            index, child_result("device_provisioning", device_id_of(device), deviceId=device)
        )
    first, second = replay(parent, h), replay(parent, h)
    assert first.state == second.state
    assert [("sub", a["functionName"]) for a in first.leaves()] == [
        (kind, name) for kind, _, name in h.scheduled()
    ]


@pytest.mark.parametrize(
    ("bad_input", "needle"),
    [
        ({"mode": "everything"}, "mode"),
        ({"mode": "devices", "deviceIds": ["a", "a"]}, "duplicate"),
        ({"mode": "devices", "ackTimeoutSeconds": 0}, "ackTimeoutSeconds"),
        ({"mode": "sync", "customerId": "no spaces"}, "customerId"),
        (None, "JSON object"),
    ],
)
def test_invalid_parent_input_fails_the_orchestration(
    parent: Handle, bad_input: Any, needle: str
) -> None:
    outcome = replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=bad_input))
    assert outcome.error is not None
    assert needle in outcome.error
    assert outcome.state["actions"] == [[]]


def test_a_terminated_child_is_reported_as_terminated_not_failed(parent: Handle) -> None:
    h = devices_history()
    h.orchestrator_started()
    # What the runtime sends the parent when a child is terminated: the reason, no details.
    h.sub_orchestration_failed(1, "stuck device, terminated by an operator", None)
    h.sub_orchestration_failed(
        2, "Orchestrator function 'device_provisioning_orchestrator' failed: crash", "stack"
    )
    h.sub_orchestration_completed(
        0, child_result("device_provisioning", device_id_of("dev-a"), deviceId="dev-a")
    )
    outcome = replay(parent, h)
    assert outcome.done
    assert outcome.output["failed"] == [
        {
            "deviceId": "dev-b",
            "status": "terminated",
            "reason": "stuck device, terminated by an operator",
        },
        {
            "deviceId": "dev-c",
            "status": "failed",
            "reason": "Orchestrator function 'device_provisioning_orchestrator' failed: crash",
        },
    ]
    assert outcome.output["devices"]["dev-b"]["status"] == "terminated"


def test_the_ack_link_base_is_passed_on_to_every_child(parent: Handle) -> None:
    spec = {**DEVICES_INPUT, "ackBaseUrl": "http://127.0.0.1:5000/api"}
    [race] = replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=spec)).actions
    assert [json.loads(c["input"]) for c in race["compoundActions"]] == [
        {"deviceId": d, "ackTimeoutSeconds": 120, "ackBaseUrl": "http://127.0.0.1:5000/api"}
        for d in DEVICES
    ]


def test_an_ack_link_base_that_is_no_url_fails_the_run(parent: Handle) -> None:
    spec = {**DEVICES_INPUT, "ackBaseUrl": "ftp://x"}
    outcome = replay(parent, HistoryBuilder(PARENT, instance_id=RUN_ID, input=spec))
    assert outcome.error is not None
    assert "ackBaseUrl must be an http(s) URL" in outcome.error
