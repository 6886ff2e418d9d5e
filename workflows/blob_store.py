"""Packages in Azure Blob Storage, handed out as read-only SAS URLs (Azurite locally).

``BlobPackageStore`` implements ``PackageStore``: ``put`` uploads the bytes (overwriting, so a
re-run of the activity writes the same blob), creates the container the first time it is
missing, and returns the blob's URL with a read-only SAS valid for the ack window plus a grace
period, beside the sha256 of the bytes. Two ways to sign:

* **Account key** (``AccountKeySigner``): the connection string carries ``AccountKey`` — a
  real account's key or ``UseDevelopmentStorage=true`` (Azurite's well-known key).
* **User delegation** (``UserDelegationSigner``): the app reaches storage with an Entra ID
  token (``DefaultAzureCredential``: the managed identity in Azure, the developer's login
  locally) and signs with a user-delegation key. Storage caps such keys at seven days, so a
  SAS never outlives that.

``create_blob_store`` picks the mode from the app settings (see README.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    LinearRetry,
    UserDelegationKey,
    generate_blob_sas,
)
from azure_functions_logging import get_logger

from workflows.package_store import StoredObject, check_put_arguments
from workflows.settings import (
    PACKAGE_STORAGE_ACCOUNT_URL,
    PACKAGE_STORAGE_CONNECTION,
    AppSettings,
    SettingsError,
)

_log = get_logger(__name__)

#: Azurite's (and the Storage Emulator's) well-known development account, public by design.
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEV_BLOB_PORT = 10000

#: A SAS starts this much before "now", so a storage clock slightly behind ours accepts it.
CLOCK_SKEW = timedelta(minutes=5)
#: Storage refuses user-delegation keys that expire more than seven days after the request.
MAX_DELEGATION_KEY_LIFETIME = timedelta(days=7) - timedelta(minutes=1)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---- connection strings ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccountKeyConnection:
    """What a key-bearing connection string says: the blob endpoint, account and key."""

    blob_endpoint: str
    account_name: str
    account_key: str


def split_connection_string(text: str, setting: str) -> dict[str, str]:
    """The ``Key=Value`` pairs of a connection string, keys lower-cased (values as given)."""
    parts: dict[str, str] = {}
    for item in text.strip().strip(";").split(";"):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SettingsError(
                setting, "is not a storage connection string (expected Key=Value;...)"
            )
        parts[key.strip().lower()] = value.strip()
    return parts


def parse_connection_string(text: str, setting: str) -> AccountKeyConnection:
    """Blob endpoint, account name and key from a storage connection string.

    ``UseDevelopmentStorage=true`` is Azurite: the well-known development account on
    ``http://127.0.0.1:10000/devstoreaccount1`` (``DevelopmentStorageProxyUri`` replaces the
    host). For another Azurite port, give a full connection string with ``BlobEndpoint``.
    ``setting`` names the app setting in error messages; the value (a secret) never appears.
    """
    parts = split_connection_string(text, setting)
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        host = parts.get("developmentstorageproxyuri", "http://127.0.0.1").rstrip("/")
        return AccountKeyConnection(
            blob_endpoint=f"{host}:{DEV_BLOB_PORT}/{DEV_ACCOUNT_NAME}",
            account_name=DEV_ACCOUNT_NAME,
            account_key=DEV_ACCOUNT_KEY,
        )

    account_name = parts.get("accountname", "")
    account_key = parts.get("accountkey", "")
    if not account_name or not account_key:
        raise SettingsError(
            setting,
            "the connection string has no AccountName/AccountKey, so packages cannot be signed "
            f"with the account key; configure {PACKAGE_STORAGE_ACCOUNT_URL} to use a managed "
            "identity and user-delegation SAS instead",
        )
    endpoint = parts.get("blobendpoint", "").rstrip("/")
    if not endpoint:
        protocol = parts.get("defaultendpointsprotocol", "https")
        suffix = parts.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account_name}.blob.{suffix}"
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise SettingsError(setting, "BlobEndpoint must be an http(s) URL")
    return AccountKeyConnection(endpoint, account_name, account_key)


# ---- SAS signing ----------------------------------------------------------------------------


class SasSigner(Protocol):
    """Signs read-only SAS tokens for single blobs."""

    def sign(self, container: str, name: str, start: datetime, expiry: datetime) -> str:
        """A SAS query string (no leading ``?``) granting read on ``container/name``."""
        ...


def _sas_protocol(endpoint: str) -> str:
    # Real accounts are HTTPS-only for SAS; Azurite speaks plain HTTP.
    return "https" if urlsplit(endpoint).scheme == "https" else "https,http"


class AccountKeySigner:
    """Service SAS signed with the storage account key."""

    def __init__(self, account_name: str, account_key: str, endpoint: str) -> None:
        self._account_name = account_name
        self._account_key = account_key
        self._protocol = _sas_protocol(endpoint)

    def sign(self, container: str, name: str, start: datetime, expiry: datetime) -> str:
        return generate_blob_sas(
            self._account_name,
            container,
            name,
            account_key=self._account_key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
            protocol=self._protocol,
        )


class UserDelegationSigner:
    """User-delegation SAS: signed with a key storage issues to the app's Entra identity.

    One key (valid for the longest time storage allows) signs every SAS until a SAS would
    outlive it; SAS expiries beyond the key's reach are cut to the key's expiry.
    """

    def __init__(self, service: BlobServiceClient, clock: Clock = _utcnow) -> None:
        self._service = service
        self._clock = clock
        self._key: UserDelegationKey | None = None
        self._key_expiry: datetime | None = None
        self._lock = threading.Lock()
        self._protocol = _sas_protocol(service.url)

    def _key_until(self, expiry: datetime) -> tuple[UserDelegationKey, datetime]:
        with self._lock:
            if self._key is None or self._key_expiry is None or self._key_expiry < expiry:
                now = self._clock()
                key_expiry = now + MAX_DELEGATION_KEY_LIFETIME
                self._key = self._service.get_user_delegation_key(now - CLOCK_SKEW, key_expiry)
                self._key_expiry = key_expiry
            return self._key, self._key_expiry

    def sign(self, container: str, name: str, start: datetime, expiry: datetime) -> str:
        key, key_expiry = self._key_until(expiry)
        if expiry > key_expiry:
            _log.warning(
                "SAS for %s/%s cut to %s: user-delegation keys last at most seven days",
                container,
                name,
                key_expiry.isoformat(),
            )
            expiry = key_expiry
        return generate_blob_sas(
            self._service.account_name or "",
            container,
            name,
            user_delegation_key=key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
            protocol=self._protocol,
        )


# ---- the store ------------------------------------------------------------------------------


class PackageStorageError(RuntimeError):
    """Blob storage could not be reached or refused a request (the message says which)."""


def _is_container_missing(error: ResourceNotFoundError) -> bool:
    return getattr(error, "error_code", None) == "ContainerNotFound"


class BlobPackageStore:
    """A ``PackageStore`` on Azure Blob Storage (or Azurite)."""

    def __init__(
        self,
        service: BlobServiceClient,
        signer: SasSigner,
        *,
        grace_seconds: int = 300,
        clock: Clock = _utcnow,
    ) -> None:
        self._service = service
        self._signer = signer
        self._grace = timedelta(seconds=grace_seconds)
        self._clock = clock

    @property
    def service(self) -> BlobServiceClient:
        return self._service

    def _create_container(self, container: str) -> None:
        try:
            self._service.create_container(container)
            _log.info("created blob container %s", container)
        except ResourceExistsError:
            pass  # another worker (or a parallel activity) created it first

    def put(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str,
        ttl_seconds: int,
    ) -> StoredObject:
        check_put_arguments(container, name, ttl_seconds)
        digest = hashlib.sha256(data).hexdigest()
        blob = self._service.get_blob_client(container, name)
        upload: dict[str, Any] = {
            "overwrite": True,
            "content_settings": ContentSettings(content_type=content_type),
            "metadata": {"sha256": digest},
        }
        try:
            try:
                blob.upload_blob(bytes(data), **upload)
            except ResourceNotFoundError as error:
                if not _is_container_missing(error):
                    raise
                self._create_container(container)
                blob.upload_blob(bytes(data), **upload)
        except (ServiceRequestError, HttpResponseError) as error:
            raise self._storage_error(f"upload {container}/{name}", error) from error

        now = self._clock()
        try:
            sas = self._signer.sign(
                container,
                name,
                start=now - CLOCK_SKEW,
                expiry=now + timedelta(seconds=ttl_seconds) + self._grace,
            )
        except (ServiceRequestError, HttpResponseError) as error:
            # User delegation: the identity may lack the right to request a delegation key.
            raise self._storage_error(f"sign a SAS for {container}/{name}", error) from error
        return StoredObject(url=f"{blob.url}?{sas}", sha256=digest, size_bytes=len(data))

    def get(self, container: str, name: str) -> bytes | None:
        try:
            return self._service.get_blob_client(container, name).download_blob().readall()
        except ResourceNotFoundError:
            return None

    def _storage_error(self, action: str, error: Exception) -> PackageStorageError:
        """A one-line error the orchestrator can show as the child's failure reason."""
        if isinstance(error, ServiceRequestError):
            return PackageStorageError(
                f"blob storage unreachable at {self._service.url}: could not {action} ({error})"
            )
        if (
            isinstance(error, ClientAuthenticationError)
            and getattr(error, "status_code", None) is None
        ):
            # No token (DefaultAzureCredential found no identity): no HTTP status to report.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return PackageStorageError(f"no credential to {action}: {first_line}")
        status = getattr(error, "status_code", None)
        code = getattr(error, "error_code", None)
        code = str(getattr(code, "value", code) or "")  # sometimes a StorageErrorCode enum
        return PackageStorageError(
            f"blob storage refused to {action}: HTTP {status} {code}".rstrip()
        )


