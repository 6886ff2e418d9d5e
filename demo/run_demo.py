"""The one-command demo: the real function app on durable-local, with simulated consumers.

Run from the repository root::

    python -m demo.run_demo

It starts a private Azurite (blob + queue) and ``durable-local`` on free ports (its own
temporary SQLite store), runs the sync workflow and a 25-device provisioning run over real
HTTP, and plays the consumers as real ones behave, with no key of the app: each reads its
queue (``crm-notifications``, ``warehouse-notifications``, ``device-notifications``),
de-duplicates on ``notificationId``, downloads the package through its SAS URL, checks the
SHA-256 digest and POSTs its ack to the message's signed ``ackUrl``. One device never answers
(it times out) and one rejects the package. The demo prints progress while it runs, then the
aggregated outputs (URLs without their SAS), stops the runtime, and exits 0 only if everything
came out as expected. With ``DEVICE_SYNC_HOST_URL`` set (devtools/target.py) it drives that
already-running host instead. See docs/demo.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from devtools.azurite import Azurite, AzuriteError
from devtools.consumers import NotificationReader, fetch_digest, post_ack
from devtools.durable_client import DurableClient
from devtools.host_process import LocalHost
from devtools.target import RemoteTarget, remote_target

SYNC_ACK_TIMEOUT = 60
TIMED_OUT_DEVICE = "device-013"
REJECTING_DEVICE = "device-007"
REJECT_REASON = "installation failed: not enough disk space"
#: The ack links the demo's consumers used, one per line (kept with --keep, for log scans).
ACK_LINKS_FILE = "ack-links.txt"


def _print(text: str = "") -> None:
    print(text, flush=True)


def without_query(url: str) -> str:
    """A URL as the demo prints it: no SAS (a bearer credential) in the output."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass
