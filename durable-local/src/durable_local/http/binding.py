"""The durable client binding: the JSON the host passes to a ``durableClient`` parameter
(EXT BindingHelper.DurableOrchestrationClientToString, spec §5.1)."""

from __future__ import annotations

import json

from durable_local.http.urls import DEFAULT_CONNECTION, WEBHOOK_BASE, management_urls


def durable_client_binding(
    *,
    origin: str,
    rpc_base_url: str,
    hub_name: str,
    connection: str = DEFAULT_CONNECTION,
    system_key: str | None = None,
) -> str:
    """The JSON string the host passes to a ``durableClient`` parameter (spec §5.1).

    ``origin`` is where the public webhook API is reachable (``http://host:port``);
    ``rpc_base_url`` is the base the SDK client calls and must end with ``/``.
    """
    if not rpc_base_url.endswith("/"):
        raise ValueError("rpcBaseUrl must end with '/' (the SDK concatenates paths to it)")
    base_url = f"{origin}{WEBHOOK_BASE}"
    required = f"code={system_key}" if system_key else ""
    creation = f"{base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
    binding = {
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{creation}?{required}" if required else creation,
            "createAndWaitOnNewInstancePostUri": (
                f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                + (f"&{required}" if required else "")
            ),
        },
        "managementUrls": management_urls(
            origin, "INSTANCEID", hub_name=hub_name, connection=connection, system_key=system_key
        ),
        "baseUrl": base_url,
        "requiredQueryStringParameters": required,
        "rpcBaseUrl": rpc_base_url,
    }
    return json.dumps(binding)
