"""The function apps the tests load or run.

* ``basic_app/``, ``prefix_app/``, ``worker_app/``: app folders loaded as the CLI loads them.
* ``poison_app/``: hostile functions (an activity and an orchestrator that kill the worker).
* ``runtime_app``: small real SDK orchestrators for the runtime tests (imported as a module).
* ``golden_app``: the orchestrators whose histories are recorded as golden files.
* ``crash_worker``: an app with its own driver, run as a script by the crash test.
"""

from __future__ import annotations

from pathlib import Path

FIXTURE_APPS = Path(__file__).parent
BASIC_APP = FIXTURE_APPS / "basic_app"
PREFIX_APP = FIXTURE_APPS / "prefix_app"
WORKER_APP = FIXTURE_APPS / "worker_app"
POISON_APP = FIXTURE_APPS / "poison_app"
