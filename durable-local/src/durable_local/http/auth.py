"""Function keys, as the host checks them (``code`` query parameter or ``x-functions-key`` header).

Core Tools does not check keys at all, so by default every level is open. Once any key is
configured (``--function-key``, ``--master-key``, ``--system-key`` or the matching
``DURABLE_LOCAL_*`` variables) the levels are enforced as in Azure:

* ``anonymous``: always open;
* ``function``: a function key or the master key;
* ``admin``: the master key;
* ``system`` (the Durable webhook API): the system key or the master key.

A level whose keys are all unset while enforcement is on cannot be called (401), as in Azure,
where every level has a key.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from dataclasses import dataclass


class AuthLevel(enum.StrEnum):
    """An HTTP function's auth level, as ``azure.functions.AuthLevel`` spells it."""

    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"
    SYSTEM = "system"

    @classmethod
    def parse(cls, text: str) -> AuthLevel:
        try:
            return cls(text.lower())
        except ValueError:
            raise ValueError(f"Unknown auth level '{text}'") from None


@dataclass(frozen=True)
class HostKeys:
    """The host's keys; when any is set they are enforced (function, admin, system levels)."""

    function_keys: tuple[str, ...] = ()
    master_key: str | None = None
    system_key: str | None = None

    @property
    def enforced(self) -> bool:
        return bool(self.function_keys or self.master_key or self.system_key)

    def accepted(self, level: AuthLevel) -> tuple[str, ...]:
        master = (self.master_key,) if self.master_key else ()
        if level is AuthLevel.FUNCTION:
            return self.function_keys + master
        if level is AuthLevel.SYSTEM:
            return ((self.system_key,) if self.system_key else ()) + master
        if level is AuthLevel.ADMIN:
            return master
        return ()

    def allows(self, level: AuthLevel, presented: str | None) -> bool:
        if level is AuthLevel.ANONYMOUS or not self.enforced:
            return True
        if not presented:
            return False
        given = presented.encode()
        return any(hmac.compare_digest(given, key.encode()) for key in self.accepted(level))


def presented_key(query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``x-functions-key`` header first, then ``code``."""
    header = headers.get("x-functions-key")
    if header:
        return header
    for name, value in query.items():
        if name.lower() == "code":
            return value
    return None
