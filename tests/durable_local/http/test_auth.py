"""Host keys and auth levels (durable_local.http.auth): open by default, enforced per level once
a key is set, the key taken from the header before the query."""

from __future__ import annotations

from durable_local.http.auth import AuthLevel, HostKeys, presented_key


def test_keys_open_by_default() -> None:
    keys = HostKeys()
    assert not keys.enforced
    for level in AuthLevel:
        assert keys.allows(level, None)


def test_level_without_any_key_is_closed_once_enforced() -> None:
    keys = HostKeys(function_keys=("f",))
    assert keys.allows(AuthLevel.FUNCTION, "f")
    assert not keys.allows(AuthLevel.ADMIN, "f")
    assert not keys.allows(AuthLevel.SYSTEM, "f")
    assert keys.allows(AuthLevel.ANONYMOUS, None)


def test_presented_key_prefers_the_header() -> None:
    assert presented_key({"code": "q"}, {"x-functions-key": "h"}) == "h"
    assert presented_key({"Code": "q"}, {}) == "q"
    assert presented_key({}, {}) is None
