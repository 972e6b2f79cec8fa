"""The emulator's HTTP surface: the app that mounts one router per area of the API.

Every handler and dependency is `async def` so that it runs on the event loop, never
in a thread pool: the store's rules then hold under any concurrency without locks.
A new area plugs in as one more `app.include_router(...)` below.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mxsync.emulator.faults import FaultLayer, FaultPlan
from mxsync.emulator.ratelimit import RateLimitLayer, RateLimitOptions
from mxsync.emulator.routes import catalog, control, credentials, settings, system, xai_standin
from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import ApiError, World
from mxsync.emulator.xai_management import PREFIX as MANAGEMENT_PREFIX
from mxsync.emulator.xai_management import management_scope
from mxsync.emulator.xai_world import CODE_NOT_FOUND

# Paths served as xAI (the inference stand-in and the Management API), not as ModuleX.
XAI_PREFIXES = ("/v1/", MANAGEMENT_PREFIX + "/")


def build_app(ctx: EmulatorContext) -> FastAPI:
    # No slash redirects, as the service has them: `/credentials/` is a 404, not a 307.
    app = FastAPI(title="ModuleX API (mxsync emulator)", docs_url=None, redoc_url=None,
                  redirect_slashes=False)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _no_route(request: Request, exc: StarletteHTTPException) -> Response:
        """xAI's two services answer a route they do not have in their own shape; the
        ModuleX routes keep FastAPI's `{"detail"}`."""
        if exc.status_code in (404, 405) and request.url.path.startswith(XAI_PREFIXES):
            return JSONResponse({"code": CODE_NOT_FOUND,
                                 "error": f"No handler found on route {request.url.path}"},
                                status_code=404)
        return await http_exception_handler(request, exc)

    routes: list[Any] = []

    def mount(router: APIRouter) -> None:
        # FastAPI >= 0.120 keeps included routers behind a wrapper, so the fault layer's
        # route templates (the keys of /_emulator/stats) are collected here instead.
        app.include_router(router)
        routes.extend(router.routes)

    mount(system.router(ctx))
    mount(credentials.router(ctx))
    mount(catalog.router(ctx))
    mount(settings.router(ctx))
    mount(xai_standin.router(ctx))
    mount(control.router(ctx))
    app.state.route_list = routes
    return app


def build_asgi(
    world: World,
    *,
    latency_ms: float = 0.0,
    plan: FaultPlan | None = None,
    xai_upstream: str | None = None,
    limits: RateLimitOptions | None = None,
    max_page_size: int | None = None,
) -> FaultLayer:
    """The layers, outermost first: faults and counting (a fault is the network's, so it
    hits before the service counts the request), the rate limit, then the API."""
    ctx = EmulatorContext(world=world, xai_upstream=xai_upstream, max_page_size=max_page_size)
    app = build_app(ctx)
    limited = RateLimitLayer(app, world, limits or RateLimitOptions())
    layer = FaultLayer(limited, latency_ms=latency_ms, plan=plan, routes=app.state.route_list,
                       scope_of=management_scope(world.xai))
    ctx.layer = layer
    return layer