# ---- from app settings ----------------------------------------------------------------------


def _client_options() -> dict[str, Any]:
    # One quick SDK retry for a transient blip: the durable activity retry (ACTIVITY_RETRY_*)
    # is the real retry, and an unreachable account should fail the attempt in about a second
    # (the SDK default retries for half a minute and more).
    return {
        "retry_policy": LinearRetry(backoff=1, retry_total=1, random_jitter_range=1),
        "connection_timeout": 10,
        "read_timeout": 60,
    }


def _identity_account_url(settings: AppSettings, env: Mapping[str, str]) -> str:
    """The account URL for identity access: our setting, else the Functions identity form."""
    if settings.package_storage_account_url:
        return settings.package_storage_account_url
    # Functions' identity-based connections: <CONNECTION>__blobServiceUri / __accountName.
    prefix = settings.package_storage_connection
    uri = env.get(f"{prefix}__blobServiceUri", "").strip().rstrip("/")
    if uri:
        return uri
    account = env.get(f"{prefix}__accountName", "").strip()
    return f"https://{account}.blob.core.windows.net" if account else ""


def create_blob_store(settings: AppSettings, env: Mapping[str, str]) -> BlobPackageStore:
    """The blob store the app settings describe (identity if an account URL is configured)."""
    account_url = _identity_account_url(settings, env)
    if account_url:
        # Imported here: only the managed-identity mode needs azure-identity.
        from azure.identity import DefaultAzureCredential

        prefix = settings.package_storage_connection
        client_id = settings.package_storage_client_id or env.get(f"{prefix}__clientId", "")
        credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
        service = BlobServiceClient(account_url, credential=credential, **_client_options())
        return BlobPackageStore(
            service,
            UserDelegationSigner(service),
            grace_seconds=settings.package_sas_grace_seconds,
        )

    setting = settings.package_storage_connection
    text = env.get(setting, "").strip()
    if not text:
        raise SettingsError(
            setting,
            "is not set: the package store needs a storage connection string "
            f"(UseDevelopmentStorage=true for Azurite), or {PACKAGE_STORAGE_ACCOUNT_URL} for a "
            f"managed identity (or {PACKAGE_STORAGE_CONNECTION} naming another setting)",
        )
    connection = parse_connection_string(text, setting)
    service = BlobServiceClient(
        connection.blob_endpoint,
        credential={"account_name": connection.account_name, "account_key": connection.account_key},
        **_client_options(),
    )
    return BlobPackageStore(
        service,
        AccountKeySigner(connection.account_name, connection.account_key, connection.blob_endpoint),
        grace_seconds=settings.package_sas_grace_seconds,
    )
