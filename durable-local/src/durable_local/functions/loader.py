"""Load a v2-model function app the way the Functions host and the Python worker do (spec §8.1).

* ``local.settings.json`` ``Values`` go into the environment first (Core Tools behaviour: a
  variable already set in the environment wins; the ``.example`` file is never read).
* ``host.json`` gives the route prefix, the task hub name and the concurrency limits.
* ``function_app.py`` (or ``PYTHON_SCRIPT_FILE_NAME``) is imported with the app directory on
  ``sys.path`` and as the current directory (``import azure.durable_functions`` reads
  ``host.json`` from the cwd, spec §12.2); the single module-level ``FunctionRegister`` is
  indexed with one ``get_functions()`` call (a second call raises, spec §12.1).

Every failure is a ``LoaderError`` whose message says what to fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from durable_local.functions.registry import FunctionRegistry, RegistryError
from durable_local.functions.settings import (
    HostSettings,
    LoaderError,
    disabled_functions,
    load_local_settings,
    read_host_json,
)

DEFAULT_SCRIPT = "function_app.py"


@dataclass(frozen=True)
class LoadedApp:
    """A loaded function app: its module, its indexed functions and its host settings.

    ``unload()`` takes the app's modules out of ``sys.modules`` and gives ``sys.path`` back as
    it was before the load, so that another app (or the same one, afresh) can be loaded in the
    same process: a long-lived host never unloads, tests and the test host do.
    """

    app_dir: Path
    script: Path
    module: ModuleType
    app: Any
    registry: FunctionRegistry
    settings: HostSettings
    added_modules: tuple[str, ...] = ()
    path_before: tuple[str, ...] | None = None

    def unload(self) -> None:
        """Forget the modules this load imported from the app directory; restore sys.path."""
        for name in self.added_modules:
            module = sys.modules.get(name)
            if module is not None and _belongs_to(module, self.app_dir):
                del sys.modules[name]
        if self.path_before is not None:
            sys.path[:] = self.path_before


def load_app(
    app_dir: str | os.PathLike[str],
    *,
    environ: MutableMapping[str, str] | None = None,
    apply_local_settings: bool = True,
) -> LoadedApp:
    """Load the function app in ``app_dir``: settings, host.json, import, index.

    ``environ`` defaults to ``os.environ``; the app module always sees ``os.environ``, so pass
    another mapping only to inspect what would be applied.
    """
    env = os.environ if environ is None else environ
    root = Path(app_dir).resolve()
    if not root.is_dir():
        raise LoaderError(f"App directory '{root}' does not exist.")
    if apply_local_settings:
        load_local_settings(root, env)
    # The worker always runs with these set; azure-functions-logging keys its host mode on the
    # first one.
    env.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    env.setdefault("AzureWebJobsScriptRoot", str(root))
    settings = read_host_json(root, env)
    script_name = env.get("PYTHON_SCRIPT_FILE_NAME") or DEFAULT_SCRIPT
    script = root / script_name
    if not script.is_file():
        raise LoaderError(
            f"No {script_name} in '{root}'. durable-local runs v2-model apps: "
            "point --app-dir at the folder that holds function_app.py and host.json."
        )
    path_before = tuple(sys.path)
    modules_before = set(sys.modules)
    module = import_script(script)
    added = tuple(name for name in sys.modules if name not in modules_before)
    loaded = LoadedApp(
        app_dir=root,
        script=script,
        module=module,
        app=None,
        registry=FunctionRegistry(),
        settings=settings,
        added_modules=(*added, script.stem) if script.stem not in added else added,
        path_before=path_before,
    )
    try:
        app = find_function_register(module, script)
        registry = index_app(app, script)
        registry.disable(disabled_functions(env))
    except BaseException:
        loaded.unload()
        raise
    return dataclasses.replace(loaded, app=app, registry=registry)


def _belongs_to(module: ModuleType, root: Path) -> bool:
    """True for a module loaded from the app's own files (not from a library under the root,
    such as a virtualenv inside the app folder)."""
    location = getattr(module, "__file__", None)
    if location is None:  # a namespace package: judge by its search path
        paths = list(getattr(module, "__path__", []))
        location = paths[0] if paths else None
    if location is None:
        return False
    try:
        relative = Path(location).resolve().relative_to(root)
    except ValueError:
        return False
    return "site-packages" not in relative.parts and "dist-packages" not in relative.parts


def import_script(script: Path) -> ModuleType:
    """Import ``script`` as a top-level module named after its file (``function_app``).

    The app directory stays on ``sys.path`` (user code may import lazily); the cwd is the app
    directory only while importing. A previous module of the same name is replaced, so several
    apps can be loaded one after another in one process (tests).
    """
    root = script.parent
    name = script.stem
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise LoaderError(f"Cannot import '{script}'.")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    # Registered before executing so that df_loads can resolve custom classes by module name.
    sys.modules[name] = module
    try:
        with _working_directory(root):
            spec.loader.exec_module(module)
    except BaseException as exc:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoaderError(
            f"Importing '{script}' failed:\n{traceback.format_exc().rstrip()}"
        ) from exc
    return module


def find_function_register(module: ModuleType, script: Path) -> Any:
    """The single module-level ``azure.functions.FunctionRegister`` (FunctionApp / DFApp)."""
    import azure.functions as func

    found = [
        (attr, value)
        for attr, value in vars(module).items()
        if isinstance(value, func.FunctionRegister)
    ]
    if not found:
        raise LoaderError(
            f"{script.name} defines no module-level function app: create one with "
            "`app = func.FunctionApp()` or `app = df.DFApp()` at the top level "
            "(a Blueprint alone is not an app; register it with app.register_functions)."
        )
    distinct = {id(value): attr for attr, value in found}
    if len(distinct) > 1:
        names = ", ".join(sorted(distinct.values()))
        raise LoaderError(
            f"{script.name} defines {len(distinct)} module-level function apps ({names}); "
            "the Python worker accepts exactly one."
        )
    return found[0][1]


def index_app(app: Any, script: Path) -> FunctionRegistry:
    """``get_functions()`` once, then classify; invalid functions become a ``LoaderError``."""
    try:
        functions = app.get_functions()
    except Exception as exc:
        raise LoaderError(f"Indexing the functions of {script.name} failed: {exc}") from exc
    try:
        return FunctionRegistry.from_functions(functions)
    except RegistryError as exc:
        raise LoaderError(f"{script.name}: {exc}") from exc
    except Exception as exc:
        raise LoaderError(f"{script.name}: invalid function: {exc!r}") from exc


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
