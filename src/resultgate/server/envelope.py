"""What a response body says: a decoded result as the JSON envelope (see
docs/architecture.md, "The HTTP envelope"), a page of a run's results, ETags.

Pure functions; rendering a big value is CPU work, so the routes call
:func:`envelope_bytes` and :func:`page_bytes` in a worker thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from resultgate._model import IdKind, StateInfo
    from resultgate._result import Result
    from resultgate._service import ExportItem, ResultsPage

__all__ = [
    "FORMATS",
    "PAGE_ITEM_BYTES",
    "PLURAL",
    "api_path",
    "dumps",
    "envelope",
    "envelope_bytes",
    "etag_matches",
    "page",
    "page_bytes",
    "preview",
    "quick_preview",
    "quick_text",
    "quote_etag",
    "result_etag",
    "state_json",
]

#: ``?format=`` values of the result endpoints
FORMATS = ("json", "text", "repr", "raw")

#: id kind -> the Prefect collection its id lives in
PLURAL: dict[str, str] = {
    "flow_run_state": "flow_run_states",
    "task_run_state": "task_run_states",
    "flow_run": "flow_runs",
    "task_run": "task_runs",
}

#: renderings up to this many bytes are made on the event loop (cheaper than a thread hop);
#: bigger ones in a worker thread
LOOP_RENDER_BYTES = 16 * 1024

#: the preview size of one item of a run's page of results (its result_url has the rest)
PAGE_ITEM_BYTES = 64 * 1024

_STATE_KEYS = ("id", "type", "name", "timestamp", "message")


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON (renderings are JSON-ready by contract)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def api_path(kind: str, id: str, *, scope: str = "", root_path: str = "", fmt: str | None = None) -> str:
    """``/api{scope}/{collection}/{id}/result`` (``?format=`` when given)."""
    path = f"{root_path}/api{scope}/{PLURAL[kind]}/{quote(id, safe='')}/result"
    return f"{path}?format={fmt}" if fmt else path


def state_json(state: StateInfo | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The public fields of a state (never its ``data`` or anything else)."""
    if state is None:
        return None
    if isinstance(state, Mapping):
        return {key: state.get(key) for key in _STATE_KEYS}
    return {key: getattr(state, key) for key in _STATE_KEYS}


def preview(result: Result, inline_limit: int | None = None) -> tuple[Any, bool]:
    """The value's JSON rendering, whole when it fits in ``inline_limit`` bytes, else a
    preview cut to that size with ``truncated`` set."""
    limits = getattr(result, "limits", None)
    if inline_limit is None or limits is None or limits.preview_bytes == inline_limit:
        return result.preview()
    from resultgate._render import to_jsonable

    return to_jsonable(
        result.value, limits=dataclasses.replace(limits, preview_bytes=inline_limit), strict=False
    )


def quick_preview(result: Result, inline_limit: int | None) -> tuple[Any, bool] | None:
    """The preview when it is small enough to make on the event loop, else None.

    Work is bounded by :data:`LOOP_RENDER_BYTES` of output (the renderer stops there),
    so a value of any size or shape costs the loop little; one that does not fit is
    rendered again, whole, in a worker thread.
    """
    limits = getattr(result, "limits", None)
    if limits is None or len(result.raw) > LOOP_RENDER_BYTES:
        return None
    from resultgate._render import to_jsonable

    limit = inline_limit if inline_limit is not None else limits.preview_bytes
    cap = min(LOOP_RENDER_BYTES, limit)
    value, truncated = to_jsonable(
        result.value, limits=dataclasses.replace(limits, preview_bytes=cap), strict=False
    )
    if truncated and cap < limit:
        return None
    return value, bool(truncated)


def quick_text(result: Result, fmt: str) -> str | None:
    """``text``/``repr`` when it is small enough to make on the event loop, else None."""
    limits = getattr(result, "limits", None)
    if limits is None or len(result.raw) > LOOP_RENDER_BYTES:
        return None
    from resultgate._errors import TooLarge
    from resultgate._render import to_repr, to_text

    render = to_text if fmt == "text" else to_repr
    try:
        text, _ = render(
            result.value, limits=dataclasses.replace(limits, max_render_bytes=LOOP_RENDER_BYTES), strict=True
        )
    except TooLarge:
        return None
    return text


