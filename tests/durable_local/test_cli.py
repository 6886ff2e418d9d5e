"""``durable-local start``: settings resolution, the function listing, and the real process
driven over real HTTP (slow), including a restart that resumes in-flight work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from durable_local import cli
from durable_local.functions.loader import LoadedApp
from durable_local.http import DEFAULT_MAX_BODY_SIZE
from tests.fixture_apps import BASIC_APP


def parse(*argv: str) -> Any:
    return cli.build_parser().parse_args(["start", *argv])


@pytest.fixture
def no_console_handler() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if h.get_name() == "durable-local-console"]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_defaults() -> None:
    args = parse()
    assert (args.app_dir, args.host, args.port, args.store) == (
        ".",
        "127.0.0.1",
        None,
        ".durable/durable.db",
    )


def test_keys_from_flags_and_environment() -> None:
    env = {"DURABLE_LOCAL_FUNCTION_KEY": "a, b", "DURABLE_LOCAL_SYSTEM_KEY": "s"}
    keys = cli.host_keys(parse(), env)
    assert keys.function_keys == ("a", "b") and keys.system_key == "s" and keys.master_key is None
    keys = cli.host_keys(parse("--function-key", "x", "--master-key", "m"), env)
    assert keys.function_keys == ("x",) and keys.master_key == "m" and keys.system_key == "s"
    assert not cli.host_keys(parse(), {}).enforced


def test_max_body_size() -> None:
    assert cli.max_body_size(parse(), {}) == DEFAULT_MAX_BODY_SIZE
    assert cli.max_body_size(parse(), {"DURABLE_LOCAL_MAX_BODY_SIZE": "10"}) == 10
    assert (
        cli.max_body_size(parse("--max-body-size", "5"), {"DURABLE_LOCAL_MAX_BODY_SIZE": "10"}) == 5
    )
    with pytest.raises(cli.UsageError):
        cli.max_body_size(parse("--max-body-size", "0"), {})
    with pytest.raises(cli.UsageError):
        cli.max_body_size(parse(), {"DURABLE_LOCAL_MAX_BODY_SIZE": "big"})


def test_store_location(tmp_path: Path) -> None:
    assert cli.store_location(":memory:", tmp_path) == ":memory:"
    location = cli.store_location(".durable/x.db", tmp_path)
    assert location == str(tmp_path / ".durable" / "x.db")
    assert (tmp_path / ".durable").is_dir()
    assert cli.store_location(str(tmp_path / "abs.db"), Path("/elsewhere")) == str(
        tmp_path / "abs.db"
    )


def test_prepare_resolves_everything(tmp_path: Path) -> None:
    options = cli.prepare(parse("--app-dir", str(BASIC_APP), "--store", str(tmp_path / "s.db")), {})
    options.loaded.unload()  # prepare() loads the app in this process
    assert options.port == 7071
    assert options.config.route_prefix == "api"
    assert options.loaded.settings.hub_name == "HostTestHub"
    assert options.store == str(tmp_path / "s.db")


def test_function_listing(basic_app: LoadedApp) -> None:
    loaded = basic_app
    text = cli.describe_functions(loaded, "http://localhost:7071", "api")
    assert (
        "\thttp_start: [POST] http://localhost:7071/api/orchestrators/{functionName}/{instanceId?}"
        in text
    )
    assert "\ttext: [GET,POST,...] http://localhost:7071/api/text" in text
    assert "\thello_sequence: orchestrationTrigger" in text
    assert "\taliased_impl: orchestrationTrigger (as 'AliasedOrchestrator')" in text
    assert "\tsay_hello: activityTrigger" in text


def test_main_reports_load_errors(tmp_path: Path, capsys: Any, no_console_handler: None) -> None:
    assert cli.main(["start", "--app-dir", str(tmp_path)]) == 1
    assert "No function_app.py" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The real process
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, store: Path, port: int, log_dir: Path, *extra: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.stdout_path = log_dir / f"stdout-{time.monotonic_ns()}.txt"
        self.stderr_path = log_dir / f"stderr-{time.monotonic_ns()}.txt"
        env = dict(os.environ)
        env.pop("FUNCTIONS_WORKER_RUNTIME", None)
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "durable_local",
                    "start",
                    "--app-dir",
                    str(BASIC_APP),
                    "--port",
                    str(port),
                    "--store",
                    str(store),
                    *extra,
                ],
                stdout=out,
                stderr=err,
                env=env,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.stdout}\n{self.stderr}")
            try:
                async with session.get(f"{self.base}/admin/host/status") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"server not ready:\n{self.stdout}\n{self.stderr}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


async def wait_status(session: aiohttp.ClientSession, url: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            body = await response.json()
            if body.get("runtimeStatus") == wanted:
                return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"still {body.get('runtimeStatus')} at {url}")


async def hello_sequence(session: aiohttp.ClientSession, server: Server, city: str) -> None:
    """Start the fixture's hello_sequence through its HTTP starter and wait for its output."""
    async with session.post(f"{server.base}/api/orchestrators/hello_sequence", json=city) as r:
        assert r.status == 202
        links = await r.json()
    done = await wait_status(session, links["statusQueryGetUri"], "Completed")
    assert done["output"] == ["Hello Tokyo!", "Hello Seattle!", f"Hello {city}!"]


