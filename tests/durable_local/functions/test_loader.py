"""Loading an app directory: local.settings.json, host.json, function_app.py and its errors."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from durable_local.functions.loader import load_app
from durable_local.functions.settings import (
    HostSettings,
    LoaderError,
    load_local_settings,
    local_http_port,
    read_host_json,
)
from durable_local.worker.logs import configure_logging
from tests.fixture_apps import BASIC_APP
from tests.helpers.apps import AppLoader, write_app

MINIMAL_APP = """
import azure.functions as func
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="ping")
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")
"""


# --------------------------------------------------------------------------------------------
# function_app.py
# --------------------------------------------------------------------------------------------


def test_loads_the_fixture_app(basic_app: object, app_loader: AppLoader) -> None:
    loaded = app_loader(BASIC_APP)
    registry = loaded.registry
    assert registry.orchestrator("hello_sequence") is not None
    assert registry.orchestrator("aliasedorchestrator") is not None  # orchestration= alias
    assert registry.orchestrator("aliased_impl") is None
    assert registry.activity("say_hello") is not None
    assert {f.function_name for f in registry.http} >= {"http_start", "client_ops", "get_item"}
    assert loaded.settings == HostSettings(
        route_prefix="api",
        hub_name="HostTestHub",
        max_concurrent_activities=4,
        max_concurrent_orchestrations=3,
    )
    assert loaded.app_dir == BASIC_APP.resolve()
    assert sys.modules["function_app"] is loaded.module


def test_import_runs_in_the_app_directory(tmp_path: Path, app_loader: AppLoader) -> None:
    source = MINIMAL_APP + "\nimport os\nIMPORT_CWD = os.getcwd()\n"
    root = write_app(tmp_path / "app", source)
    before = os.getcwd()
    loaded = app_loader(root)
    assert str(root.resolve()) == loaded.module.IMPORT_CWD
    assert os.getcwd() == before
    assert str(root.resolve()) in sys.path


def test_app_may_import_its_own_modules(tmp_path: Path, app_loader: AppLoader) -> None:
    root = write_app(
        tmp_path / "app",
        "import helper_mod_for_loader_test as h\n" + MINIMAL_APP,
        helper_mod_for_loader_test__py="VALUE = 1\n",
    )
    assert app_loader(root).module.h.VALUE == 1


def test_unload_gives_back_sys_modules_and_sys_path(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app",
        "import helper_mod_for_unload_test as h\n" + MINIMAL_APP,
        helper_mod_for_unload_test__py="VALUE = 1\n",
    )
    path_before = list(sys.path)
    loaded = load_app(root)
    assert "helper_mod_for_unload_test" in sys.modules
    loaded.unload()
    assert "helper_mod_for_unload_test" not in sys.modules
    assert sys.modules.get("function_app") is not loaded.module
    assert sys.path == path_before
    # a library imported during the load stays: only the app's own modules are forgotten
    assert "azure.functions" in sys.modules


def test_a_failed_load_leaves_nothing_behind(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app",
        "import helper_mod_for_failed_load as h\nx = 1\n",
        helper_mod_for_failed_load__py="VALUE = 1\n",
    )
    path_before = list(sys.path)
    with pytest.raises(LoaderError):
        load_app(root)
    assert "helper_mod_for_failed_load" not in sys.modules
    assert sys.path == path_before


def test_no_function_app_is_an_error(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", "x = 1\n")
    with pytest.raises(LoaderError, match="no module-level function app"):
        load_app(root)


def test_blueprint_alone_is_not_an_app(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app", "import azure.durable_functions as df\nbp = df.Blueprint()\n"
    )
    with pytest.raises(LoaderError, match="Blueprint alone"):
        load_app(root)


def test_two_function_apps_are_an_error(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", MINIMAL_APP + "\nother = func.FunctionApp()\n")
    with pytest.raises(LoaderError, match=r"2 module-level function apps \(app, other\)"):
        load_app(root)


def test_the_same_app_under_two_names_is_fine(tmp_path: Path, app_loader: AppLoader) -> None:
    root = write_app(tmp_path / "app", MINIMAL_APP + "\nalias = app\n")
    assert len(app_loader(root).registry.http) == 1


def test_import_failure_carries_the_traceback(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app", "import json\n\ndef f():\n    raise KeyError('oops')\n\nf()\n"
    )
    with pytest.raises(LoaderError) as info:
        load_app(root)
    message = str(info.value)
    assert "Traceback" in message and "KeyError: 'oops'" in message and "function_app.py" in message
    assert "function_app" not in sys.modules or sys.modules["function_app"].__file__ != str(
        root / "function_app.py"
    )


def test_syntax_error_is_reported(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", "def broken(:\n")
    with pytest.raises(LoaderError, match="SyntaxError"):
        load_app(root)


def test_duplicate_function_names_are_an_error(tmp_path: Path) -> None:
    source = MINIMAL_APP + (
        '\n@app.function_name("ping")\n@app.route(route="ping2")\n'
        "def ping_two(req):\n    return func.HttpResponse('x')\n"
    )
    root = write_app(tmp_path / "app", source)
    with pytest.raises(LoaderError, match="unique function name"):
        load_app(root)


def test_duplicate_durable_names_are_an_error(tmp_path: Path) -> None:
    source = """
import azure.durable_functions as df
app = df.DFApp()

@app.activity_trigger(input_name="x")
def work(x):
    return x

