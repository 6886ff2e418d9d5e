"""Where the Durable endpoints live, and the management URLs the extension hands out (spec §5.4)."""

from __future__ import annotations

from urllib.parse import quote

#: The public Durable HTTP API (system key in Azure).
WEBHOOK_BASE = "/runtime/webhooks/durabletask"
#: The SDK client's RPC base (``rpcBaseUrl``, loopback only).
RPC_BASE = "/durabletask"
#: Admin endpoints of the Functions host.
ADMIN_BASE = "/admin"
DEFAULT_CONNECTION = "Storage"


def management_query(hub_name: str, connection: str, system_key: str | None) -> str:
    query = f"taskHub={hub_name}&connection={connection}"
    return f"{query}&code={system_key}" if system_key else query


def management_urls(
    origin: str,
    instance_id: str,
    *,
    hub_name: str,
    connection: str = DEFAULT_CONNECTION,
    system_key: str | None = None,
    include_rewind: bool = True,
) -> dict[str, str]:
    """The check-status payload for ``instance_id``: ``id`` plus the management URLs.

    ``origin`` is ``scheme://host[:port]`` without a trailing slash. The extension's own
    check-status response (HTTP API start) leaves out ``rewindPostUri`` (spec §5.4).
    """
    # EXT GetClientResponseLinks: WebUtility.UrlEncode(instanceId), so ids with spaces, '%',
    # ':' or non-ASCII characters still give URLs a client can follow.
    base = f"{origin}{WEBHOOK_BASE}/instances/{quote(instance_id, safe='')}"
    query = management_query(hub_name, connection, system_key)
    urls = {
        "id": instance_id,
        "statusQueryGetUri": f"{base}?{query}",
        "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{base}?{query}",
        "restartPostUri": f"{base}/restart?{query}",
        "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
    }
    if not include_rewind:
        del urls["rewindPostUri"]
    return urls
