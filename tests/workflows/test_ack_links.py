"""Ack-link tokens (pure logic): signing, verification, forgery, rotation, keys, URLs, redaction."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from workflows.ack_links import (
    MIN_KEY_CHARS,
    AckKeys,
    AckLinkError,
    ack_base_url,
    ack_url,
    load_ack_keys,
    sign_token,
    verify_token,
)
from workflows.logs import redact_url
from workflows.settings import SettingsError

KEY = b"k" * 40
OLD_KEY = b"o" * 40
CHILD = "run-1:device:dev-1"
EVENT = "DownloadCompletedAck"
DEADLINE = datetime(2026, 12, 4, 15, 0, 0, tzinfo=UTC)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_token_verifies_to_its_child_event_and_deadline() -> None:
    token = sign_token(KEY, CHILD, EVENT, DEADLINE)
    claim = verify_token(AckKeys(KEY), token, EVENT)
    assert (claim.instance_id, claim.event_name, claim.deadline) == (CHILD, EVENT, DEADLINE)
    assert not claim.expired(DEADLINE - timedelta(seconds=1))
    assert claim.expired(DEADLINE)


def test_the_same_inputs_sign_the_same_token() -> None:
    # A retried send activity hands out the same link.
    assert sign_token(KEY, CHILD, EVENT, DEADLINE) == sign_token(KEY, CHILD, EVENT, DEADLINE)
    assert sign_token(KEY, CHILD, EVENT, DEADLINE) != sign_token(KEY, "run-1:x", EVENT, DEADLINE)


def test_a_token_is_url_path_safe() -> None:
    token = sign_token(KEY, "a" * 64 + ":device:" + "b" * 64, EVENT, DEADLINE)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _forge_payload(token: str, old: str, new: str) -> str:
    payload, mac = token.split(".")
    return f"{b64(unb64(payload).replace(old.encode(), new.encode()))}.{mac}"


@pytest.mark.parametrize(
    "forge",
    [
        # another child's id in the payload, this child's signature
        pytest.param(lambda t: _forge_payload(t, CHILD, "run-1:device:dev-2"), id="other-child"),
        # a later deadline
        pytest.param(
            lambda t: _forge_payload(t, str(int(DEADLINE.timestamp())), "4102444800"),
            id="changed-deadline",
        ),
        pytest.param(lambda t: t[:-1], id="truncated-by-one"),
        pytest.param(lambda t: t[: len(t) // 2], id="truncated-half"),
        pytest.param(lambda t: t.split(".")[0], id="payload-only"),
        pytest.param(lambda t: t.split(".")[0] + ".", id="empty-signature"),
        pytest.param(lambda t: t + "A", id="extended"),
        pytest.param(lambda t: t.replace(".", ".."), id="two-dots"),
        pytest.param(lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), id="flipped-mac"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "x" * 2000, id="oversized"),
        pytest.param(lambda t: t.replace("-", "+").replace("_", "/") + "!", id="bad-alphabet"),
    ],
)
def test_forged_or_tampered_tokens_are_refused(forge: object) -> None:
    token = sign_token(KEY, CHILD, EVENT, DEADLINE)
    forged = forge(token)  # type: ignore[operator]
    assert forged != token
    with pytest.raises(AckLinkError) as caught:
        verify_token(AckKeys(KEY), forged, EVENT)
    assert caught.value.http_status == 403


def test_another_childs_token_names_only_that_child() -> None:
    # There is no way to point a valid token at another child: the child comes from the token.
    other = sign_token(KEY, "run-1:device:dev-2", EVENT, DEADLINE)
    assert verify_token(AckKeys(KEY), other, EVENT).instance_id == "run-1:device:dev-2"
    mine, theirs = sign_token(KEY, CHILD, EVENT, DEADLINE).split("."), other.split(".")
    with pytest.raises(AckLinkError):  # my payload with their signature
        verify_token(AckKeys(KEY), f"{mine[0]}.{theirs[1]}", EVENT)


def test_a_token_for_another_event_is_refused() -> None:
    token = sign_token(KEY, CHILD, "SomeOtherEvent", DEADLINE)
    assert verify_token(AckKeys(KEY), token, "SomeOtherEvent").event_name == "SomeOtherEvent"
    with pytest.raises(AckLinkError):
        verify_token(AckKeys(KEY), token, EVENT)


def test_the_longest_token_fits_one_260_character_path_segment() -> None:
    child = "p" * 64 + ":device:" + "d" * 64
    assert len(sign_token(KEY, child, EVENT, datetime(2286, 1, 1, tzinfo=UTC))) <= 260


def test_a_token_signed_with_a_wrong_key_is_refused() -> None:
    token = sign_token(b"w" * 40, CHILD, EVENT, DEADLINE)
    with pytest.raises(AckLinkError):
        verify_token(AckKeys(KEY), token, EVENT)


def test_rotation_accepts_both_keys_and_then_only_the_new_one() -> None:
    issued_before = sign_token(OLD_KEY, CHILD, EVENT, DEADLINE)
    issued_after = sign_token(KEY, CHILD, EVENT, DEADLINE)
    during = AckKeys(current=KEY, previous=OLD_KEY)
    assert verify_token(during, issued_before, EVENT).instance_id == CHILD
    assert verify_token(during, issued_after, EVENT).instance_id == CHILD
    after = AckKeys(current=KEY)  # ACK_SIGNING_KEY_PREVIOUS removed
    with pytest.raises(AckLinkError):
        verify_token(after, issued_before, EVENT)
    assert verify_token(after, issued_after, EVENT).instance_id == CHILD


def test_a_signed_but_unreadable_payload_is_refused() -> None:
    for payload in (b"v2\nrun-1\n1", b"v1\nrun-1\nsoon", b"v1\nrun-1", b"v1\n\n1"):
        mac = hmac.new(KEY, payload + b"\n" + EVENT.encode(), hashlib.sha256).digest()
        with pytest.raises(AckLinkError):
            verify_token(AckKeys(KEY), f"{b64(payload)}.{b64(mac)}", EVENT)


# ---- keys from the app settings -------------------------------------------------------------


def test_keys_come_from_the_settings() -> None:
    keys = load_ack_keys(
        {"ACK_SIGNING_KEY": "n" * MIN_KEY_CHARS, "ACK_SIGNING_KEY_PREVIOUS": "p" * 40}
    )
    assert keys.all() == (b"n" * MIN_KEY_CHARS, b"p" * 40)
    assert "n" * MIN_KEY_CHARS not in repr(keys)
    # the previous key equal to the current one is no second key
    assert load_ack_keys({"ACK_SIGNING_KEY": "n" * 40, "ACK_SIGNING_KEY_PREVIOUS": "n" * 40}).all()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "ACK_SIGNING_KEY: is not set"),
        ({"ACK_SIGNING_KEY": "   "}, "ACK_SIGNING_KEY: is not set"),
        ({"ACK_SIGNING_KEY": "short"}, "ACK_SIGNING_KEY: must be at least 32"),
        (
            {"ACK_SIGNING_KEY": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/s/k)"},
            "ACK_SIGNING_KEY: is an unresolved Key Vault reference",
        ),
        (
            {"ACK_SIGNING_KEY": "n" * 40, "ACK_SIGNING_KEY_PREVIOUS": "short"},
            "ACK_SIGNING_KEY_PREVIOUS: must be at least 32",
        ),
    ],
)
def test_unusable_keys_name_the_setting_and_never_the_value(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_ack_keys(env)
    assert "short" not in str(caught.value).replace("must be at least", "")


# ---- where the links point ------------------------------------------------------------------


def test_the_base_url_setting_wins() -> None:
    env = {"ACK_BASE_URL": "https://acks.example.com/api/", "WEBSITE_HOSTNAME": "app.net"}
    assert ack_base_url("http://127.0.0.1:1/api", env) == "https://acks.example.com/api"


def test_website_hostname_is_used_in_azure_before_the_request() -> None:
    env = {"WEBSITE_HOSTNAME": "device-sync.azurewebsites.net"}
    assert ack_base_url("http://evil.example/api", env) == (
        "https://device-sync.azurewebsites.net/api"
    )
    assert ack_base_url(None, {"WEBSITE_HOSTNAME": "localhost:7071"}) == (
        "http://localhost:7071/api"
    )


def test_the_request_base_is_the_last_resort() -> None:
    assert ack_base_url("http://127.0.0.1:5000/api", {}) == "http://127.0.0.1:5000/api"
    with pytest.raises(SettingsError, match="ACK_BASE_URL: is not set"):
        ack_base_url(None, {})
    with pytest.raises(SettingsError, match="ACK_BASE_URL: expected an http"):
        ack_base_url(None, {"ACK_BASE_URL": "ftp://x"})


def test_links_and_their_redacted_form() -> None:
    token = sign_token(KEY, CHILD, EVENT, DEADLINE)
    link = ack_url("https://app.example/api", token)
    assert link == f"https://app.example/api/acks/{token}"
    assert redact_url(link) == "https://app.example/api/acks/…"
    sas = "https://acct.blob.core.windows.net/c/run/device/d.json?sv=2024&sig=abc%3D&se=x"
    assert redact_url(sas) == "https://acct.blob.core.windows.net/c/run/device/d.json"