def envelope(
    result: Result,
    *,
    id: str | None,
    kind: str,
    raw_url: str | None,
    inline_limit: int | None = None,
    rendered: tuple[Any, bool] | None = None,
) -> dict[str, Any]:
    """The JSON envelope of one decoded result (value inline, or a preview past the limit)."""
    value, truncated = rendered if rendered is not None else preview(result, inline_limit)
    state = result.state
    return {
        "id": id,
        "kind": kind,
        "state": state_json(state),
        "flow_run_id": state.flow_run_id if state else None,
        "task_run_id": state.task_run_id if state else None,
        "reference": result.reference.to_dict() if result.reference is not None else None,
        "location": result.location,
        "serializer": result.serializer,
        "serializer_guessed": result.serializer_guessed,
        "format": result.format,
        "size": len(result.raw),
        "value_type": result.value_type,
        "value": value,
        "truncated": bool(truncated),
        "raw_url": raw_url,
        "safety": result.safety.to_dict(),
    }


def envelope_bytes(
    result: Result,
    *,
    id: str | None,
    kind: str,
    raw_url: str | None,
    inline_limit: int | None = None,
    rendered: tuple[Any, bool] | None = None,
) -> bytes:
    return dumps(
        envelope(result, id=id, kind=kind, raw_url=raw_url, inline_limit=inline_limit, rendered=rendered)
    )


def _item(item: ExportItem, *, scope: str, root_path: str, inline_limit: int | None) -> dict[str, Any]:
    state = item.state
    if state is not None:
        url: str | None = api_path(f"{item.kind}_state", state.id, scope=scope, root_path=root_path)
    elif item.run.get("id"):
        url = api_path(item.kind, str(item.run["id"]), scope=scope, root_path=root_path)
    else:
        url = None
    out: dict[str, Any] = {
        "kind": item.kind,
        "run_id": item.run.get("id"),
        "run_name": item.run.get("name"),
        "state": state_json(state),
        "status": item.status,
        "value": None,
        "truncated": False,
        "value_type": None,
        "result_url": url,
        "error": None,
    }
    if item.result is not None:
        value, truncated = preview(item.result, inline_limit)
        out.update(value=value, truncated=bool(truncated), value_type=item.result.value_type)
    if item.error is not None:
        error: dict[str, Any] = {"code": item.error.code, "message": item.error.message}
        if item.error.hint:
            error["hint"] = item.error.hint
        out["error"] = error
    return out


def page(
    results: ResultsPage, *, scope: str = "", root_path: str = "", inline_limit: int | None = None
) -> dict[str, Any]:
    """A page of a flow run's results: the run, then one item per run (flow first)."""
    run = results.flow_run
    return {
        "flow_run": {"id": run.get("id"), "name": run.get("name"), "state": state_json(run.get("state"))},
        "total": results.total,
        "limit": results.limit,
        "offset": results.offset,
        "items": [
            _item(item, scope=scope, root_path=root_path, inline_limit=inline_limit) for item in results.items
        ],
    }


def page_bytes(
    results: ResultsPage, *, scope: str = "", root_path: str = "", inline_limit: int | None = None
) -> bytes:
    return dumps(page(results, scope=scope, root_path=root_path, inline_limit=inline_limit))


def quote_etag(tag: str) -> str:
    return tag if tag.startswith(('"', 'W/"')) else f'"{tag}"'


def result_etag(result: Result, fmt: str, kind: IdKind | str | None = None) -> str | None:
    """The ETag of a response: the result's own for text/repr/raw; for the JSON
    envelope, which also shows the state, the state's id is folded in (two states
    may share one stored result)."""
    tag = getattr(result, "etag", None)
    if not tag:
        return None
    if fmt != "json":
        return quote_etag(tag)
    state_id = result.state.id if result.state is not None else ""
    extra = hashlib.sha256(f"{state_id}|{kind}".encode()).hexdigest()[:12]
    return f'"{tag.strip(chr(34))}-{extra}"'


def etag_matches(if_none_match: str | None, etag: str | None) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` too)."""
    if not if_none_match or not etag:
        return False
    if if_none_match.strip() == "*":
        return True
    want = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == want for part in if_none_match.split(","))
