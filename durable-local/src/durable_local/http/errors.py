"""The one error middleware: every failure becomes a JSON answer (spec §6), none crashes the server.

``DurableError`` subclasses carry their status; they are rendered as the ASP.NET WebApi
``HttpError`` the extension produces (``Message``, ``ExceptionMessage``, ``ExceptionType``,
``StackTrace``). aiohttp's own HTTP exceptions (unknown route, body too large) and unexpected
exceptions get the same shape, so every body is empty or JSON (spec §5.2).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from durable_local.model import compact
from durable_local.model.errors import DurableError

log = logging.getLogger("durable_local.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NotSupported(DurableError):
    """A feature of the real host that durable-local does not implement (501)."""

    http_status = 501
    exception_type = "System.NotSupportedException"
    message = "The requested feature is not supported by durable-local"


class Forbidden(DurableError):
    """A request refused for where it comes from (a foreign Host or Origin: http.guard) (403)."""

    http_status = 403
    exception_type = "System.UnauthorizedAccessException"
    message = "The request was refused"


def dumps(value: Any) -> str:
    """Compact JSON, as Newtonsoft writes it."""
    return compact(value, ensure_ascii=False)


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=dumps(value),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def http_error(
    status: int,
    message: str,
    exception_message: str | None = None,
    exception_type: str | None = None,
    stack_trace: str | None = None,
) -> web.Response:
    body: dict[str, Any] = {"Message": message}
    if exception_message is not None or exception_type is not None:
        body["ExceptionMessage"] = exception_message
        body["ExceptionType"] = exception_type
        body["StackTrace"] = stack_trace
    return json_response(body, status=status)


_STATUS_MESSAGES = {
    400: "The request is invalid.",
    401: "Unauthorized: a valid key is required ('code' query parameter or x-functions-key).",
    404: "No HTTP resource was found that matches the request URI.",
    413: "The request body is too large.",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DurableError as exc:
        return http_error(exc.http_status, exc.message, exc.detail, exc.exception_type)
    except web.HTTPException as exc:
        # Routing misses of every kind (no route, wrong method) are 404 on the real host.
        status = 404 if exc.status in (404, 405) else exc.status
        if status < 400:
            raise
        return http_error(status, _STATUS_MESSAGES.get(status, exc.reason))
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as exc:
        log.exception("Unhandled error serving %s %s", request.method, request.path)
        return http_error(
            500,
            "An error has occurred.",
            f"{type(exc).__name__}: {exc}",
            f"{type(exc).__module__}.{type(exc).__qualname__}",
            traceback.format_exc(),
        )
