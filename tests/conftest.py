"""Fixtures for the whole suite: every test leaves the process as it found it.

The suite runs in a random order (pytest-randomly prints ``Using --randomly-seed=N``;
``--randomly-seed=N`` replays that order, ``-p no:randomly`` runs in file order), so no test may
rely on what another one left behind. Loading a function app writes ``local.settings.json``
into ``os.environ``, puts the app folder on ``sys.path`` and imports ``function_app``: the loads
are undone with ``LoadedApp.unload()`` (tests/helpers/apps.py), and this guard puts back the
environment, the working directory and ``sys.path`` after every test. ``sys.modules`` is
deliberately not restored wholesale: re-importing a library would give its classes a second
identity.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

# pytester: durable_local.testing's plugin is tested in pytest runs of its own
# (tests/durable_local/testing/test_plugin.py).
pytest_plugins = ("pytester",)


@pytest.fixture(autouse=True)
def restore_process_state() -> Iterator[None]:
    """Give back os.environ, the cwd and sys.path as they were before the test."""
    environ = dict(os.environ)
    cwd = os.getcwd()
    path = list(sys.path)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        sys.path[:] = path
