"""A durable-client binding for the app's starters under test, as the host would pass it."""

from __future__ import annotations

import json

BASE = "http://localhost:7071/runtime/webhooks/durabletask"
QUERY = "taskHub=TestHubName&connection=Storage&code=SYSKEY"


def binding(rpc_base_url: str) -> str:
    """The durable-client binding value the host passes to the starter."""
    management = {
        "id": "INSTANCEID",
        "statusQueryGetUri": f"{BASE}/instances/INSTANCEID?{QUERY}",
        "sendEventPostUri": f"{BASE}/instances/INSTANCEID/raiseEvent/{{eventName}}?{QUERY}",
        "terminatePostUri": f"{BASE}/instances/INSTANCEID/terminate?reason={{text}}&{QUERY}",
        "rewindPostUri": f"{BASE}/instances/INSTANCEID/rewind?reason={{text}}&{QUERY}",
        "purgeHistoryDeleteUri": f"{BASE}/instances/INSTANCEID?{QUERY}",
        "restartPostUri": f"{BASE}/instances/INSTANCEID/restart?{QUERY}",
        "suspendPostUri": f"{BASE}/instances/INSTANCEID/suspend?reason={{text}}&{QUERY}",
        "resumePostUri": f"{BASE}/instances/INSTANCEID/resume?reason={{text}}&{QUERY}",
    }
    create = f"{BASE}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps(
        {
            "taskHubName": "TestHubName",
            "creationUrls": {
                "createNewInstancePostUri": f"{create}?code=SYSKEY",
                "createAndWaitOnNewInstancePostUri": f"{create}?timeout={{timeoutInSeconds}}"
                "&pollingInterval={intervalInSeconds}&code=SYSKEY",
            },
            "managementUrls": management,
            "baseUrl": BASE,
            "requiredQueryStringParameters": "code=SYSKEY",
            "rpcBaseUrl": rpc_base_url,
        }
    )
