"""The HTTP host: the app's HTTP functions, the Durable HTTP API and the SDK's RPC surface."""

from durable_local.http.app import create_app
from durable_local.http.auth import AuthLevel, HostKeys
from durable_local.http.config import DEFAULT_MAX_BODY_SIZE, HostConfig

__all__ = ["DEFAULT_MAX_BODY_SIZE", "AuthLevel", "HostConfig", "HostKeys", "create_app"]
