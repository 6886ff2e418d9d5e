"""An app's settings as the Functions host reads them: ``local.settings.json`` (Values into the
environment, Core Tools' rule: a variable already set wins; the ``.example`` file is never read)
and ``host.json`` (route prefix, task hub name, concurrency limits, ``functionTimeout``;
``%SETTING%`` resolved)."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from durable_local.model.versions import VersionFailure, VersionMatch

DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_MAX_CONCURRENT = 10
# What the host applies when host.json has no functionTimeout outside the Consumption plan, so
# under Core Tools too (ScriptHostOptionsSetup.DefaultFunctionTimeout): 30 minutes.
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0
MIN_FUNCTION_TIMEOUT = 1.0
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")

log = logging.getLogger("durable_local.loader")

_Choice = TypeVar("_Choice", VersionMatch, VersionFailure)

_SETTING_REFERENCE = re.compile(r"%([^%]+)%")


class LoaderError(Exception):
    """The app directory cannot be loaded; the message says why and what to fix."""


@dataclass(frozen=True)
class HostSettings:
    """The parts of ``host.json`` the local host honours."""

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    hub_name: str = DEFAULT_HUB_NAME
    max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT
    max_concurrent_orchestrations: int = DEFAULT_MAX_CONCURRENT
    #: Orchestration versioning (extensions.durableTask): the version new instances get, and
    #: which instance versions this worker runs.
    default_version: str = ""
    version_match: VersionMatch = VersionMatch.CURRENT_OR_OLDER
    version_failure: VersionFailure = VersionFailure.REJECT
    #: functionTimeout in seconds; None: no limit ("-1").
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT


def parse_function_timeout(value: Any, path: Path) -> float | None:
    """``functionTimeout`` as the host reads it: a TimeSpan ``[d.]hh:mm:ss``, or -1 (none)."""
    if value == -1 or value == "-1":
        return None
    found = _TIMESPAN.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise LoaderError(
            f'{path}: functionTimeout must be a time span like "00:05:00" (or -1), not {value!r}.'
        )
    days, hours, minutes, seconds = found.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if total < MIN_FUNCTION_TIMEOUT:
        raise LoaderError(f"{path}: functionTimeout must be at least 00:00:01.")
    return total


def format_timespan(seconds: float) -> str:
    """Seconds as .NET prints a TimeSpan (``00:05:00``), as the host's messages show it."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}.{text}" if days else text


