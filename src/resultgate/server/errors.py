"""Every error leaves the app in one JSON shape: ``{"error": {code, status, message, hint?}}``.

Our own errors carry their status (see ``resultgate._errors``); FastAPI's request
validation becomes 400 ``bad-request``; Starlette's 404/405 keep their status;
anything unexpected is 500 ``internal`` with no internals in the body (the
traceback goes to the log only).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from resultgate._errors import ResultgateError, UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

    from resultgate.server.metrics import GatewayMetrics

__all__ = ["error_body", "install_error_handlers"]

log = logging.getLogger("resultgate.server")

_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 400: "bad-request", 413: "too-large"}


def error_body(code: str, status: int, message: str, hint: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": status, "message": message}
    if hint:
        body["hint"] = hint
    return {"error": body}


def _validation_error(exc: RequestValidationError) -> UsageError:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("query", "path", "body", "header")]
        # the input itself is not echoed back
        fields.append({"field": ".".join(loc), "problem": str(err.get("msg", "invalid"))})
    names = ", ".join(f["field"] or "request" for f in fields) or "request"
    return UsageError(
        f"invalid value for {names}", hint="see details and the API docs at /docs", fields=fields
    )


def install_error_handlers(app: FastAPI, metrics: GatewayMetrics) -> None:
    """Register the handlers that give every error the one shape."""

    async def on_resultgate_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ResultgateError)
        metrics.count_error(exc.code)
        # messages never hold secrets (a rule of _errors), so they may be logged
        log.info("%s %s -> %s %s: %s", request.method, request.url.path, exc.status, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await on_resultgate_error(request, _validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http-error")
        metrics.count_error(code)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            message = f"no such endpoint: {request.url.path}"
        return JSONResponse(
            error_body(code, exc.status_code, message), status_code=exc.status_code, headers=exc.headers
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        metrics.count_error("internal")
        log.error("%s %s -> 500: unexpected %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(error_body("internal", 500, "internal error"), status_code=500)

    app.add_exception_handler(ResultgateError, on_resultgate_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
