"""The endpoints: parse the request, call the service, format the answer.

Blocking work (decoding an upload, rendering a big value) runs in a worker
thread, never on the event loop; the raw bytes are streamed from storage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from resultgate._errors import TooLarge, UsageError
from resultgate._model import ID_KINDS
from resultgate.server import envelope as env
from resultgate.server.options import Gateway, gateway_of

if TYPE_CHECKING:
    from resultgate._model import IdKind
    from resultgate._result import Result
    from resultgate._service import RawStream

__all__ = ["build_router", "read_capped"]

_SCOPE_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

FormatQuery = Query(
    "json",
    description="json (the envelope), text (a str as itself, else JSON), repr, or raw (the stored bytes)",
)


def gateway(request: Request) -> Gateway:
    return gateway_of(request.app.state)


async def caller_auth(request: Request) -> str | None:
    """The Authorization to forward to Prefect (401 when gateway tokens are not met)."""
    return gateway(request).authorizer(request.headers.get("authorization"))


# dependencies are `async def`: FastAPI would run a plain `def` in a worker thread
async def no_scope() -> str:
    return ""


async def cloud_scope(
    account: str = Path(description="Prefect Cloud account id"),
    workspace: str = Path(description="Prefect Cloud workspace id"),
) -> str:
    """``/accounts/{a}/workspaces/{w}``: the Prefect Cloud scope the call is forwarded to."""
    if not (_SCOPE_PART.match(account) and _SCOPE_PART.match(workspace)):
        raise UsageError("account and workspace must be ids", hint="use the ids from your Prefect Cloud URL")
    return f"/accounts/{account}/workspaces/{workspace}"


def parse_format(value: str, allowed: tuple[str, ...] = env.FORMATS) -> str:
    fmt = value.strip().lower()
    if fmt not in allowed:
        raise UsageError(f"unknown format {value!r}", hint=f"use one of: {', '.join(allowed)}")
    return fmt


def _headers(etag: str | None) -> dict[str, str]:
    # the answer may depend on the caller's credentials (forwarded to Prefect)
    # nosniff: a str result served as text/plain must never be run as HTML by a browser
    headers = {
        "Vary": "Authorization",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if etag:
        headers["ETag"] = etag
    return headers


def _not_modified(request: Request, etag: str | None) -> Response | None:
    if env.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=_headers(etag))
    return None


def _content_disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:200] or "result"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:200], safe='')}"


async def raw_response(request: Request, raw: RawStream) -> Response:
    etag = env.quote_etag(raw.etag) if raw.etag else None
    cached = _not_modified(request, etag)
    if cached is not None:
        aclose = getattr(raw.chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        return cached
    headers = _headers(etag)
    headers["Content-Disposition"] = _content_disposition(raw.filename)
    if raw.size is not None:
        headers["Content-Length"] = str(raw.size)
    return StreamingResponse(raw.chunks, media_type="application/octet-stream", headers=headers)


async def rendered_response(
    request: Request, result: Result, fmt: str, *, id: str | None, kind: str, raw_url: str | None
) -> Response:
    """The json/text/repr rendering of a decoded result, with its ETag (304 when unchanged)."""
    etag = env.result_etag(result, fmt, kind)
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    headers = _headers(etag)
    if fmt == "json":
        limit = gateway(request).options.inline_limit
        quick = env.quick_preview(result, limit)
        if quick is not None:
            body = env.envelope_bytes(result, id=id, kind=kind, raw_url=raw_url, rendered=quick)
        else:
            body = await run_in_threadpool(
                lambda: env.envelope_bytes(result, id=id, kind=kind, raw_url=raw_url, inline_limit=limit)
            )
        return Response(body, media_type="application/json", headers=headers)
    text = env.quick_text(result, fmt)
    if text is None:
        render: Callable[[], str] = result.text if fmt == "text" else result.repr
        text = await run_in_threadpool(render)
    return Response(text.encode("utf-8"), media_type="text/plain; charset=utf-8", headers=headers)


async def read_capped(request: Request, cap: int) -> bytes:
    """The request body, read chunk by chunk; :class:`TooLarge` as soon as it passes ``cap``
    (a declared ``Content-Length`` past it is refused before a byte is read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise UsageError("Content-Length is not a number") from None
        if length > cap:
            raise TooLarge(
                f"the posted file is {length} bytes; this gateway takes at most {cap}",
                hint="decode large files with 'resultgate decode FILE' on your machine",
            )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise TooLarge(
                f"the posted file is larger than {cap} bytes, the most this gateway takes",
                hint="decode large files with 'resultgate decode FILE' on your machine",
            )
    return bytes(body)


def _serializer_arg(value: str | None) -> Any:
    """``?serializer=``: a short name (``json``, ``pickle``...) or a JSON object."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError:
            raise UsageError("serializer is not valid JSON", hint='e.g. {"type": "pickle"} or json') from None
        if not isinstance(spec, dict):
            raise UsageError("serializer must be a name or a JSON object")
        return spec
    return text


def build_router(*, scoped: bool) -> APIRouter:
    """The ``/api`` routes; ``scoped`` ones live under ``/accounts/{a}/workspaces/{w}``."""
    scope_dep = cloud_scope if scoped else no_scope
    # the prefix is the router's own, so each route knows its full template (a metrics label)
    prefix = "/api/accounts/{account}/workspaces/{workspace}" if scoped else "/api"
    router = APIRouter(prefix=prefix, tags=["cloud-scoped results"] if scoped else ["results"])

    def add_result_route(kind: IdKind | None, path: str, summary: str) -> None:
        async def get_result(
            request: Request,
            id: str,
            format: str = FormatQuery,
            scope: str = Depends(scope_dep),
            auth: str | None = Depends(caller_auth),
        ) -> Response:
            fmt = parse_format(format)
            service = gateway(request).service
            if fmt == "raw":
                raw = await service.araw(id, kind, auth=auth, scope=scope)
                return await raw_response(request, raw)
            root = str(request.scope.get("root_path", ""))
            try:
                fetched = await service.afetch(id, kind, auth=auth, scope=scope)
                raw_url = env.api_path(fetched.kind, id, scope=scope, root_path=root, fmt="raw")
                return await rendered_response(
                    request, fetched.result, fmt, id=id, kind=fetched.kind, raw_url=raw_url
                )
            except TooLarge as exc:
                # the stored bytes can still be had: say where (the page offers the link)
                if kind:
                    link = env.api_path(kind, id, scope=scope, root_path=root, fmt="raw")
                else:
                    link = f"{root}/api{scope}/results/{id}?format=raw"
                hint = exc.hint or "ask for format=raw to download the stored bytes"
                raise TooLarge(exc.message, hint=hint, **{**exc.details, "raw_url": link}) from exc

        get_result.__name__ = f"get_{kind or 'any'}_result{'_scoped' if scoped else ''}"
        router.add_api_route(
            path,
            get_result,
            methods=["GET"],
            summary=summary,
            response_class=Response,
            responses={
                200: {"description": "the envelope (json), the value (text/repr) or the stored bytes (raw)"},
                304: {"description": "unchanged since the ETag sent in If-None-Match"},
            },
        )

    for kind in ID_KINDS:
        words = kind.replace("_", " ")
        add_result_route(kind, f"/{env.PLURAL[kind]}/{{id}}/result", f"The value behind a {words} id")
    add_result_route(None, "/results/{id}", "The value behind an id of any kind")

    async def flow_run_results(
        request: Request,
        id: str,
        limit: int = Query(50, ge=1, le=200, description="items per page (at most 200)"),
        offset: int = Query(0, ge=0, description="items to skip"),
        scope: str = Depends(scope_dep),
        auth: str | None = Depends(caller_auth),
    ) -> Response:
        service = gateway(request).service
        results = await service.aresults(id, limit=limit, offset=offset, auth=auth, scope=scope)
        root = str(request.scope.get("root_path", ""))
        # up to 200 items a page: each value is cut shorter than a single result's
        limit = min(gateway(request).options.inline_limit, env.PAGE_ITEM_BYTES)
        body = await run_in_threadpool(
            lambda: env.page_bytes(results, scope=scope, root_path=root, inline_limit=limit)
        )
        return Response(body, media_type="application/json", headers=_headers(None))

    flow_run_results.__name__ = f"flow_run_results{'_scoped' if scoped else ''}"
    router.add_api_route(
        "/flow_runs/{id}/results",
        flow_run_results,
        methods=["GET"],
        summary="Every result of a flow run: its own and each task run's, paged",
        response_class=Response,
    )

    if not scoped:

        async def decode_upload(
            request: Request,
            serializer: str | None = Query(None, description="a serializer name or JSON spec"),
            format: str = Query("json", description="json, text or repr"),
            auth: str | None = Depends(caller_auth),
        ) -> Response:
            """Decode a result file posted as the request body (its size is capped)."""
            fmt = parse_format(format, ("json", "text", "repr"))
            gw = gateway(request)
            spec = _serializer_arg(serializer)
            data = await read_capped(request, gw.options.max_upload)
            if not data:
                raise UsageError("the request body is empty", hint="post the bytes of a result file")
            result = await run_in_threadpool(gw.service.decode_upload, data, spec)
            return await rendered_response(request, result, fmt, id=None, kind="upload", raw_url=None)

        router.add_api_route(
            "/results/decode",
            decode_upload,
            methods=["POST"],
            summary="Decode a posted result file",
            response_class=Response,
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    },
                }
            },
        )
    return router
