"""The benchmark's HTTP client, run as a separate process (a client is not part of the host).

    python -m bench.client events BASE_URL INSTANCE_ID COUNT CONCURRENCY
    python -m bench.client acks BASE_URL PREFIX COUNT

It prints ``ready`` once imported and connected, waits for a line on stdin, does its work and
prints one JSON line with its figures. ``events`` raises COUNT ``tick`` events (value 1) with
CONCURRENCY requests in flight. ``acks`` lists the children under PREFIX that are Running
(the instance-id prefix listing) and acks each child as soon as its custom status says it waits:
``{"ok": true, "sha256": <its customStatus.sha256>}`` as ``DownloadCompletedAck``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

DURABLE = "/runtime/webhooks/durabletask"
ACK_EVENT = "DownloadCompletedAck"


async def raise_events(base: str, instance_id: str, count: int, concurrency: int) -> dict[str, Any]:
    url = f"{base}{DURABLE}/instances/{instance_id}/raiseEvent/tick"
    remaining = iter(range(count))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await _ready()
        begin = time.perf_counter()

        async def raiser() -> None:
            for _ in remaining:
                async with session.post(url, json=1) as response:
                    if response.status != 202:
                        raise RuntimeError(f"raiseEvent: {response.status} {await response.text()}")

        await asyncio.gather(*(raiser() for _ in range(concurrency)))
        seconds = time.perf_counter() - begin
    return {"raise_seconds": seconds, "raise_rate": count / seconds}


async def ack_children(base: str, prefix: str, count: int) -> dict[str, Any]:
    list_url = (
        f"{base}{DURABLE}/instances?instanceIdPrefix={prefix}"
        "&runtimeStatus=Running&showInput=false&top=1000"
    )
    acked: set[str] = set()
    pending: set[asyncio.Task[None]] = set()
    polls = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        await _ready()
        begin = time.perf_counter()

        async def ack(child: str, sha256: str) -> None:
            url = f"{base}{DURABLE}/instances/{child}/raiseEvent/{ACK_EVENT}"
            async with session.post(url, json={"ok": True, "sha256": sha256}) as response:
                if response.status != 202:
                    raise RuntimeError(f"ack: {response.status} {await response.text()}")

        while len(acked) < count:
            token = ""
            while True:
                headers = {"x-ms-continuation-token": token} if token else {}
                async with session.get(list_url, headers=headers) as response:
                    items = await response.json()
                    token = response.headers.get("x-ms-continuation-token", "")
                polls += 1
                for item in items:
                    custom = item.get("customStatus")
                    child = item["instanceId"]
                    waiting = isinstance(custom, dict) and custom.get("stage") == "awaiting_ack"
                    if waiting and child not in acked:
                        acked.add(child)
                        task = asyncio.create_task(ack(child, custom["sha256"]))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                if not token:
                    break
            await asyncio.sleep(0.05)
        if pending:
            await asyncio.gather(*pending)
        seconds = time.perf_counter() - begin
    return {"acks": len(acked), "list_polls": polls, "ack_seconds": seconds}


async def _ready() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def main(argv: list[str]) -> int:
    mode, *args = argv
    if mode == "events":
        base, instance_id, count, concurrency = args
        result = asyncio.run(raise_events(base, instance_id, int(count), int(concurrency)))
    elif mode == "acks":
        base, prefix, count = args
        result = asyncio.run(ack_children(base, prefix, int(count)))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