@app.activity_trigger(input_name="x", activity="WORK")
def other(x):
    return x
"""
    root = write_app(tmp_path / "app", source)
    with pytest.raises(LoaderError, match="WORK"):
        load_app(root)


def test_entity_functions_are_reported_unsupported(tmp_path: Path, app_loader: AppLoader) -> None:
    source = """
import azure.durable_functions as df
app = df.DFApp()

@app.entity_trigger(context_name="context")
def Counter(context):
    context.set_state(1)
"""
    loaded = app_loader(write_app(tmp_path / "app", source))
    assert [(u.function_name, u.trigger_type) for u in loaded.registry.unsupported] == [
        ("Counter", "entityTrigger")
    ]


def test_missing_directory_and_missing_script(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="does not exist"):
        load_app(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoaderError, match=r"No function_app\.py"):
        load_app(tmp_path / "empty")


def test_script_file_name_setting(tmp_path: Path, app_loader: AppLoader) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "main_app.py").write_text(MINIMAL_APP)
    (root / "local.settings.json").write_text(
        json.dumps({"Values": {"PYTHON_SCRIPT_FILE_NAME": "main_app.py"}})
    )
    loaded = app_loader(root)
    assert loaded.script.name == "main_app.py"


# --------------------------------------------------------------------------------------------
# local.settings.json
# --------------------------------------------------------------------------------------------


def test_local_settings_do_not_override_the_environment(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"A": "from-file", "B": "from-file", "N": 5, "T": True, "Z": None}})
    )
    env = {"B": "from-env"}
    applied = load_local_settings(tmp_path, env)
    assert env == {"A": "from-file", "B": "from-env", "N": "5", "T": "true"}
    assert applied == {"A": "from-file", "N": "5", "T": "true"}


def test_example_settings_are_never_read(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json.example").write_text(json.dumps({"Values": {"A": "x"}}))
    env: dict[str, str] = {}
    assert load_local_settings(tmp_path, env) == {}
    assert env == {}


def test_fixture_example_file_is_ignored_but_environment_wins(
    monkeypatch: pytest.MonkeyPatch, app_loader: AppLoader
) -> None:
    monkeypatch.setenv("FIXTURE_PRESET", "from-environment")
    app_loader(BASIC_APP)
    assert os.environ["FIXTURE_SETTING"] == "from-local-settings"
    assert os.environ["FIXTURE_PRESET"] == "from-environment"
    assert "FIXTURE_EXAMPLE_ONLY" not in os.environ


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "invalid JSON"),
        ("[]", "JSON object"),
        ('{"IsEncrypted": true, "Values": {}}', "IsEncrypted"),
        ('{"Values": []}', "Values"),
    ],
)
def test_bad_local_settings(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "local.settings.json").write_text(content)
    with pytest.raises(LoaderError, match=message):
        load_local_settings(tmp_path, {})


def test_local_http_port(tmp_path: Path) -> None:
    assert local_http_port(tmp_path) is None
    (tmp_path / "local.settings.json").write_text('{"Host": {"LocalHttpPort": 7072}}')
    assert local_http_port(tmp_path) == 7072


# --------------------------------------------------------------------------------------------
# host.json
# --------------------------------------------------------------------------------------------


def test_host_json_defaults(tmp_path: Path) -> None:
    assert read_host_json(tmp_path, {}) == HostSettings()
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert read_host_json(tmp_path, {}) == HostSettings(route_prefix="api", hub_name="TestHubName")


def test_host_json_settings_and_hub_name_reference(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": "/v1/"},
                    "durableTask": {
                        "hubName": "%MY_HUB%",
                        "maxConcurrentActivityFunctions": 2,
                        "maxConcurrentOrchestratorFunctions": 5,
                    },
                },
            }
        )
    )
    settings = read_host_json(tmp_path, {"MY_HUB": "ResolvedHub"})
    assert settings == HostSettings("v1", "ResolvedHub", 2, 5)
    with pytest.raises(LoaderError, match="MY_HUB"):
        read_host_json(tmp_path, {})


@pytest.mark.parametrize(
    "content",
    [
        "{oops",
        '{"extensions": []}',
        '{"extensions": {"http": {"routePrefix": 1}}}',
        '{"extensions": {"durableTask": {"hubName": ""}}}',
        '{"extensions": {"durableTask": {"maxConcurrentActivityFunctions": 0}}}',
        '{"extensions": {"durableTask": {"maxConcurrentOrchestratorFunctions": "3"}}}',
    ],
)
def test_bad_host_json(tmp_path: Path, content: str) -> None:
    (tmp_path / "host.json").write_text(content)
    with pytest.raises(LoaderError, match=r"host\.json"):
        read_host_json(tmp_path, {})


def test_empty_route_prefix(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert read_host_json(tmp_path, {}).route_prefix == ""


# --------------------------------------------------------------------------------------------
# logging
# --------------------------------------------------------------------------------------------


def test_configure_logging_installs_one_console_handler() -> None:
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("DEBUG")
        configure_logging("INFO")
        handlers = [h for h in root.handlers if h.get_name() == "durable-local-console"]
        assert len(handlers) == 1
        assert root.level == logging.INFO
        with pytest.raises(LoaderError):
            configure_logging("LOUD")
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "durable-local-console"]:
            root.removeHandler(handler)
        root.setLevel(level)
