"""Validation of starter request bodies and orchestrator inputs (pure logic).

Starters turn an HTTP body into a typed orchestrator input here, and the parent orchestrator
re-checks its input with the same rules, because an orchestration can also be started through
the public ``/runtime/webhooks/durabletask/orchestrators/...`` API, which bypasses the starters.
Every problem is a ``ValidationError`` naming the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from workflows.contracts import (
    DEFAULT_CUSTOMER_ID,
    DEFAULT_CUSTOMER_SEGMENT,
    DEFAULT_SKUS,
    DevicesInput,
    ParentInput,
    SyncInput,
)
from workflows.settings import ACK_TIMEOUT_MAX_SECONDS, ACK_TIMEOUT_MIN_SECONDS, ID_PATTERN

MAX_BODY_BYTES = 1024 * 1024
MAX_SEGMENT_CHARS = 64
#: SKUs per sync run; a snapshot is one package, so this bounds its size.
MAX_SKUS = 1000
MAX_BASE_URL_CHARS = 512
_BASE_URL = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?")


class ValidationError(ValueError):
    """A request or input is invalid; ``field`` names the part at fault (or None)."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, str | None]:
        """The body of the 400 answer."""
        return {"error": self.message, "field": self.field}


def parse_body(body: bytes) -> dict[str, object]:
    """Decode an optional JSON-object body; an empty body means "all defaults"."""
    if len(body) > MAX_BODY_BYTES:
        raise ValidationError(f"request body is larger than {MAX_BODY_BYTES} bytes", "body")
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise ValidationError("request body is not UTF-8 text", "body") from None
    except ValueError as exc:
        raise ValidationError(f"request body is not valid JSON: {exc}", "body") from None
    if not isinstance(value, dict):
        raise ValidationError("request body must be a JSON object", "body")
    return value


def _reject_unknown(body: Mapping[str, object], allowed: set[str]) -> None:
    # Typos such as "customerId" instead of "customer_id" would otherwise fall back to the
    # defaults silently and sync the wrong customer.
    for key in body:
        if key not in allowed:
            raise ValidationError(f"unknown field {key!r}", key)


def validate_id(value: object, field: str) -> str:
    """An identifier in ``[A-Za-z0-9._-]{1,64}``."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field)
    if not value:
        raise ValidationError(f"{field} must not be empty", field)
    if len(value) > 64:
        raise ValidationError(f"{field} is longer than 64 characters", field)
    if not ID_PATTERN.fullmatch(value):
        raise ValidationError(f"{field} must match [A-Za-z0-9._-]{{1,64}}", field)
    return value


def validate_instance_id(value: str | None) -> str | None:
    """A client-chosen ``?instanceId=``; None or empty means "let the runtime choose"."""
    if value is None or value == "":
        return None
    # The id becomes the prefix of child ids ("{id}:device:{deviceId}"), so the same narrow
    # grammar as other ids keeps every derived id valid for Durable Functions and URLs.
    return validate_id(value, "instanceId")


def _validate_segment(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field)
    if not value.strip():
        raise ValidationError(f"{field} must not be empty", field)
    if len(value) > MAX_SEGMENT_CHARS:
        raise ValidationError(f"{field} is longer than {MAX_SEGMENT_CHARS} characters", field)
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(f"{field} must not contain control characters", field)
    return value


def _validate_id_list(value: object, field: str, limit: int, what: str) -> list[str]:
    if not isinstance(value, list):
        raise ValidationError(f"{field} must be an array of strings", field)
    if len(value) > limit:
        raise ValidationError(f"{field} has {len(value)} {what}; the maximum is {limit}", field)
    seen: set[str] = set()
    result: list[str] = []
    for index, item in enumerate(value):
        item_field = f"{field}[{index}]"
        item_id = validate_id(item, item_field)
        if item_id in seen:
            raise ValidationError(f"duplicate {what[:-1]} {item_id!r}", item_field)
        seen.add(item_id)
        result.append(item_id)
    return result


def validate_ack_timeout(value: object, field: str = "ackTimeoutSeconds") -> int:
    """Whole seconds in 1..604800 (bool is not a number here, though Python says it is)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer", field)
    if not ACK_TIMEOUT_MIN_SECONDS <= value <= ACK_TIMEOUT_MAX_SECONDS:
        raise ValidationError(
            f"{field} must be between {ACK_TIMEOUT_MIN_SECONDS} and {ACK_TIMEOUT_MAX_SECONDS}",
            field,
        )
    return value