def load_local_settings(
    app_dir: Path, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Copy ``Values`` of ``<app_dir>/local.settings.json`` into ``environ`` (``os.environ``).

    Variables already present are left alone, as Core Tools does. Returns the settings that
    were applied. A missing file is fine; an unreadable or encrypted one is a ``LoaderError``.
    """
    env = os.environ if environ is None else environ
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return {}
    data = _read_json(path)
    if not isinstance(data, dict):
        raise LoaderError(f"{path}: expected a JSON object at the top level.")
    if data.get("IsEncrypted") is True:
        raise LoaderError(
            f"{path}: IsEncrypted is true; durable-local cannot decrypt settings. "
            "Store them unencrypted (func settings decrypt)."
        )
    values = data.get("Values")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise LoaderError(f"{path}: 'Values' must be an object of string settings.")
    applied: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        if key in env:
            continue
        env[key] = text
        applied[key] = text
    return applied


def local_http_port(app_dir: Path) -> int | None:
    """``Host.LocalHttpPort`` of local.settings.json (Core Tools' default port), if set."""
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    host = data.get("Host") if isinstance(data, dict) else None
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is None:
        return None
    try:
        return int(port)
    except (TypeError, ValueError):
        raise LoaderError(f"{path}: Host.LocalHttpPort must be a port number.") from None


def read_host_json(app_dir: Path, environ: MutableMapping[str, str] | None = None) -> HostSettings:
    """Read the settings durable-local honours from ``<app_dir>/host.json`` (defaults if absent).

    ``%NAME%`` references in the hub name are resolved from the environment (app settings), as
    the host resolves them.
    """
    env = os.environ if environ is None else environ
    path = app_dir / "host.json"
    if not path.is_file():
        return HostSettings()
    data = _read_json(path)
    if not isinstance(data, dict):
        raise LoaderError(f"{path}: expected a JSON object at the top level.")
    extensions = _object(data.get("extensions"), path, "extensions")
    http = _object(extensions.get("http"), path, "extensions.http")
    durable = _object(extensions.get("durableTask"), path, "extensions.durableTask")

    route_prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if not isinstance(route_prefix, str):
        raise LoaderError(f"{path}: extensions.http.routePrefix must be a string.")
    hub_name = durable.get("hubName", DEFAULT_HUB_NAME)
    if not isinstance(hub_name, str) or not hub_name.strip():
        raise LoaderError(f"{path}: extensions.durableTask.hubName must be a non-empty string.")
    hub_name = resolve_setting_references(hub_name, env, f"{path}: extensions.durableTask.hubName")
    return HostSettings(
        route_prefix=route_prefix.strip("/"),
        hub_name=hub_name,
        max_concurrent_activities=_positive_int(
            durable, "maxConcurrentActivityFunctions", path, DEFAULT_MAX_CONCURRENT
        ),
        max_concurrent_orchestrations=_positive_int(
            durable, "maxConcurrentOrchestratorFunctions", path, DEFAULT_MAX_CONCURRENT
        ),
        default_version=_text(durable, "defaultVersion", path, env),
        version_match=_choice(durable, "versionMatchStrategy", path, VersionMatch.CURRENT_OR_OLDER),
        version_failure=_choice(durable, "versionFailureStrategy", path, VersionFailure.REJECT),
        function_timeout=(
            parse_function_timeout(data["functionTimeout"], path)
            if data.get("functionTimeout") is not None
            else DEFAULT_FUNCTION_TIMEOUT
        ),
    )


def _text(section: dict[str, Any], key: str, path: Path, env: MutableMapping[str, str]) -> str:
    value = section.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LoaderError(f"{path}: extensions.durableTask.{key} must be a string.")
    return resolve_setting_references(value, env, f"{path}: extensions.durableTask.{key}")


def _choice(section: dict[str, Any], key: str, path: Path, default: _Choice) -> _Choice:
    value = section.get(key)
    if value is None:
        return default
    members = list(type(default).__members__.values())
    for member in members:
        if isinstance(value, str) and value.lower() == member.value.lower():
            return member
    names = ", ".join(member.value for member in members)
    raise LoaderError(f"{path}: extensions.durableTask.{key} must be one of {names}.")


def _object(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LoaderError(f"{path}: '{where}' must be an object.")
    return value


def _positive_int(section: dict[str, Any], key: str, path: Path, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LoaderError(f"{path}: extensions.durableTask.{key} must be a positive integer.")
    return value


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LoaderError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaderError(f"{path}: invalid JSON: {exc}") from None


_DISABLED = re.compile(r"^AzureWebJobs\.(.+)\.Disabled$", re.IGNORECASE)


def disabled_functions(env: Mapping[str, str]) -> set[str]:
    """Function names turned off by ``AzureWebJobs.<name>.Disabled`` (``true`` or ``1``)."""
    names = set()
    for key, value in env.items():
        match = _DISABLED.match(key)
        if match and value.strip().lower() in ("true", "1"):
            names.add(match.group(1))
    return names


def resolve_setting_references(text: str, env: Mapping[str, str], where: str | None = None) -> str:
    """``%NAME%`` replaced by the app setting ``NAME`` (as the host resolves binding
    expressions, a timer's schedule, the hub name); a setting that is not set is a
    ``LoaderError`` naming ``where`` the reference is (or the text itself)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            place = where or f"'{text}'"
            raise LoaderError(
                f"{place} refers to app setting '%{name}%', which is not set "
                "(add it to local.settings.json Values)."
            )
        return env[name]

    return _SETTING_REFERENCE.sub(replace, text)
