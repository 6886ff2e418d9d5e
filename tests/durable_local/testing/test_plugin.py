"""The pytest plugin (the ``pytest11`` entry point of durable-local), in pytest runs of its own:
the durable_host fixture from a marker or the ini option, in pytest-asyncio's auto and strict
modes, the history_builder fixture, and the error when no app is named."""

from __future__ import annotations

import pytest

from tests.fixture_apps import TESTING_APP

pytestmark = pytest.mark.slow

#: A run of its own: no random order, no cache folder, warnings as errors.
RUN = ("-p", "no:randomly", "-p", "no:cacheprovider", "-W", "error")

HOST_TEST = """
import pytest
from durable_local.testing import DurableTestHost, RuntimeStatus

{mark}
async def test_host(durable_host: DurableTestHost) -> None:
    iid = await durable_host.client.start_new("tolerant")
    status = await durable_host.wait_for_status(iid, RuntimeStatus.COMPLETED)
    assert status.output == "note recovered"
    response = await durable_host.http.get("/api/setting/GREETING")
    assert await response.text() == {greeting!r}
"""


def _ini(pytester: pytest.Pytester, mode: str, app_dir: str = "") -> None:
    lines = ["[pytest]", f"asyncio_mode = {mode}", "asyncio_default_fixture_loop_scope = function"]
    if app_dir:
        lines.append(f"durable_app_dir = {app_dir}")
    pytester.makeini("\n".join(lines) + "\n")


def test_the_plugin_is_registered_as_an_entry_point(pytester: pytest.Pytester) -> None:
    _ini(pytester, "strict")
    result = pytester.runpytest_subprocess("--markers", *RUN)
    result.stdout.fnmatch_lines(["*@pytest.mark.durable_app(path, **options)*"])
    result = pytester.runpytest_subprocess("--help", *RUN)
    result.stdout.fnmatch_lines(["*durable_app_dir*"])


def test_auto_mode_with_the_app_from_the_ini_option(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto", str(TESTING_APP))
    pytester.makepyfile(HOST_TEST.format(mark="", greeting="from local.settings.json"))
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(passed=1)


def test_strict_mode_with_the_app_and_settings_from_a_marker(pytester: pytest.Pytester) -> None:
    _ini(pytester, "strict")
    mark = (
        "@pytest.mark.asyncio\n"
        f"@pytest.mark.durable_app({str(TESTING_APP)!r}, settings={{'GREETING': 'hi'}})"
    )
    pytester.makepyfile(HOST_TEST.format(mark=mark, greeting="hi"))
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(passed=1)


def test_a_relative_app_dir_is_relative_to_the_rootdir(pytester: pytest.Pytester) -> None:
    app = pytester.mkdir("myapp")
    for name in ("function_app.py", "host.json", "local.settings.json"):
        (app / name).write_text((TESTING_APP / name).read_text())
    _ini(pytester, "strict", "myapp")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_relative.py").write_text(
        HOST_TEST.format(mark="@pytest.mark.asyncio", greeting="from local.settings.json")
    )
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(passed=1)


def test_history_builder_needs_no_event_loop(pytester: pytest.Pytester) -> None:
    _ini(pytester, "strict")
    pytester.makepyfile(
        """
        from durable_local.testing import HistoryBuilder

        def test_builder(history_builder: type[HistoryBuilder]) -> None:
            assert history_builder is HistoryBuilder
            history = history_builder("my_orchestrator", input=3)
            assert [e["EventType"] for e in history.events] == [12, 0]
        """
    )
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(passed=1)


def test_no_app_named_is_a_usage_error_that_says_how_to_name_one(
    pytester: pytest.Pytester,
) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile(HOST_TEST.format(mark="", greeting=""))
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*durable_host fixture needs a function app folder*"])