def parse_sync_request(body: bytes, default_ack_timeout: int) -> SyncInput:
    """Body of ``POST /api/start-sub-orchestration`` -> sync-mode input."""
    data = parse_body(body)
    # ackTimeoutSeconds is accepted here too, so short ack windows can be tried in sync mode.
    _reject_unknown(data, {"customer_id", "customer_segment", "skus", "ackTimeoutSeconds"})
    customer_id = validate_id(data.get("customer_id", DEFAULT_CUSTOMER_ID), "customer_id")
    segment = _validate_segment(
        data.get("customer_segment", DEFAULT_CUSTOMER_SEGMENT), "customer_segment"
    )
    skus = _validate_id_list(data.get("skus", list(DEFAULT_SKUS)), "skus", MAX_SKUS, "skus")
    if not skus:
        raise ValidationError("skus must not be empty", "skus")
    return {
        "mode": "sync",
        "customerId": customer_id,
        "customerSegment": segment,
        "skus": skus,
        "ackTimeoutSeconds": validate_ack_timeout(
            data.get("ackTimeoutSeconds", default_ack_timeout)
        ),
    }


def parse_devices_request(body: bytes, default_ack_timeout: int, max_devices: int) -> DevicesInput:
    """Body of ``POST /api/provision-devices`` -> devices-mode input."""
    data = parse_body(body)
    _reject_unknown(data, {"deviceIds", "ackTimeoutSeconds"})
    result: DevicesInput = {
        "mode": "devices",
        "ackTimeoutSeconds": validate_ack_timeout(
            data.get("ackTimeoutSeconds", default_ack_timeout)
        ),
    }
    raw_ids = data.get("deviceIds")
    if raw_ids is not None:
        device_ids = _validate_id_list(raw_ids, "deviceIds", max_devices, "devices")
        # An empty list means "none given": the run provisions the configured pending devices.
        if device_ids:
            result["deviceIds"] = device_ids
    return result


def parse_parent_input(value: object, default_ack_timeout: int, max_devices: int) -> ParentInput:
    """Check an orchestrator input that may not have come through a starter."""
    if not isinstance(value, dict):
        raise ValidationError("orchestrator input must be a JSON object", "input")
    mode = value.get("mode")
    ack_timeout = validate_ack_timeout(value.get("ackTimeoutSeconds", default_ack_timeout))
    if mode == "sync":
        skus = _validate_id_list(value.get("skus", list(DEFAULT_SKUS)), "skus", MAX_SKUS, "skus")
        if not skus:
            raise ValidationError("skus must not be empty", "skus")
        sync: SyncInput = {
            "mode": "sync",
            "customerId": validate_id(value.get("customerId", DEFAULT_CUSTOMER_ID), "customerId"),
            "customerSegment": _validate_segment(
                value.get("customerSegment", DEFAULT_CUSTOMER_SEGMENT), "customerSegment"
            ),
            "skus": skus,
            "ackTimeoutSeconds": ack_timeout,
        }
        return _with_base_url(sync, value)
    if mode == "devices":
        devices: DevicesInput = {"mode": "devices", "ackTimeoutSeconds": ack_timeout}
        raw_ids = value.get("deviceIds")
        if raw_ids is not None:
            ids = _validate_id_list(raw_ids, "deviceIds", max_devices, "devices")
            if ids:
                devices["deviceIds"] = ids
        return _with_base_url(devices, value)
    raise ValidationError("mode must be 'sync' or 'devices'", "mode")


def validate_ack_base_url(value: object, field: str = "ackBaseUrl") -> str:
    """An ``http(s)://host[/path]`` URL without query (the base of the ack links)."""
    if not isinstance(value, str) or len(value) > MAX_BASE_URL_CHARS:
        raise ValidationError(f"{field} must be a string of at most {MAX_BASE_URL_CHARS}", field)
    if not _BASE_URL.fullmatch(value):
        raise ValidationError(f"{field} must be an http(s) URL without query", field)
    return value.rstrip("/")


def _with_base_url(spec: ParentInput, value: Mapping[str, object]) -> ParentInput:
    if value.get("ackBaseUrl") is not None:
        spec["ackBaseUrl"] = validate_ack_base_url(value["ackBaseUrl"])
    return spec


def validate_device_ids(value: object, max_devices: int) -> list[str]:
    """Device ids returned by ``get_new_device_ids`` (configuration can be wrong too)."""
    return _validate_id_list(value, "deviceIds", max_devices, "devices")