@pytest.mark.slow
async def test_cli_serves_the_app_over_real_http_and_resumes_after_restart(tmp_path: Path) -> None:
    store = tmp_path / "durable.db"
    port = free_port()
    server = Server(store, port, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
            out = server.stdout
            assert f"http_start: [POST] http://127.0.0.1:{port}/api/orchestrators/" in out
            assert "hello_sequence: orchestrationTrigger" in out

            # A starter using the SDK client, then the check-status URL until done.
            await hello_sequence(session, server, "Nice")

            # App logs (azure-functions-logging in host mode) reach the console.
            async with session.get(f"{server.base}/api/log") as r:
                assert r.status == 200
            await asyncio.sleep(0.2)
            assert "app log line from the fixture" in server.stderr

            # Leave an instance waiting for an event, and stop the host with SIGTERM.
            async with session.post(
                f"{server.base}/runtime/webhooks/durabletask/orchestrators/wait_approval/persist",
                json={"n": 1},
            ) as r:
                assert r.status == 202
                waiting = await r.json()
            await wait_status(session, waiting["statusQueryGetUri"], "Running")
        assert server.stop(signal.SIGTERM) == 0
        assert "Host stopped." in server.stdout

        # Same store, new process: the instance is still there and finishes.
        server = Server(store, port, tmp_path)
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
            event_url = waiting["sendEventPostUri"].replace("{eventName}", "Approval")
            async with session.post(event_url, json="granted") as r:
                assert r.status == 202, await r.text()
            done = await wait_status(session, waiting["statusQueryGetUri"], "Completed")
            assert done["output"] == {"approval": "granted", "input": {"n": 1}}
        assert server.stop(signal.SIGINT) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def children_of(pid: int) -> dict[int, str]:
    """pid -> command line of the live processes whose parent is ``pid`` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")"
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("in_process", [False, True], ids=["worker-process", "in-process"])
async def test_cli_runs_user_code_in_a_worker_process_unless_told_otherwise(
    tmp_path: Path, in_process: bool
) -> None:
    extra = ("--in-process",) if in_process else ()
    server = Server(tmp_path / "durable.db", free_port(), tmp_path, *extra)
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
            children = children_of(server.process.pid)
            workers = [pid for pid, cmd in children.items() if "durable_local.worker" in cmd]
            assert len(workers) == (0 if in_process else 1), children
            await hello_sequence(session, server, "Oslo")
        assert server.stop(signal.SIGTERM) == 0
        assert not any(alive(pid) for pid in workers)  # the worker went with the host
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def cpus_of(pid: int) -> set[int]:
    """The CPUs every thread of ``pid`` may run on (the union over its threads)."""
    allowed: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            allowed |= os.sched_getaffinity(int(task.name))
    return allowed


@pytest.mark.slow
@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two CPUs",
)
@pytest.mark.parametrize("split", [True, False], ids=["split", "no-cpu-split"])
async def test_cli_keeps_one_cpu_for_the_host_and_gives_the_worker_the_others(
    tmp_path: Path, split: bool
) -> None:
    extra = () if split else ("--no-cpu-split",)
    server = Server(tmp_path / "durable.db", free_port(), tmp_path, *extra)
    everything = os.sched_getaffinity(0)
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
            [worker] = [
                pid
                for pid, cmd in children_of(server.process.pid).items()
                if "durable_local.worker" in cmd
            ]
            host_cpus, worker_cpus = cpus_of(server.process.pid), cpus_of(worker)
            if split:
                assert len(host_cpus) == 1
                assert worker_cpus == everything - host_cpus
            else:
                assert host_cpus == worker_cpus == everything
            await hello_sequence(session, server, "Lima")  # and it works either way
        assert server.stop(signal.SIGTERM) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.mark.slow
def test_cli_exits_with_an_error_for_a_broken_app(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("raise RuntimeError('cannot start')\n")
    result = subprocess.run(
        [sys.executable, "-m", "durable_local", "start", "--app-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "RuntimeError: cannot start" in result.stderr


@pytest.mark.slow
def test_cli_exits_with_an_error_when_the_worker_cannot_load_the_app(tmp_path: Path) -> None:
    # Loads in the host, fails in the worker process (argv[0]: durable_local/worker/__main__.py).
    (tmp_path / "function_app.py").write_text(
        "import os, sys\n"
        "import azure.functions as func\n"
        "if os.sep + 'worker' + os.sep in sys.argv[0]:\n"
        "    raise RuntimeError('the worker cannot reach its settings')\n"
        "app = func.FunctionApp()\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "durable_local",
            "start",
            "--app-dir",
            str(tmp_path),
            "--port",
            str(free_port()),
            "--store",
            ":memory:",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "the worker process cannot load the app" in result.stderr
    assert "RuntimeError: the worker cannot reach its settings" in result.stderr
    assert 'function_app.py", line 4' in result.stderr  # the app's own traceback
    assert "asyncio" not in result.stderr  # and no unhandled one from the host


def store_files(store: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in store.parent.iterdir()
        if path.name.startswith(store.name) and not path.name.endswith(".lock")
    }


@pytest.mark.slow
async def test_a_second_start_on_the_same_store_fails_at_once_naming_the_first(
    tmp_path: Path,
) -> None:
    store = tmp_path / "durable.db"
    first = Server(store, free_port(), tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await first.ready(session)
            async with session.post(
                f"{first.base}/runtime/webhooks/durabletask/orchestrators/wait_approval/held",
                json={"n": 1},
            ) as r:
                assert r.status == 202
                waiting = await r.json()
            await wait_status(session, waiting["statusQueryGetUri"], "Running")
            before = store_files(store)

            # The same port or another one: the store is checked first.
            for port in (first.port, free_port()):
                second = Server(store, port, tmp_path)
                assert second.process.wait(timeout=60) == 1
                [line] = second.stderr.strip().splitlines()
                assert line == (
                    f"durable-local: the store {store} is in use by another durable-local "
                    f"(pid {first.process.pid}); stop it, or start this one with another --store"
                )
                assert store_files(store) == before

            # The first serves on, untroubled.
            event_url = waiting["sendEventPostUri"].replace("{eventName}", "Approval")
            async with session.post(event_url, json="granted") as r:
                assert r.status == 202
            await wait_status(session, waiting["statusQueryGetUri"], "Completed")
        assert first.stop() == 0
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait()


@pytest.mark.slow
async def test_listening_beyond_loopback_without_keys_warns_and_refuses_foreign_hosts(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "durable.db", free_port(), tmp_path, "--host", "0.0.0.0")
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
            assert "listening on 0.0.0.0 without keys" in server.stderr
            url = f"{server.base}/runtime/webhooks/durabletask/instances"
            async with session.get(url, headers={"Host": "evil.example"}) as response:
                assert response.status == 403
            async with session.get(url) as response:
                assert response.status == 200
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_cli_start_up_errors_are_one_line(tmp_path: Path) -> None:
    store = tmp_path / "broken.db"
    store.write_bytes(b"not a database " * 200)
    env = {k: v for k, v in os.environ.items() if k != "FUNCTIONS_WORKER_RUNTIME"}
    result = subprocess.run(
        [sys.executable, "-m", "durable_local", "start", "--app-dir", str(BASIC_APP),
         "--store", str(store), "--port", str(free_port()), "--in-process"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("durable-local:")]
    assert lines == [f"durable-local: cannot open the store {store}: file is not a database"]
    assert "Traceback" not in result.stderr
