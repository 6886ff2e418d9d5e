"""The one-command demo: the real function app on durable-local, with simulated consumers.

Run from the repository root::

    python -m demo.run_demo

It starts ``durable-local`` on a free port (its own temporary SQLite store), runs the sync
workflow and a 25-device provisioning run over real HTTP, and plays the consumers: it follows
each child orchestration's custom status, fetches the package through its URL and checks the
SHA-256 digest when the URL is http(s) (today's in-memory package store hands out ``memory://``
URLs, which nobody outside the worker can fetch; then the digest from the custom status is
used), and raises ``DownloadCompletedAck`` through the public Durable HTTP API. One device never
answers (it times out) and one rejects the package. The demo prints progress while it runs,
then the aggregated outputs, stops the runtime, and exits 0 only if everything came out as
expected. See docs/demo.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from demo.azurite import Azurite, AzuriteError, azurite_installed
from demo.durable_client import ACK_EVENT, DurableClient
from demo.host_process import LocalHost

SYNC_ACK_TIMEOUT = 60
TIMED_OUT_DEVICE = "device-013"
REJECTING_DEVICE = "device-007"
REJECT_REASON = "installation failed: not enough disk space"


def _print(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class Consumer:
    """Plays the consumers of one parent run: CRM and warehouse, or the devices."""

    client: DurableClient
    session: aiohttp.ClientSession
    name: str
    silent: frozenset[str] = frozenset()
    rejecting: frozenset[str] = frozenset()
    handled: dict[str, str] = field(default_factory=dict)  # child id -> what we did
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _last_line: str = ""

    async def run(self, parent_id: str, timeout: float) -> dict[str, Any]:
        """Follow the parent and its children until the parent finishes; return its status."""
        deadline = time.monotonic() + timeout
        acking: set[asyncio.Task[None]] = set()
        while True:
            parent = await self.client.status(parent_id)
            if parent.status not in (200, 202):
                raise RuntimeError(f"status of {parent_id} answered {parent}")
            state: dict[str, Any] = parent.body
            custom = state.get("customStatus") or {}
            prefix = custom.get("childInstanceIdPrefix") if isinstance(custom, dict) else None
            children = await self.client.list_prefix(prefix) if prefix else []
            children = [c for c in children if c["instanceId"] != parent_id]
            for child in children:
                child_id = child["instanceId"]
                stage = (child.get("customStatus") or {}).get("stage")
                if stage == "awaiting_ack" and child_id not in self.handled:
                    self.handled[child_id] = "seen"
                    task = asyncio.create_task(self._answer(child))
                    acking.add(task)
                    task.add_done_callback(acking.discard)
            self._progress(state, children)
            if state["runtimeStatus"] not in ("Pending", "Running"):
                if acking:
                    await asyncio.gather(*acking)
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {parent_id} still running after {timeout} s")
            await asyncio.sleep(0.1)

    async def _answer(self, child: dict[str, Any]) -> None:
        child_id: str = child["instanceId"]
        custom: dict[str, Any] = child["customStatus"]
        short = child_id.rsplit(":", 1)[-1]
        if custom.get("eventName") != ACK_EVENT:
            self.problems.append(f"{child_id}: expected event {ACK_EVENT}, status says {custom}")
        if short in self.silent:
            self.handled[child_id] = "silent"  # this consumer never answers: the child times out
            return
        digest, source = await self._digest(custom)
        if short in self.rejecting:
            payload: dict[str, Any] = {"ok": False, "reason": REJECT_REASON}
            self.handled[child_id] = "rejected"
        elif not digest:
            payload = {"ok": False, "reason": source}
            self.handled[child_id] = "download-refused"
        elif digest != custom["sha256"]:
            payload = {"ok": False, "reason": f"sha256 mismatch: downloaded {digest}"}
            self.handled[child_id] = "digest-mismatch"
            self.problems.append(f"{child_id}: downloaded digest does not match the status")
        else:
            payload = {"ok": True, "sha256": digest}
            self.handled[child_id] = f"acked ({source})"
        response = await self.client.raise_event(child_id, payload)
        if response.status != 202:
            self.problems.append(f"{child_id}: raiseEvent answered {response}")

    async def _digest(self, custom: dict[str, Any]) -> tuple[str, str]:
        url: str = custom["packageUrl"]
        if not url.lower().startswith(("http://", "https://")):
            # memory:// (the in-memory package store): nothing to download from outside.
            return str(custom["sha256"]), "digest from the custom status (URL not fetchable)"
        async with self.session.get(url) as response:
            if response.status != 200:
                self.problems.append(f"GET {url} answered {response.status}")
                # An expired or tampered SAS: storage refuses (403) and the device says so.
                return "", f"download refused by storage: HTTP {response.status}"
            data = await response.read()
        return hashlib.sha256(data).hexdigest(), "downloaded, digest checked"

    def _progress(self, parent: dict[str, Any], children: list[dict[str, Any]]) -> None:
        stages: dict[str, int] = {}
        for child in children:
            stage = (child.get("customStatus") or {}).get("stage") or child["runtimeStatus"]
            if child["runtimeStatus"] != "Running":
                stage = child["runtimeStatus"].lower()
            stages[stage] = stages.get(stage, 0) + 1
        answered = sum(1 for v in self.handled.values() if v not in ("seen", "silent"))
        custom = parent.get("customStatus") or {}
        done = f"{custom.get('completed', '?')}/{custom.get('total', '?')}"
        summary = ", ".join(f"{k} {v}" for k, v in sorted(stages.items())) or "no children yet"
        line = (
            f"{parent['runtimeStatus']:<9} children done {done:<6} | {summary} | "
            f"acks sent {answered}"
        )
        if line != self._last_line:
            self._last_line = line
            _print(f"  [{self.name} {time.monotonic() - self.started:5.1f}s] {line}")


def _check(condition: bool, message: str, failures: list[str]) -> None:
    if not condition:
        failures.append(message)


def check_sync(state: dict[str, Any], failures: list[str]) -> None:
    _check(state["runtimeStatus"] == "Completed", f"sync run is {state['runtimeStatus']}", failures)
    output = state.get("output") or {}
    _check(output.get("status") == "completed", "sync run status is not completed", failures)
    customer = output.get("customer") or {}
    inventory = output.get("inventory") or {}
    expected_customer = {
        "step": "customer_sync",
        "customerId": "cust-1001",
        "segment": "enterprise",
        "status": "completed",
        "digestVerified": True,
    }
    for key, value in expected_customer.items():
        _check(customer.get(key) == value, f"customer.{key} = {customer.get(key)!r}", failures)
    expected_inventory = {
        "step": "inventory_sync",
        "skuCount": 2,
        "skus": ["SKU-100", "SKU-200"],
        "status": "completed",
        "digestVerified": True,
    }
    for key, value in expected_inventory.items():
        _check(inventory.get(key) == value, f"inventory.{key} = {inventory.get(key)!r}", failures)


def check_devices(state: dict[str, Any], device_ids: list[str], failures: list[str]) -> None:
    _check(
        state["runtimeStatus"] == "Completed", f"devices run is {state['runtimeStatus']}", failures
    )
    output = state.get("output") or {}
    expected_ok = [d for d in device_ids if d not in (TIMED_OUT_DEVICE, REJECTING_DEVICE)]
    _check(output.get("total") == len(device_ids), f"total = {output.get('total')}", failures)
    _check(output.get("succeeded") == expected_ok, "succeeded devices differ", failures)
    failed = {f["deviceId"]: f for f in output.get("failed") or []}
    _check(
        set(failed) == {TIMED_OUT_DEVICE, REJECTING_DEVICE}, f"failed = {sorted(failed)}", failures
    )
    if TIMED_OUT_DEVICE in failed:
        _check(failed[TIMED_OUT_DEVICE]["status"] == "timed_out", "no timeout", failures)
    if REJECTING_DEVICE in failed:
        rejected = failed[REJECTING_DEVICE]
        _check(rejected["status"] == "rejected", "no rejection", failures)
        _check(rejected.get("reason") == REJECT_REASON, "rejection reason lost", failures)
    devices = output.get("devices") or {}
    for device_id in expected_ok:
        _check(
            (devices.get(device_id) or {}).get("digestVerified") is True,
            f"{device_id}: digest not verified",
            failures,
        )
    _check(output.get("status") == "completed_with_errors", "run status", failures)


def print_outputs(sync: dict[str, Any], devices: dict[str, Any]) -> None:
    _print("\n=== Sync run output ===")
    _print(json.dumps(sync.get("output"), indent=2))
    output = dict(devices.get("output") or {})
    per_device = output.pop("devices", {})
    succeeded = output.pop("succeeded", [])
    _print("\n=== Devices run output (per-device details below) ===")
    _print(json.dumps(output, indent=2))
    _print(f"succeeded ({len(succeeded)}): {', '.join(succeeded)}")
    _print("")
    _print(f"  {'device':<12} {'status':<10} {'digest':<9} reason")
    for device_id, result in per_device.items():
        verified = "verified" if result.get("digestVerified") else "-"
        _print(
            f"  {device_id:<12} {result.get('status', '?'):<10} {verified:<9} "
            f"{result.get('reason') or ''}"
        )


def package_settings(store: str, workdir: Path) -> tuple[dict[str, str], Azurite | None]:
    """App settings for the package store; starts Azurite for ``blob`` (``auto``: if installed)."""
    if store == "auto":
        store = "blob" if azurite_installed() else "memory"
        if store == "memory":
            _print("Azurite is not installed (npm install): packages stay in worker memory.")
    if store == "memory":
        return {"PACKAGE_STORE": "memory"}, None
    azurite = Azurite(workdir / "azurite")
    _print("Starting Azurite (blob service) ...")
    endpoint = azurite.start()
    _print(f"Azurite is serving blobs on {endpoint}")
    return {"PACKAGE_STORE": "blob", "AzureWebJobsStorage": azurite.connection_string}, azurite


async def run(devices: int, device_timeout: int, workdir: Path, store: str) -> int:
    started = time.monotonic()
    settings, azurite = package_settings(store, workdir)
    try:
        return await _run(devices, device_timeout, workdir, settings, started)
    finally:
        if azurite is not None:
            azurite.stop()


async def _run(
    devices: int, device_timeout: int, workdir: Path, settings: dict[str, str], started: float
) -> int:
    host = LocalHost(
        workdir / "durable.db",
        workdir / "durable-local.log",
        settings={
            "ACK_TIMEOUT_SECONDS": str(SYNC_ACK_TIMEOUT),
            "ACTIVITY_RETRY_FIRST_INTERVAL_MS": "1000",
            **settings,
        },
    )
    _print(f"Starting durable-local (store {host.store}) ...")
    base_url = host.start()
    _print(f"durable-local is serving on {base_url} ({time.monotonic() - started:.1f} s)")
    failures: list[str] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            client = DurableClient(session, base_url)

            _print("\n--- Sync workflow: POST /api/start-sub-orchestration ---")
            response = await client.start_sync({})
            if response.status != 202:
                raise RuntimeError(f"start answered {response}")
            sync_id = response.body["id"]
            _print(f"started {sync_id}; the CRM and the warehouse system will ack")
            crm = Consumer(client, session, "sync")
            sync_state = await crm.run(sync_id, timeout=60)
            check_sync(sync_state, failures)
            failures.extend(crm.problems)

            device_ids = [f"device-{n:03d}" for n in range(1, devices + 1)]
            _print(
                f"\n--- Devices workflow: POST /api/provision-devices ({devices} devices, "
                f"ackTimeoutSeconds {device_timeout}) ---"
            )
            response = await client.start_devices(
                {"deviceIds": device_ids, "ackTimeoutSeconds": device_timeout}
            )
            if response.status != 202:
                raise RuntimeError(f"start answered {response}")
            devices_id = response.body["id"]
            _print(
                f"started {devices_id}; {REJECTING_DEVICE} will reject its package, "
                f"{TIMED_OUT_DEVICE} will never answer"
            )
            fleet = Consumer(
                client,
                session,
                "devices",
                silent=frozenset({TIMED_OUT_DEVICE}),
                rejecting=frozenset({REJECTING_DEVICE}),
            )
            devices_state = await fleet.run(devices_id, timeout=60 + device_timeout)
            check_devices(devices_state, device_ids, failures)
            failures.extend(fleet.problems)
            sources = {v for v in [*crm.handled.values(), *fleet.handled.values()]}
            acked = sorted(s[len("acked (") : -1] for s in sources if s.startswith("acked ("))
            _print(f"\nDigests used for the acks: {', '.join(acked) or 'none'}")

            print_outputs(sync_state, devices_state)
    finally:
        _print("\nStopping durable-local ...")
        code = host.stop()
        if code not in (0, None):
            failures.append(f"durable-local exited with {code}")
    if failures:
        _print("\nDEMO FAILED:")
        for failure in failures:
            _print(f"  - {failure}")
        _print("\nLast lines of the runtime log:")
        _print("\n".join(host.log_text().splitlines()[-40:]))
        return 1
    _print(f"\nDemo OK in {time.monotonic() - started:.1f} s: every outcome was as expected.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.run_demo", description=__doc__)
    parser.add_argument("--devices", type=int, default=25, help="devices to provision (25)")
    parser.add_argument(
        "--device-ack-timeout", type=int, default=4, help="ackTimeoutSeconds of the device run (4)"
    )
    parser.add_argument(
        "--package-store",
        choices=("auto", "blob", "memory"),
        default="auto",
        help="blob: packages on a private Azurite (SAS URLs, digests checked by download); "
        "memory: worker memory (memory:// URLs); auto (default): blob if Azurite is installed",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the store and the runtime log afterwards"
    )
    args = parser.parse_args(argv)
    if args.devices < 13:
        parser.error("--devices must be at least 13 (device-007 rejects, device-013 times out)")
    if args.keep:
        workdir = Path(tempfile.mkdtemp(prefix="durable-demo-"))
        _print(f"Keeping the store and logs in {workdir}")
        return _main(args, workdir)
    with tempfile.TemporaryDirectory(prefix="durable-demo-") as tmp:
        return _main(args, Path(tmp))


def _main(args: argparse.Namespace, workdir: Path) -> int:
    try:
        return asyncio.run(run(args.devices, args.device_ack_timeout, workdir, args.package_store))
    except (AzuriteError, RuntimeError, TimeoutError) as exc:
        _print(f"\nDEMO FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
