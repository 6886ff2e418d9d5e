"""Choosing and configuring the package store from app settings (no storage needed)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from azure.storage.blob import UserDelegationKey

from workflows.blob_store import (
    DEV_ACCOUNT_KEY,
    MAX_DELEGATION_KEY_LIFETIME,
    AccountKeySigner,
    BlobPackageStore,
    UserDelegationSigner,
    parse_connection_string,
)
from workflows.package_store import InMemoryPackageStore, create_package_store
from workflows.settings import SettingsError, load_settings

KEY = base64.b64encode(b"k" * 32).decode()
SETTING = "AzureWebJobsStorage"


# ---- connection strings -----------------------------------------------------------------------


def test_use_development_storage_is_azurite_on_the_well_known_account() -> None:
    connection = parse_connection_string("UseDevelopmentStorage=true", SETTING)
    assert connection.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert connection.account_name == "devstoreaccount1"
    assert connection.account_key == DEV_ACCOUNT_KEY


def test_development_storage_proxy_uri_replaces_the_host() -> None:
    connection = parse_connection_string(
        "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite", SETTING
    )
    assert connection.blob_endpoint == "http://azurite:10000/devstoreaccount1"


def test_an_account_connection_string_without_endpoint_uses_the_public_cloud() -> None:
    text = (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
        "EndpointSuffix=core.windows.net"
    )
    connection = parse_connection_string(text, SETTING)
    assert connection.blob_endpoint == "https://acct.blob.core.windows.net"
    assert (connection.account_name, connection.account_key) == ("acct", KEY)


def test_an_explicit_blob_endpoint_wins() -> None:
    text = f"AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10001/devstoreaccount1/"
    connection = parse_connection_string(text, SETTING)
    assert connection.blob_endpoint == "http://127.0.0.1:10001/devstoreaccount1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a connection string", "not a storage connection string"),
        ("BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=x", "AccountKey"),
        (f"AccountName=a;AccountKey={KEY};BlobEndpoint=ftp://x", "http(s) URL"),
    ],
)
def test_unusable_connection_strings_name_the_setting_but_not_the_secret(
    text: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_connection_string(text, SETTING)
    assert caught.value.name == SETTING
    assert message in str(caught.value)
    assert KEY not in str(caught.value)


# ---- choosing the store ---------------------------------------------------------------------


def test_blob_storage_is_the_default_store() -> None:
    store = create_package_store({SETTING: "UseDevelopmentStorage=true"})
    assert isinstance(store, BlobPackageStore)
    assert store.service.url.rstrip("/") == "http://127.0.0.1:10000/devstoreaccount1"


def test_the_memory_store_is_chosen_explicitly() -> None:
    store = create_package_store({"PACKAGE_STORE": "memory", "PACKAGE_BASE_URL": "memory://p"})
    assert isinstance(store, InMemoryPackageStore)
    assert store.url_for("c", "n") == "memory://p/c/n"


def test_an_unknown_store_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="PACKAGE_STORE"):
        create_package_store({"PACKAGE_STORE": "s3"})


def test_a_missing_connection_says_what_to_configure() -> None:
    with pytest.raises(SettingsError) as caught:
        create_package_store({})
    assert caught.value.name == SETTING
    assert "UseDevelopmentStorage=true" in str(caught.value)
    assert "PACKAGE_STORAGE_ACCOUNT_URL" in str(caught.value)


def test_the_connection_can_live_in_another_setting() -> None:
    store = create_package_store(
        {
            "PACKAGE_STORAGE_CONNECTION": "PackagesStorage",
            "PackagesStorage": "UseDevelopmentStorage=true",
        }
    )
    assert isinstance(store, BlobPackageStore)


def test_storage_settings_defaults_and_validation() -> None:
    settings = load_settings({})
    assert settings.package_store == "blob"
    assert settings.package_storage_connection == "AzureWebJobsStorage"
    assert settings.package_storage_account_url == ""
    assert settings.package_sas_grace_seconds == 300
    with pytest.raises(SettingsError, match="PACKAGE_SAS_GRACE_SECONDS"):
        load_settings({"PACKAGE_SAS_GRACE_SECONDS": "-1"})
    with pytest.raises(SettingsError, match="PACKAGE_STORAGE_ACCOUNT_URL"):
        load_settings({"PACKAGE_STORAGE_ACCOUNT_URL": "acct.blob.core.windows.net"})


@pytest.mark.parametrize(
    ("env", "url"),
    [
        (
            {"PACKAGE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net/"},
            "https://acct.blob.core.windows.net",
        ),
        (
            {"AzureWebJobsStorage__blobServiceUri": "https://b.blob.core.windows.net"},
            "https://b.blob.core.windows.net",
        ),
        ({"AzureWebJobsStorage__accountName": "c"}, "https://c.blob.core.windows.net"),
    ],
)
def test_an_account_url_selects_managed_identity_and_user_delegation(
    env: dict[str, str], url: str
) -> None:
    # Even with a key-bearing connection string present, the identity form wins.
    store = create_package_store({SETTING: "UseDevelopmentStorage=true", **env})
    assert isinstance(store, BlobPackageStore)
    assert store.service.url.rstrip("/") == url
    assert type(store.service.credential).__name__ == "DefaultAzureCredential"
    assert isinstance(store._signer, UserDelegationSigner)


def test_a_key_bearing_connection_signs_with_the_account_key() -> None:
    store = create_package_store({SETTING: "UseDevelopmentStorage=true"})
    assert isinstance(store._signer, AccountKeySigner)


# ---- user-delegation signing ----------------------------------------------------------------


class FakeService:
    """Stands in for BlobServiceClient: hands out user-delegation keys and counts them."""

    url = "https://acct.blob.core.windows.net/"
    account_name = "acct"

    def __init__(self) -> None:
        self.requests: list[tuple[datetime, datetime]] = []

    def get_user_delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        self.requests.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid = "00000000-0000-0000-0000-0000000000aa"
        key.signed_tid = "00000000-0000-0000-0000-0000000000bb"
        key.signed_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_expiry = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_service = "b"
        key.signed_version = "2025-01-05"
        key.value = KEY
        return key


def test_user_delegation_keys_are_reused_and_sas_are_capped_at_the_keys_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    service = FakeService()
    signer = UserDelegationSigner(service, clock=lambda: now)  # type: ignore[arg-type]
    first = parse_qs(signer.sign("c", "a.json", now, now + timedelta(hours=1)))
    second = parse_qs(signer.sign("c", "b.json", now, now + timedelta(days=2)))
    assert len(service.requests) == 1  # one key signs both
    assert service.requests[0][1] == now + MAX_DELEGATION_KEY_LIFETIME
    for sas in (first, second):
        assert sas["sp"] == ["r"]
        assert sas["spr"] == ["https"]
        assert sas["skoid"] == ["00000000-0000-0000-0000-0000000000aa"]
    # A SAS beyond the seven-day key is cut to the key's expiry.
    capped = parse_qs(signer.sign("c", "c.json", now, now + timedelta(days=30)))
    assert capped["se"] == [(now + MAX_DELEGATION_KEY_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")]


def test_account_key_sas_is_https_only_on_real_accounts() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    https: dict[str, Any] = parse_qs(
        AccountKeySigner("acct", KEY, "https://acct.blob.core.windows.net").sign(
            "c", "n", now, now + timedelta(minutes=5)
        )
    )
    http: dict[str, Any] = parse_qs(
        AccountKeySigner("devstoreaccount1", KEY, "http://127.0.0.1:10000/devstoreaccount1").sign(
            "c", "n", now, now + timedelta(minutes=5)
        )
    )
    assert https["spr"] == ["https"]
    assert http["spr"] == ["https,http"]
