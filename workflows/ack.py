"""Evaluation of a ``DownloadCompletedAck`` payload against the package digest (pure logic).

Accepted payloads: ``{"ok": true, "sha256": "..."}``, ``{"ok": false, "reason": "..."}``, a
bare ``true``/``false``, and any of these as JSON text. The text forms matter because an event
raised through the Python SDK client (``client.raise_event``) reaches the orchestrator
double-encoded: the orchestrator sees the *string* ``'{"ok": true, ...}'``, not the object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
#: A consumer-supplied reason ends up in outputs and logs; keep it bounded.
MAX_REASON_CHARS = 500
#: A JSON string that itself holds JSON text is unwrapped at most this many times.
_MAX_DECODE_DEPTH = 3


@dataclass(frozen=True)
class AckOutcome:
    """What an ack means for the sub-orchestration."""

    status: Literal["completed", "rejected"]
    reason: str | None
    #: True only when the consumer sent a digest and it matched the package.
    digest_verified: bool


def _decode(payload: object) -> object:
    value = payload
    for _ in range(_MAX_DECODE_DEPTH):
        if not isinstance(value, str):
            return value
        try:
            value = json.loads(value)
        except ValueError:
            return _Malformed(f"ack is not JSON: {_clip(value)!r}")
    return value


@dataclass(frozen=True)
class _Malformed:
    reason: str


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "..."


def _rejected(reason: str) -> AckOutcome:
    return AckOutcome(status="rejected", reason=_clip(reason), digest_verified=False)


def evaluate_ack(payload: object, expected_sha256: str) -> AckOutcome:
    """Decide whether an ack confirms the package whose digest is ``expected_sha256``.

    ``completed`` needs ``ok`` true and, when the ack carries a digest, that digest must equal
    the package's (hex, case-insensitive). Anything else is ``rejected`` with a reason.
    """
    value = _decode(payload)
    if isinstance(value, _Malformed):
        return _rejected(value.reason)
    if isinstance(value, bool):
        if value:
            return AckOutcome(status="completed", reason=None, digest_verified=False)
        return _rejected("consumer reported failure")
    if not isinstance(value, dict):
        return _rejected(f"ack must be an object or a boolean, got {type(value).__name__}")

    ok = value.get("ok")
    if not isinstance(ok, bool):
        return _rejected("ack field 'ok' must be true or false")
    if not ok:
        reason = value.get("reason")
        if isinstance(reason, str) and reason.strip():
            return _rejected(reason.strip())
        return _rejected("consumer reported failure")

    digest = value.get("sha256")
    if digest is None:
        # A bare {"ok": true} confirms the download like a bare true; the output says the
        # digest was not verified so a caller that needs the guarantee can tell.
        return AckOutcome(status="completed", reason=None, digest_verified=False)
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        return _rejected("ack field 'sha256' must be 64 hex characters")
    if digest.lower() != expected_sha256.lower():
        return _rejected(
            f"sha256 mismatch: expected {expected_sha256.lower()}, got {digest.lower()}"
        )
    return AckOutcome(status="completed", reason=None, digest_verified=True)


#: Largest ack body the ack route reads (an ack is a few hundred bytes).
MAX_ACK_BODY_BYTES = 16 * 1024
_ACK_FIELDS = frozenset({"ok", "sha256", "reason"})


class AckBodyError(ValueError):
    """An ack route body that is not a valid ack; ``field`` names the part at fault."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_ack_body(body: bytes) -> dict[str, object]:
    """The body of ``POST /api/acks/{token}`` -> the event payload raised to the child.

    ``{"ok": true, "sha256": "<hex>"}`` or ``{"ok": false, "reason": "..."}`` (``sha256`` and
    ``reason`` optional). Stricter than ``evaluate_ack``, which also takes what operators raise
    through the Durable API: a consumer gets a 400 naming the field instead of a rejection.
    """
    if len(body) > MAX_ACK_BODY_BYTES:
        raise AckBodyError(f"body is larger than {MAX_ACK_BODY_BYTES} bytes", "body")
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise AckBodyError("body is not UTF-8 text", "body") from None
    except ValueError:
        raise AckBodyError("body is not valid JSON", "body") from None
    if not isinstance(value, dict):
        raise AckBodyError('body must be a JSON object like {"ok": true, "sha256": "..."}', "body")
    for key in value:
        if key not in _ACK_FIELDS:
            raise AckBodyError(f"unknown field {_clip(str(key))!r}", str(key)[:64])
    ok = value.get("ok")
    if not isinstance(ok, bool):
        raise AckBodyError("ok must be true or false", "ok")
    payload: dict[str, object] = {"ok": ok}
    digest = value.get("sha256")
    if digest is not None:
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
            raise AckBodyError("sha256 must be 64 hex characters", "sha256")
        payload["sha256"] = digest.lower()
    reason = value.get("reason")
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise AckBodyError(f"reason must be a string of at most {MAX_REASON_CHARS}", "reason")
        payload["reason"] = reason
    return payload