class Consumer:
    """Plays the consumers that read one queue for one run (the CRM, the warehouse, a fleet)."""

    client: DurableClient
    storage: str
    queue: str
    name: str
    silent: frozenset[str] = frozenset()
    rejecting: frozenset[str] = frozenset()
    handled: dict[str, str] = field(default_factory=dict)  # child id -> what we did
    ack_links: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _last_line: str = ""

    async def run(self, parent_id: str, expected: int, timeout: float) -> dict[str, Any]:
        """Answer the run's notifications until the parent finishes; return its status."""
        deadline = time.monotonic() + timeout
        reader = NotificationReader(self.storage, self.queue, parent_id)
        acking: set[asyncio.Task[None]] = set()
        while True:
            if len(reader.seen) < expected:
                for note in await reader.take(expected - len(reader.seen), timeout=0.3):
                    task = asyncio.create_task(self._answer(note))
                    acking.add(task)
                    task.add_done_callback(acking.discard)
            parent = await self.client.status(parent_id)
            if parent.status not in (200, 202):
                raise RuntimeError(f"status of {parent_id} answered {parent}")
            state: dict[str, Any] = parent.body
            self._progress(state, reader.duplicates)
            if state["runtimeStatus"] not in ("Pending", "Running"):
                if acking:
                    await asyncio.gather(*acking)
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {parent_id} still running after {timeout} s")
            await asyncio.sleep(0.1)

    async def _answer(self, note: dict[str, Any]) -> None:
        child_id: str = note["instanceId"]
        short = child_id.rsplit(":", 1)[-1]
        self.handled[child_id] = "seen"
        if short in self.silent:
            self.handled[child_id] = "silent"  # this consumer never answers: the child times out
            return
        session = self.client.session
        status, digest = await fetch_digest(session, note["packageUrl"])
        if short in self.rejecting:
            payload: dict[str, Any] = {"ok": False, "reason": REJECT_REASON}
            self.handled[child_id] = "rejected"
        elif status != 200:
            # An expired or tampered SAS: storage refuses (403) and the device says so.
            payload = {"ok": False, "reason": f"download refused by storage: HTTP {status}"}
            self.handled[child_id] = "download-refused"
            self.problems.append(f"GET {without_query(note['packageUrl'])} answered {status}")
        elif digest != note["sha256"]:
            payload = {"ok": False, "reason": f"sha256 mismatch: downloaded {digest}"}
            self.handled[child_id] = "digest-mismatch"
            self.problems.append(f"{child_id}: downloaded digest does not match the message")
        else:
            payload = {"ok": True, "sha256": digest}
            self.handled[child_id] = "acked"
        self.ack_links.append(note["ackUrl"])
        code, body = await post_ack(session, note["ackUrl"], payload)
        if code != 202:
            self.problems.append(f"{child_id}: the ack link answered {code} {body}")

    def _progress(self, parent: dict[str, Any], duplicates: int) -> None:
        answered = sum(1 for v in self.handled.values() if v not in ("seen", "silent"))
        custom = parent.get("customStatus") or {}
        done = f"{custom.get('completed', '?')}/{custom.get('total', '?')}"
        line = (
            f"{parent['runtimeStatus']:<9} children done {done:<6} | notifications "
            f"{len(self.handled)} (+{duplicates} duplicates) | acks sent {answered}"
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


def _redacted(value: Any) -> Any:
    """``value`` with every http(s) URL cut before its query (no SAS on the console)."""
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return without_query(value)
    return value


def print_outputs(sync: dict[str, Any], devices: dict[str, Any]) -> None:
    _print("\n=== Sync run output (URLs without their SAS) ===")
    _print(json.dumps(_redacted(sync.get("output")), indent=2))
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


@dataclass
class Target:
    """Where the demo runs: its own durable-local + Azurite, or an already-running host."""

    base_url: str
    storage: str
    remote: RemoteTarget | None = None
    host: LocalHost | None = None
    azurite: Azurite | None = None

    def client(self, session: aiohttp.ClientSession) -> DurableClient:
        if self.remote is None:
            return DurableClient(session, self.base_url)
        return DurableClient(
            session,
            self.base_url,
            function_key=self.remote.function_key,
            system_key=self.remote.system_key,
        )

    def stop(self) -> int | None:
        code = None
        if self.host is not None:
            _print("\nStopping durable-local ...")
            code = self.host.stop()
        if self.azurite is not None:
            self.azurite.stop()
        return code

    def log_tail(self) -> str:
        return "" if self.host is None else "\n".join(self.host.log_text().splitlines()[-40:])


def start_target(workdir: Path, started: float) -> Target:
    """durable-local and Azurite of its own, or the host DEVICE_SYNC_HOST_URL names."""
    remote = remote_target()
    if remote is not None:
        _print(f"Using the host at {remote.base_url} (DEVICE_SYNC_HOST_URL)")
        return Target(remote.base_url, remote.storage_connection, remote=remote)
    azurite = Azurite(workdir / "azurite")
    _print("Starting Azurite (blob + queue) ...")
    try:
        azurite.start()
    except AzuriteError:
        azurite.stop()
        raise
    _print(f"Azurite: blobs on {azurite.blob_endpoint}, queues on {azurite.queue_endpoint}")
    host = LocalHost(
        workdir / "durable.db",
        workdir / "durable-local.log",
        settings={
            "ACK_TIMEOUT_SECONDS": str(SYNC_ACK_TIMEOUT),
            "ACTIVITY_RETRY_FIRST_INTERVAL_MS": "1000",
            # The app's defaults: blob packages with SAS URLs, queue notifications.
            "PACKAGE_STORE": "blob",
            "NOTIFIER": "queue",
            "AzureWebJobsStorage": azurite.connection_string,
            # What ./dev start generates into local.settings.json on a fresh set-up.
            "ACK_SIGNING_KEY": secrets.token_urlsafe(48),
        },
    )
    _print(f"Starting durable-local (store {host.store}) ...")
    try:
        base_url = host.start()
    except Exception:
        azurite.stop()
        raise
    _print(f"durable-local is serving on {base_url} ({time.monotonic() - started:.1f} s)")
    return Target(base_url, azurite.connection_string, host=host, azurite=azurite)


async def run(devices: int, device_timeout: int, workdir: Path) -> int:
    started = time.monotonic()
    target = start_target(workdir, started)
    failures: list[str] = []
    links: list[str] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            client = target.client(session)
            await _run(client, target.storage, devices, device_timeout, failures, links)
    finally:
        code = target.stop()
        if code not in (0, None):
            failures.append(f"durable-local exited with {code}")
        (workdir / ACK_LINKS_FILE).write_text("".join(f"{link}\n" for link in links))
    if failures:
        _print("\nDEMO FAILED:")
        for failure in failures:
            _print(f"  - {failure}")
        if target.host is not None:
            _print("\nLast lines of the runtime log:")
            _print(target.log_tail())
        return 1
    _print(f"\nDemo OK in {time.monotonic() - started:.1f} s: every outcome was as expected.")
    return 0


async def _run(
    client: DurableClient,
    storage: str,
    devices: int,
    device_timeout: int,
    failures: list[str],
    links: list[str],
) -> None:
    _print("\n--- Sync workflow: POST /api/start-sub-orchestration ---")
    response = await client.start_sync({"ackTimeoutSeconds": SYNC_ACK_TIMEOUT})
    if response.status != 202:
        raise RuntimeError(f"start answered {response}")
    sync_id = response.body["id"]
    _print(f"started {sync_id}; the CRM and the warehouse system read their queues and ack")
    crm = Consumer(client, storage, "crm-notifications", "crm")
    warehouse = Consumer(client, storage, "warehouse-notifications", "warehouse")
    sync_state, _ = await asyncio.gather(
        crm.run(sync_id, 1, timeout=90), warehouse.run(sync_id, 1, timeout=90)
    )
    check_sync(sync_state, failures)

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
        f"started {devices_id}; the devices read device-notifications, {REJECTING_DEVICE} "
        f"will reject its package, {TIMED_OUT_DEVICE} will never answer"
    )
    fleet = Consumer(
        client,
        storage,
        "device-notifications",
        "devices",
        silent=frozenset({TIMED_OUT_DEVICE}),
        rejecting=frozenset({REJECTING_DEVICE}),
    )
    devices_state = await fleet.run(devices_id, devices, timeout=90 + device_timeout)
    check_devices(devices_state, device_ids, failures)
    for consumer in (crm, warehouse, fleet):
        failures.extend(consumer.problems)
        links.extend(consumer.ack_links)
    acked = sum(1 for c in (crm, warehouse, fleet) for v in c.handled.values() if v == "acked")
    _print(f"\n{acked} packages downloaded through their SAS URL, digest checked, acked")
    print_outputs(sync_state, devices_state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.run_demo", description=__doc__)
    parser.add_argument("--devices", type=int, default=25, help="devices to provision (25)")
    parser.add_argument(
        "--device-ack-timeout", type=int, default=4, help="ackTimeoutSeconds of the device run (4)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the store, the logs and {ACK_LINKS_FILE} afterwards",
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
        return asyncio.run(run(args.devices, args.device_ack_timeout, workdir))
    except (AzuriteError, RuntimeError, TimeoutError) as exc:
        _print(f"\nDEMO FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
