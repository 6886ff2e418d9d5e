"""The durable client binding JSON the host gives the SDK's client (webhook and RPC URLs)."""

from __future__ import annotations

import json

import pytest

from durable_local.http.binding import durable_client_binding


def test_durable_client_binding_shape() -> None:
    text = durable_client_binding(
        origin="http://localhost:7071",
        rpc_base_url="http://127.0.0.1:7071/durabletask/",
        hub_name="Hub",
        system_key="sys",
    )
    binding = json.loads(text)
    assert binding["taskHubName"] == "Hub"
    assert binding["rpcBaseUrl"] == "http://127.0.0.1:7071/durabletask/"
    assert binding["baseUrl"] == "http://localhost:7071/runtime/webhooks/durabletask"
    assert binding["requiredQueryStringParameters"] == "code=sys"
    assert binding["creationUrls"] == {
        "createNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/"
        "orchestrators/{functionName}[/{instanceId}]?code=sys",
        "createAndWaitOnNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/"
        "orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}"
        "&pollingInterval={intervalInSeconds}&code=sys",
    }
    urls = binding["managementUrls"]
    assert urls["id"] == "INSTANCEID"
    assert urls["statusQueryGetUri"] == (
        "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID"
        "?taskHub=Hub&connection=Storage&code=sys"
    )
    assert set(urls) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "rewindPostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    with pytest.raises(ValueError, match="end with"):
        durable_client_binding(origin="x", rpc_base_url="http://a/durabletask", hub_name="h")
