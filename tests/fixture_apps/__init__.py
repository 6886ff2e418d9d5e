"""The function apps the tests load or run.

* ``basic_app/``, ``prefix_app/``, ``worker_app/``, ``dashboard_app/``: app folders loaded as the
  CLI loads them.
* ``versioning_app/``: orchestration versioning, after the SDK's versioning sample.
* ``timer_app/``: timer triggers, a schedule from a setting, disabled functions.
* ``testing_app/``: the app of ``durable_local.testing``'s own tests (timers, failures, settings).
* ``ORDERS_APP``: the sample app of the testing guide, ``docs/examples/orders/``.
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
TESTING_APP = FIXTURE_APPS / "testing_app"
TIMER_APP = FIXTURE_APPS / "timer_app"
VERSIONING_APP = FIXTURE_APPS / "versioning_app"
ORDERS_APP = FIXTURE_APPS.parent.parent / "docs" / "examples" / "orders"
DASHBOARD_APP = FIXTURE_APPS / "dashboard_app"
POISON_APP = FIXTURE_APPS / "poison_app"
