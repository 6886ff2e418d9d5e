"""HTTP-triggered functions at ``/{routePrefix}/{route}`` (spec §8.2).

Each function's route template is compiled once; the table is sorted by ASP.NET precedence
and a route whose methods do not include the request's is skipped (the host answers 404 when
nothing fits). The user function's response is passed through unchanged; when the function
raises, the answer is a 500 with an empty body, as on the real host, and the traceback is logged.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from aiohttp import web

from durable_local.functions.registry import FunctionRegistry, HttpFunction
from durable_local.http.auth import AuthLevel
from durable_local.http.binding import durable_client_binding
from durable_local.http.config import CONFIG, RUNTIME, Route, RouteHandler, origin_of, rpc_base_url
from durable_local.http.durable_api import read_body
from durable_local.http.routing import RouteTemplate, sort_by_precedence
from durable_local.worker.http_call import HttpFunctionError, HttpRequestData
from durable_local.worker.protocol import WorkerError

log = logging.getLogger("durable_local.host")


def _joined(pairs: Iterable[tuple[str, str]], separator: str) -> dict[str, str]:
    """One value per name, repeated names joined (as the host flattens headers and query)."""
    result: dict[str, str] = {}
    for name, value in pairs:
        result[name] = f"{result[name]}{separator}{value}" if name in result else value
    return result


def _handler(function: HttpFunction) -> RouteHandler:
    async def handle(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
        config = request.app[CONFIG]
        body = await read_body(request)
        binding = None
        if function.client_binding is not None:
            binding = durable_client_binding(
                origin=origin_of(request),
                rpc_base_url=rpc_base_url(request),
                hub_name=request.app[RUNTIME].hub_name,
                connection=function.client_connection or config.connection_name,
                system_key=config.keys.system_key,
            )
        data = HttpRequestData(
            method=request.method,
            url=str(request.url),
            headers=_joined(request.headers.items(), ", "),
            params=_joined(request.query.items(), ","),
            route_params=values,
            body=body,
        )
        invocation_id = str(uuid.uuid4())
        log.info(
            "Executing 'Functions.%s' (Reason='This function was programmatically called via "
            "the host APIs.', Id=%s)",
            function.function_name,
            invocation_id,
        )
        started = time.perf_counter()
        try:
            result = await request.app[RUNTIME].call_http(
                function, data, client_binding=binding, invocation_id=invocation_id
            )
        except (HttpFunctionError, WorkerError) as exc:
            log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                function.function_name,
                invocation_id,
                (time.perf_counter() - started) * 1000,
                exc,
                exc_info=exc.__cause__,  # in-process: the user's exception (else in the text)
            )
            return web.Response(status=500)
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
            function.function_name,
            invocation_id,
            (time.perf_counter() - started) * 1000,
        )
        response = web.Response(status=result.status, body=result.body)
        for name, value in result.headers:
            if name.lower() in ("content-length", "transfer-encoding"):
                continue
            response.headers.add(name, value)
        return response

    return handle


def function_routes(registry: FunctionRegistry) -> list[Route]:
    """One route per HTTP function, in precedence order (raises RouteTemplateError)."""
    routes: list[Route] = []
    for function in registry.http:
        template = RouteTemplate(function.route)
        routes.append(
            Route(
                methods=frozenset(m.upper() for m in function.methods) or None,
                template=template,
                handler=_handler(function),
                auth=AuthLevel.parse(function.auth_level),
                name=function.function_name,
            )
        )
    order = {id(t): i for i, t in enumerate(sort_by_precedence([r.template for r in routes]))}
    return sorted(routes, key=lambda r: order[id(r.template)])
