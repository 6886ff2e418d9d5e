"""The pytest plugin of durable-local (the ``pytest11`` entry point ``durable_local``).

Fixtures:

* ``durable_host``: a started ``DurableTestHost`` for the test, closed after it. The app
  directory comes from the test's ``@pytest.mark.durable_app("path", **options)`` marker (the
  options are ``DurableTestHost`` keywords: ``settings``, ``auto_advance``, ``clock``,
  ``start_time``) or else from the ini option ``durable_app_dir``; a relative path is relative
  to the rootdir (where pytest.ini / pyproject.toml is).
* ``history_builder``: the ``HistoryBuilder`` class, for pure replay tests.

The async fixture is declared with ``pytest_asyncio.fixture``, so it works in pytest-asyncio's
auto and strict modes (in strict mode, mark the tests ``@pytest.mark.asyncio`` as usual).
Nothing is imported from durable-local until a fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from durable_local.testing.builder import HistoryBuilder
    from durable_local.testing.host import DurableTestHost

MARKER = "durable_app"
INI_OPTION = "durable_app_dir"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        "durable-local: the function app folder the durable_host fixture serves "
        "(relative to the rootdir; a durable_app marker overrides it)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path, **options): the function app folder (and DurableTestHost options) "
        "of the durable_host fixture",
    )


def _host_arguments(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = {}
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError(
                f'@pytest.mark.{MARKER} takes one path: @pytest.mark.{MARKER}("path/to/app")'
            )
        path = str(marker.args[0])
        options = dict(marker.kwargs)
    else:
        path = str(request.config.getini(INI_OPTION) or "")
        if not path:
            raise pytest.UsageError(
                "the durable_host fixture needs a function app folder: mark the test "
                f'@pytest.mark.{MARKER}("path/to/app") or set `{INI_OPTION} = path/to/app` '
                "in the [pytest] / [tool.pytest.ini_options] section"
            )
    app_dir = Path(path)
    if not app_dir.is_absolute():
        app_dir = Path(request.config.rootpath) / app_dir
    return app_dir, options


async def _durable_host(request: pytest.FixtureRequest) -> AsyncIterator[DurableTestHost]:
    from durable_local.testing.host import DurableTestHost

    app_dir, options = _host_arguments(request)
    async with DurableTestHost(app_dir, **options) as host:
        yield host


def _async_fixture() -> Callable[[Any], Any]:
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - only without pytest-asyncio installed

        def missing(request: pytest.FixtureRequest) -> None:
            raise pytest.UsageError(
                "the durable_host fixture is async: install pytest-asyncio "
                "(pip install pytest-asyncio) to use it"
            )

        return lambda _function: pytest.fixture(name="durable_host")(missing)
    return lambda function: pytest_asyncio.fixture(function, name="durable_host")


durable_host = _async_fixture()(_durable_host)


@pytest.fixture
def history_builder() -> type[HistoryBuilder]:
    """The ``HistoryBuilder`` class: ``history_builder("my_orchestrator", input=...)``."""
    from durable_local.testing.builder import HistoryBuilder

    return HistoryBuilder
