"""The FastAPI application: routes, error handlers, auth, metrics, CORS, the page.

    >>> app = create_app(Settings.load({}, os.environ))

``create_app`` builds the :class:`~resultgate._service.ResultService` itself
unless one is passed (tests pass a fake; a passed service is not closed by the
app). The service is built with ``trust_block_basepaths=False``: in a shared
service a block document's basepath does not widen what may be read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from resultgate import __version__
from resultgate.server.auth import Authorizer
from resultgate.server.errors import install_error_handlers
from resultgate.server.metrics import CONTENT_TYPE, GatewayMetrics, MetricsMiddleware
from resultgate.server.options import Gateway, GatewayOptions, gateway_of
from resultgate.server.routes import build_router

if TYPE_CHECKING:
    from resultgate._config import Settings
    from resultgate._service import ResultService

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

_USERINFO = re.compile(r"//[^/@]*@")


def _public_url(url: str) -> str:
    """A URL without any ``user:password@`` part."""
    return _USERINFO.sub("//", url, count=1)


def create_app(settings: Settings, service: ResultService | None = None) -> FastAPI:
    """The gateway app for ``settings``; serve it with uvicorn."""
    options = GatewayOptions.from_settings(settings)
    owns = service is None
    if service is None:
        from resultgate._service import ResultService

        service = ResultService(settings, trust_block_basepaths=False)
    bound = service
    metrics = GatewayMetrics(lambda: getattr(bound, "cache_stats", None))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            gw = gateway_of(app.state)
            if gw.owns_service:
                await gw.service.aclose()

    app = FastAPI(
        title="resultgate",
        version=__version__,
        summary="From a Prefect state or run id to the value it returned, safely.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.gateway = Gateway(
        service=service,
        options=options,
        authorizer=Authorizer(options.tokens),
        metrics=metrics,
        owns_service=owns,
    )
    install_error_handlers(app, metrics)
    app.include_router(build_router(scoped=False))
    app.include_router(build_router(scoped=True))
    _add_operational_routes(app)

    if options.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Content-Disposition", "Content-Length"],
        )
    # outermost of ours: it sees every status, including CORS and error answers
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    if STATIC_DIR.is_dir():
        from starlette.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="page")
    return app


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["operations"], summary="Whether the gateway and Prefect answer")
    async def health(request: Request) -> Response:
        """200 when Prefect answers; 503 (same body, ``status: degraded``) when it does not,
        so a load balancer sends no traffic to a gateway that cannot serve results.
        Use ``/health/live`` for a liveness probe that does not depend on Prefect."""
        gw = gateway_of(request.app.state)
        report: dict[str, Any] = await gw.service.ahealth()
        prefect = dict(report.get("prefect") or {})
        if isinstance(prefect.get("url"), str):
            prefect["url"] = _public_url(prefect["url"])
        ok = bool(prefect.get("ok"))
        body = {"status": "ok" if ok else "degraded", "version": __version__, "prefect": prefect}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/health/live", tags=["operations"], summary="Whether the gateway process answers")
    async def live() -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        gw = gateway_of(request.app.state)
        return Response(gw.metrics.render(), media_type=CONTENT_TYPE)
