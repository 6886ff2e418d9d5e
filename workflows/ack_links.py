"""Signed, per-child ack links (pure logic apart from reading the keys from the environment).

A consumer acknowledges a download by ``POST {ackUrl}``, where ``ackUrl`` is
``{base}/acks/{token}`` and the token is::

    base64url(payload) "." base64url(HMAC-SHA256(key, payload "\\n" event name))
    payload = "v1\\n{child instance id}\\n{deadline, Unix seconds}"

The payload is readable (it is no secret which child a link is for); the MAC makes it
unforgeable: a token is bound to exactly one child, one event and one deadline, and changing
any of them, truncating the token or signing with another key makes it invalid. The event name
is covered by the MAC but not carried (the route knows which event it raises), which keeps a
token for the longest child id (136 characters) at 244 characters, one URL path segment under
the 260 that some front ends allow. Two keys are accepted
while a key is rotated (``ACK_SIGNING_KEY``, then ``ACK_SIGNING_KEY_PREVIOUS``); links are
always signed with the current one. Tokens are compared with ``hmac.compare_digest``.

The token is a bearer credential for one child's ack, like a SAS for one blob: it never goes
into the app's logs (``workflows.logs.redact_url`` cuts it out of any URL that is logged).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from workflows.settings import (
    ACK_BASE_URL,
    ACK_SIGNING_KEY,
    ACK_SIGNING_KEY_PREVIOUS,
    SettingsError,
    load_settings,
)

TOKEN_VERSION = "v1"
#: Path of the ack route below the HTTP route prefix (``/api``).
ACK_ROUTE = "acks"
#: A key shorter than this is refused: HMAC-SHA256 wants at least 256 bits of key material.
MIN_KEY_CHARS = 32
#: Longest token the route looks at (ids are at most ~140 characters; this leaves room).
MAX_TOKEN_CHARS = 1024
#: What App Service leaves in a setting when it could not resolve a Key Vault reference.
_KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class AckLinkError(Exception):
    """A token that does not verify or cannot be read; ``http_status`` is the answer's code."""

    http_status = 403


@dataclass(frozen=True)
class AckClaim:
    """What a verified token says: which child, for which event, until when."""

    instance_id: str
    event_name: str
    deadline: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.deadline


@dataclass(frozen=True)
class AckKeys:
    """The current signing key and, during a rotation, the previous one (bytes, never logged)."""

    current: bytes
    previous: bytes | None = None

    def __repr__(self) -> str:
        previous = "<set>" if self.previous else None
        return f"AckKeys(current=<{len(self.current)} bytes>, previous={previous})"

    def all(self) -> tuple[bytes, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)


def _key_setting(env: Mapping[str, str], name: str, *, required: bool) -> bytes | None:
    text = env.get(name, "").strip()
    if not text:
        if required:
            raise SettingsError(
                name,
                "is not set: ack links need a signing key (at least "
                f"{MIN_KEY_CHARS} random characters; a Key Vault reference in Azure)",
            )
        return None
    if text.startswith(_KEY_VAULT_REFERENCE):
        raise SettingsError(
            name,
            "is an unresolved Key Vault reference: give the app's identity 'get' access to the "
            "secret (Key Vault Secrets User) and check the reference's status in the portal",
        )
    if len(text) < MIN_KEY_CHARS:
        raise SettingsError(name, f"must be at least {MIN_KEY_CHARS} characters long")
    return text.encode("utf-8")


def load_ack_keys(env: Mapping[str, str] | None = None) -> AckKeys:
    """The signing keys from the app settings (``os.environ`` unless ``env`` is given)."""
    source = os.environ if env is None else env
    current = _key_setting(source, ACK_SIGNING_KEY, required=True)
    assert current is not None
    previous = _key_setting(source, ACK_SIGNING_KEY_PREVIOUS, required=False)
    return AckKeys(current=current, previous=previous if previous != current else None)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise AckLinkError("invalid ack link")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise AckLinkError("invalid ack link") from None


def _mac(key: bytes, payload: bytes, event_name: str) -> bytes:
    return hmac.new(key, payload + b"\n" + event_name.encode("utf-8"), hashlib.sha256).digest()


def _deadline_seconds(deadline: datetime) -> int:
    if deadline.tzinfo is None:
        raise ValueError("the deadline must be timezone-aware")
    return int(deadline.timestamp())


def sign_token(key: bytes, instance_id: str, event_name: str, deadline: datetime) -> str:
    """The token for ``instance_id``'s ``event_name`` until ``deadline`` (whole seconds)."""
    if "\n" in instance_id or "\n" in event_name:
        raise ValueError("instance id and event name must not contain a newline")
    payload = f"{TOKEN_VERSION}\n{instance_id}\n{_deadline_seconds(deadline)}".encode()
    return f"{_b64encode(payload)}.{_b64encode(_mac(key, payload, event_name))}"


def verify_token(keys: AckKeys, token: str, event_name: str) -> AckClaim:
    """The claim of a token signed with one of ``keys`` for ``event_name``; ``AckLinkError``
    (403) otherwise (a token for another event does not verify).

    The signature is checked first, in constant time, against every accepted key; the payload
    is only parsed once it is known to be ours. Expiry is the caller's check (it needs "now").
    """
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise AckLinkError("invalid ack link")
    encoded_payload, encoded_mac = token.split(".")
    payload, mac = _b64decode(encoded_payload), _b64decode(encoded_mac)
    # Every key is tried even after a match, so the time taken does not say which key signed.
    matches = [hmac.compare_digest(_mac(key, payload, event_name), mac) for key in keys.all()]
    if not any(matches):
        raise AckLinkError("invalid ack link")
    try:
        version, instance_id, deadline_text = payload.decode("utf-8").split("\n")
        deadline = datetime.fromtimestamp(int(deadline_text), UTC)
    except (UnicodeDecodeError, ValueError, OverflowError, OSError):
        # Signed by us but unreadable: only a token from another version of this code.
        raise AckLinkError("invalid ack link") from None
    if version != TOKEN_VERSION or not instance_id:
        raise AckLinkError("invalid ack link")
    return AckClaim(instance_id=instance_id, event_name=event_name, deadline=deadline)


def ack_base_url(request_base_url: str | None, env: Mapping[str, str] | None = None) -> str:
    """Where ack links point: ``ACK_BASE_URL``, else ``https://{WEBSITE_HOSTNAME}/api``, else
    the base URL the starter was called on (``request_base_url``).

    In Azure ``WEBSITE_HOSTNAME`` is always set (the app's default host name), so a request's
    Host header never decides where devices send their acks there.
    """
    source = os.environ if env is None else env
    configured = load_settings(source).ack_base_url
    if configured:
        return configured
    hostname = source.get("WEBSITE_HOSTNAME", "").strip()
    if hostname:
        local = hostname.split(":", 1)[0] in ("localhost", "127.0.0.1")
        return f"{'http' if local else 'https'}://{hostname}/api"
    if request_base_url:
        return request_base_url.rstrip("/")
    raise SettingsError(
        ACK_BASE_URL,
        "is not set and neither WEBSITE_HOSTNAME nor the starting request gave the app's URL; "
        "set it to the app's public base URL (https://<app>.azurewebsites.net/api)",
    )


def ack_url(base_url: str, token: str) -> str:
    """The link a consumer POSTs its ack to."""
    return f"{base_url.rstrip('/')}/{ACK_ROUTE}/{token}"


def is_ack_url(url: str) -> bool:
    """True when ``url``'s path ends in ``/acks/<token>`` (used to redact it in logs)."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2] == ACK_ROUTE
