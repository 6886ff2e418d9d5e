"""The extension's built-in HTTP activity (``call_http``, spec §10.5): it runs in the host,
not in the language worker."""

from __future__ import annotations

import json

from durable_local.model import compact


async def call_durable_http(request_json: str | None) -> str:
    """Run a ``call_http`` action (the extension's built-in HTTP activity, spec §10.5).

    Returns the DurableHttpResponse JSON: ``{"statusCode", "headers", "content"}``. Managed
    identity tokens (``tokenSource``) cannot be had locally and are refused.
    """
    import aiohttp

    request = json.loads(request_json or "{}")
    if request.get("tokenSource"):
        raise ValueError("call_http with a managed identity token is not supported locally")
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    timeout = aiohttp.ClientTimeout(total=100)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.request(
            str(request.get("method") or "GET"),
            str(request["uri"]),
            data=request.get("content"),
            headers=headers,
        ) as response,
    ):
        content = await response.text()
        return compact(
            {
                "statusCode": response.status,
                "headers": {k: v for k, v in response.headers.items()},
                "content": content,
            }
        )
