"""``BlobPackageStore`` against a real Azurite: upload, SAS read over plain HTTP, SAS expiry and
tampering refused by storage, idempotent re-runs, containers created on demand."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import BlobServiceClient

from devtools.azurite import Azurite
from workflows.blob_store import (
    DEV_ACCOUNT_KEY,
    AccountKeySigner,
    BlobPackageStore,
    PackageStorageError,
    parse_connection_string,
)
from workflows.package_store import create_package_store

CONTENT = b'{"schema":"device-installation/v1","deviceId":"dev-1"}'


def http_get(url: str) -> tuple[int, bytes]:
    """A plain HTTP GET, as a device without the Azure SDK would do it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def fresh_container() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def store_with_clock(azurite: Azurite, now: datetime, grace_seconds: int = 0) -> BlobPackageStore:
    connection = parse_connection_string(azurite.connection_string, "AzureWebJobsStorage")
    service = BlobServiceClient(
        connection.blob_endpoint,
        credential={"account_name": connection.account_name, "account_key": connection.account_key},
    )
    signer = AccountKeySigner(
        connection.account_name, connection.account_key, connection.blob_endpoint
    )
    return BlobPackageStore(service, signer, grace_seconds=grace_seconds, clock=lambda: now)


def test_put_uploads_the_bytes_with_digest_type_and_a_read_only_sas(
    blob_store: BlobPackageStore, service: BlobServiceClient, azurite: Azurite
) -> None:
    container = fresh_container()
    stored = blob_store.put(
        container,
        "run-1/device/dev-1.json",
        CONTENT,
        content_type="application/json",
        ttl_seconds=60,
    )
    assert stored.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert stored.size_bytes == len(CONTENT)
    base, _, query = stored.url.partition("?")
    assert base == f"{azurite.blob_endpoint}/{container}/run-1/device/dev-1.json"
    sas = parse_qs(query)
    assert sas["sp"] == ["r"]  # read only
    assert sas["sr"] == ["b"]  # this one blob
    assert "sig" in sas
    expiry = datetime.strptime(sas["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # the ack window (60 s) plus the default grace (300 s)
    assert abs((expiry - datetime.now(UTC)).total_seconds() - 360) < 30

    blob = service.get_blob_client(container, "run-1/device/dev-1.json")
    assert blob.download_blob().readall() == CONTENT
    properties = blob.get_blob_properties()
    assert properties.content_settings.content_type == "application/json"
    assert properties.metadata == {"sha256": stored.sha256}
    assert blob_store.get(container, "run-1/device/dev-1.json") == CONTENT


def test_the_sas_url_downloads_over_plain_http_and_the_digest_matches(
    blob_store: BlobPackageStore,
) -> None:
    stored = blob_store.put(
        fresh_container(), "p/x.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    status, body = http_get(stored.url)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == stored.sha256


def test_without_the_sas_storage_refuses_the_download(blob_store: BlobPackageStore) -> None:
    stored = blob_store.put(
        fresh_container(), "p/x.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    status, _ = http_get(stored.url.split("?", 1)[0])
    assert status in (403, 404)  # private container: anonymous reads are refused


def test_the_sas_does_not_allow_writing(blob_store: BlobPackageStore) -> None:
    container = fresh_container()
    stored = blob_store.put(
        container, "p/x.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    request = urllib.request.Request(
        stored.url, data=b"evil", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 403
    assert blob_store.get(container, "p/x.json") == CONTENT


def test_an_expired_sas_is_refused_by_storage(azurite: Azurite) -> None:
    # Issued an hour ago for a 60 s window: expired long since.
    store = store_with_clock(azurite, datetime.now(UTC) - timedelta(hours=1))
    stored = store.put(
        fresh_container(), "p/x.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    status, body = http_get(stored.url)
    assert status == 403
    assert b"AuthenticationFailed" in body or b"AuthorizationFailure" in body


@pytest.mark.slow  # waits out a real SAS window
def test_a_sas_works_for_its_window_and_is_refused_after_it(azurite: Azurite) -> None:
    # Real time: a one-second window without grace (SAS times have one-second resolution).
    store = store_with_clock(
        azurite, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    )
    stored = store.put(
        fresh_container(), "p/x.json", CONTENT, content_type="application/json", ttl_seconds=1
    )
    assert http_get(stored.url)[0] == 200
    time.sleep(3.2)
    assert http_get(stored.url)[0] == 403


def forged(signature: str) -> str:
    """The signature with its first character changed (always to another one)."""
    return ("B" if signature.startswith("A") else "A") + signature[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: with_query(url, se="2099-01-01T00:00:00Z"), id="extended-expiry"),
        pytest.param(lambda url: with_query(url, sp="rw"), id="added-permission"),
        pytest.param(
            lambda url: with_query(url, sig=forged(parse_qs(urlsplit(url).query)["sig"][0])),
            id="forged-signature",
        ),
        pytest.param(
            lambda url: url.replace("/p/x.json?", "/p/other.json?"), id="other-blob-same-sas"
        ),
    ],
)
def test_a_tampered_sas_is_refused_by_storage(blob_store: BlobPackageStore, tamper: object) -> None:
    container = fresh_container()
    stored = blob_store.put(
        container, "p/x.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    blob_store.put(container, "p/other.json", b"other", content_type="text/plain", ttl_seconds=60)
    assert callable(tamper)
    tampered = tamper(stored.url)
    assert tampered != stored.url
    status, _ = http_get(tampered)
    assert status == 403


def test_a_rerun_overwrites_the_same_blob_with_the_same_bytes(
    blob_store: BlobPackageStore, service: BlobServiceClient
) -> None:
    container = fresh_container()
    first = blob_store.put(
        container, "a/b.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    second = blob_store.put(
        container, "a/b.json", CONTENT, content_type="application/json", ttl_seconds=60
    )
    assert first.sha256 == second.sha256
    assert first.url.split("?")[0] == second.url.split("?")[0]
    names = [b.name for b in service.get_container_client(container).list_blobs()]
    assert names == ["a/b.json"]
    for stored in (first, second):  # both URLs stay usable: equivalent, not necessarily equal
        status, body = http_get(stored.url)
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == first.sha256


def test_a_missing_container_is_created(
    blob_store: BlobPackageStore, service: BlobServiceClient
) -> None:
    container = fresh_container()
    assert not service.get_container_client(container).exists()
    blob_store.put(container, "x.json", CONTENT, content_type="application/json", ttl_seconds=60)
    assert service.get_container_client(container).exists()
    # ...and stays private: packages are reachable through their SAS only.
    assert service.get_container_client(container).get_container_properties().public_access is None


def test_get_of_a_missing_blob_is_none(blob_store: BlobPackageStore) -> None:
    container = fresh_container()
    assert blob_store.get(container, "nothing.json") is None
    blob_store.put(container, "x.json", CONTENT, content_type="application/json", ttl_seconds=60)
    assert blob_store.get(container, "nothing.json") is None


def test_storage_refusing_the_upload_is_a_one_line_error(azurite: Azurite) -> None:
    wrong_key = base64.b64encode(b"w" * 64).decode()
    text = azurite.connection_string.replace(DEV_ACCOUNT_KEY, wrong_key)
    assert text != azurite.connection_string
    store = create_package_store({"AzureWebJobsStorage": text})
    with pytest.raises(PackageStorageError) as caught:
        store.put("refused", "x.json", CONTENT, content_type="application/json", ttl_seconds=60)
    message = str(caught.value)
    # Azure answers AuthenticationFailed, Azurite AuthorizationFailure.
    assert message.startswith("blob storage refused to upload refused/x.json: HTTP 403 Auth")
    assert wrong_key not in message


def test_a_signer_without_credential_is_a_one_line_error(blob_store: BlobPackageStore) -> None:
    class NoIdentity:
        def sign(self, container: str, name: str, start: datetime, expiry: datetime) -> str:
            raise ClientAuthenticationError("DefaultAzureCredential failed to get a token\nmore")

    store = BlobPackageStore(blob_store.service, NoIdentity())
    container = fresh_container()
    with pytest.raises(PackageStorageError) as caught:
        store.put(container, "x.json", CONTENT, content_type="application/json", ttl_seconds=60)
    assert str(caught.value) == (
        f"no credential to sign a SAS for {container}/x.json: "
        "DefaultAzureCredential failed to get a token"
    )
