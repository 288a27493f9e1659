"""A tiny stand-in for the gateway: serves the real static page and CANNED envelopes.

It follows the HTTP envelope of docs/architecture.md ("The HTTP envelope") exactly, so
the page can be developed and tested without Prefect. The end-to-end tests in
test_page.py run the same page against the real ``resultgate serve``.

Loopback only, a free port, a daemon thread; ``stop()`` (or the context manager)
shuts it down.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

STATIC_DIR = Path(__file__).resolve().parents[2] / "src" / "resultgate" / "server" / "static"

TOKEN = "s3cret-token"

# ---------------------------------------------------------------- canned ids

FLOW_RUN = "f10a0000-0000-4000-8000-000000000001"
PAGED_FLOW_RUN = "f10a0000-0000-4000-8000-000000000002"
TASK_RUN = "7a5c0000-0000-4000-8000-000000000001"

STR_STATE = "5a7e0000-0000-4000-8000-000000000001"
DICT_STATE = "5a7e0000-0000-4000-8000-000000000002"
RECORDS_STATE = "5a7e0000-0000-4000-8000-000000000003"
FAILED_STATE = "5a7e0000-0000-4000-8000-000000000004"
PLACEHOLDER_STATE = "5a7e0000-0000-4000-8000-000000000005"
BIG_STATE = "5a7e0000-0000-4000-8000-000000000006"
TASK_STATE = "5a7e0000-0000-4000-8000-000000000007"
XSS_STATE = "5a7e0000-0000-4000-8000-000000000008"
FLOW_STATE = "5a7e0000-0000-4000-8000-000000000009"
AUTH_STATE = "5a7e0000-0000-4000-8000-00000000000a"
CODE_STATE = "5a7e0000-0000-4000-8000-00000000000b"

NO_RESULT_STATE = "e7707000-0000-4000-8000-000000000409"
EXPIRED_STATE = "e7707000-0000-4000-8000-000000000410"
TOO_LARGE_STATE = "e7707000-0000-4000-8000-000000000413"
UNSUPPORTED_STATE = "e7707000-0000-4000-8000-000000000415"
MALFORMED_STATE = "e7707000-0000-4000-8000-000000000422"
REFUSED_STATE = "e7707000-0000-4000-8000-000000000403"
DOWN_STATE = "e7707000-0000-4000-8000-000000000502"
TIMEOUT_STATE = "e7707000-0000-4000-8000-000000000504"

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

SAFE: dict[str, Any] = {
    "verdict": "plain data: every global named was built from the allowlist",
    "named": [],
    "built": [],
    "placeholders": [],
    "calls": [],
    "code": [],
    "carries_code": False,
}


def _state(
    state_id: str, type_: str = "COMPLETED", name: str = "Completed", message: str | None = None
) -> dict[str, Any]:
    return {
        "id": state_id,
        "type": type_,
        "name": name,
        "timestamp": "2026-12-04T20:15:30.123456Z",
        "message": message,
    }


def _envelope(
    id_: str,
    value: Any,
    *,
    kind: str = "flow_run_state",
    state: dict[str, Any] | None = None,
    flow_run_id: str | None = FLOW_RUN,
    task_run_id: str | None = None,
    value_type: str = "builtins.dict",
    size: int = 321,
    truncated: bool = False,
    safety: dict[str, Any] | None = None,
    raw_url: str | None = None,
) -> dict[str, Any]:
    state = state or _state(id_)
    return {
        "id": id_,
        "kind": kind,
        "state": state,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "reference": {
            "era": "prefect3",
            "storage_key": f"/srv/prefect/storage/{id_[-12:]}",
            "storage_block_id": None,
            "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
            "expiration": None,
            "prefect_version": "3.9.1",
        },
        "location": f"file:///srv/prefect/storage/{id_[-12:]}",
        "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
        "serializer_guessed": False,
        "format": "prefect3-record",
        "size": size,
        "value_type": value_type,
        "value": value,
        "truncated": truncated,
        "raw_url": raw_url if raw_url is not None else f"/api/{kind}s/{id_}/result?format=raw",
        "safety": safety or dict(SAFE),
    }


RECORDS = [
    {"city": "Lyon", "population": 522_250, "river": "Rhône", "capital": False},
    {"city": "Paris", "population": 2_102_650, "river": "Seine", "capital": True},
    {"city": "Nantes", "population": 320_732, "river": "Loire", "capital": False},
    {"city": "Bordeaux", "population": 261_804, "river": None, "capital": False},
]

DICT_VALUE = {
    "name": "weekly-report",
    "ok": True,
    "count": 3,
    "ratio": 0.25,
    "nothing": None,
    "when": {"__class__": "datetime.datetime", "data": "2026-12-01T08:00:00+00:00"},
    "tags": ["a", "b", "c"],
    "nested": {"deeper": {"deepest": {"leaf": "found me"}}},
}

ENVELOPES: dict[str, dict[str, Any]] = {
    STR_STATE: _envelope(STR_STATE, "hello world", value_type="builtins.str", size=98),
    FLOW_STATE: _envelope(FLOW_STATE, 42, value_type="builtins.int", size=90),
    DICT_STATE: _envelope(DICT_STATE, DICT_VALUE),
    RECORDS_STATE: _envelope(RECORDS_STATE, RECORDS, value_type="builtins.list", size=1234),
    FAILED_STATE: _envelope(
        FAILED_STATE,
        {"__exc_type__": "builtins.ValueError", "message": "boom: it failed", "args": ["boom: it failed"]},
        state=_state(FAILED_STATE, "FAILED", "Failed", "Flow run encountered an exception: ValueError: boom"),
        value_type="builtins.ValueError",
        size=98,
    ),
    PLACEHOLDER_STATE: _envelope(
        PLACEHOLDER_STATE,
        {"__class__": "__main__.Point", "data": {"x": 1, "y": 2}},
        value_type="__main__.Point",
        safety={
            "verdict": "carries code: a class defined by value was not built",
            "named": ["cloudpickle.cloudpickle._make_skeleton_class", "__main__.Point"],
            "built": [],
            "placeholders": ["__main__.Point"],
            "calls": ["cloudpickle.cloudpickle._make_skeleton_class"],
            "code": ["__main__.Point"],
            "carries_code": True,
        },
    ),
    BIG_STATE: _envelope(
        BIG_STATE,
        list(range(1000)),
        value_type="builtins.list",
        size=25 * 1024 * 1024,
        truncated=True,
    ),
    TASK_STATE: _envelope(
        TASK_STATE,
        {"rows": 10},
        kind="task_run_state",
        task_run_id=TASK_RUN,
    ),
    XSS_STATE: _envelope(
        XSS_STATE,
        {XSS: XSS, "list": [XSS], "text": XSS},
        state=_state(XSS_STATE, "COMPLETED", XSS, XSS),
        raw_url="javascript:window.__pwned=3",
    ),
    AUTH_STATE: _envelope(AUTH_STATE, "secret value", value_type="builtins.str"),
    CODE_STATE: _envelope(
        CODE_STATE,
        {
            "factor": 2,
            "transform": {"__class__": "builtins.function", "data": "__main__.double"},
            "notes": "long " * 10 + "…(truncated)",
        },
        truncated=True,
        size=4096,
        safety={
            "verdict": "carries code: a function defined by value was not built",
            "named": ["cloudpickle.cloudpickle._make_function", "__main__.double"],
            "built": [],
            "placeholders": ["__main__.double"],
            "calls": ["cloudpickle.cloudpickle._make_function"],
            "code": ["__main__.double"],
            "carries_code": True,
        },
    ),
}
# The same envelope answers for the run ids (their current state).
ENVELOPES[TASK_RUN] = {**ENVELOPES[TASK_STATE], "id": TASK_RUN, "kind": "task_run"}
ENVELOPES[FLOW_RUN] = {
    **_envelope(FLOW_RUN, 42, state=_state(FLOW_STATE), value_type="builtins.int", size=90),
    "kind": "flow_run",
}
ENVELOPES[PAGED_FLOW_RUN] = {
    **_envelope(
        PAGED_FLOW_RUN,
        "done",
        state=_state(FLOW_STATE),
        flow_run_id=PAGED_FLOW_RUN,
        value_type="builtins.str",
    ),
    "kind": "flow_run",
}


def _error(status: int, code: str, message: str, hint: str | None = None, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": status, "message": message}
    if hint:
        body["hint"] = hint
    if details:
        body["details"] = details
    return {"error": body}


ERRORS: dict[str, dict[str, Any]] = {
    NO_RESULT_STATE: _error(
        409,
        "no-persisted-result",
        "State e7707000 has no persisted result: state.data is null.",
        "Run the flow with persist_result=True, or set PREFECT_RESULTS_PERSIST_BY_DEFAULT=true.",
    ),
    EXPIRED_STATE: _error(410, "expired", "The result expired on 2026-01-01T00:00:00Z."),
    TOO_LARGE_STATE: _error(
        413,
        "too-large",
        "The value is 3.2 GiB decompressed; the limit is 512 MiB.",
        "ask for format=raw to download the stored bytes",
        raw_url=f"/api/results/{TOO_LARGE_STATE}?format=raw",
    ),
    UNSUPPORTED_STATE: _error(415, "unsupported-serializer", "Serializer 'msgpack' is not supported."),
    MALFORMED_STATE: _error(422, "malformed-record", "The pickle ends early."),
    REFUSED_STATE: _error(403, "refused", "/etc/shadow is outside the allowed roots."),
    DOWN_STATE: _error(502, "prefect-unreachable", "Cannot connect to http://127.0.0.1:4200/api."),
    TIMEOUT_STATE: _error(504, "timeout", "Prefect did not answer within 10 s."),
}


def _item(
    kind: str, n: int, status: str = "ok", value: Any = None, state_type: str = "COMPLETED"
) -> dict[str, Any]:
    run_id = f"7a5c0000-0000-4000-8000-{n:012d}"
    item: dict[str, Any] = {
        "kind": kind,
        "run_id": run_id,
        "run_name": f"{'flow' if kind == 'flow_run' else 'task'}-{n}",
        "state": _state(f"5a7e0000-0000-4000-9000-{n:012d}", state_type, state_type.title()),
        "status": status,
        "value": value,
        "truncated": False,
        "value_type": type(value).__name__,
        "result_url": f"/api/{kind}s/{run_id}/result",
        "error": None,
    }
    if status != "ok":
        item["error"] = {"code": status, "message": f"{status}: nothing to show for {run_id}"}
    return item


RUN_ITEMS = [
    {**_item("flow_run", 0, value=42), "run_id": FLOW_RUN, "state": _state(FLOW_STATE)},
    {**_item("task_run", 1, value={"rows": 10}), "run_id": TASK_RUN, "state": _state(TASK_STATE)},
    _item("task_run", 2, value="a string preview"),
    _item("task_run", 3, status="no-result", state_type="COMPLETED"),
    _item("task_run", 4, status="error", state_type="FAILED"),
]
PAGED_ITEMS = [_item("task_run", 100 + i, value=i) for i in range(120)]


def results_page(flow_run_id: str, limit: int, offset: int) -> dict[str, Any] | None:
    if flow_run_id == FLOW_RUN:
        items, name = RUN_ITEMS, "cheerful-otter"
    elif flow_run_id == PAGED_FLOW_RUN:
        items, name = PAGED_ITEMS, "many-tasks"
    else:
        return None
    return {
        "flow_run": {"id": flow_run_id, "name": name, "state": _state(FLOW_STATE)},
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "items": items[offset : offset + limit],
    }


# ---------------------------------------------------------------- the server


@dataclass
class Seen:
    path: str
    authorization: str | None


@dataclass
class FakeGateway:
    static_dir: Path = STATIC_DIR
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                gateway.seen.append(Seen(self.path, self.headers.get("Authorization")))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    gateway._route(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing

    def _route(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        if not path.startswith("/api/"):
            self._static(req, path)
            return
        segs = [s for s in path.split("/") if s][1:]  # after "api"
        raw = query.get("format") == ["raw"]
        if raw and ((len(segs) == 2 and segs[0] == "results") or (len(segs) == 3 and segs[2] == "result")):
            self._send(req, 200, b"\x80\x05raw-bytes-of-" + segs[1].encode(), "application/octet-stream")
        elif len(segs) == 2 and segs[0] == "results":
            self._envelope(req, segs[1])
        elif len(segs) == 3 and segs[0] == "flow_runs" and segs[2] == "results":
            limit = int(query.get("limit", ["50"])[0])
            offset = int(query.get("offset", ["0"])[0])
            page = results_page(segs[1], limit, offset)
            if page is None:
                self._json(req, 404, _error(404, "id-not-found", f"No flow run has id {segs[1]}."))
            else:
                self._json(req, 200, page)
        else:
            self._json(req, 404, _error(404, "not-found", f"No route {path}."))

    def _envelope(self, req: BaseHTTPRequestHandler, id_: str) -> None:
        if id_ == AUTH_STATE and req.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._json(
                req, 401, _error(401, "unauthorized", "A gateway token is required.", "Send a Bearer token.")
            )
        elif id_ in ENVELOPES:
            self._json(req, 200, ENVELOPES[id_])
        elif id_ in ERRORS:
            self._json(req, ERRORS[id_]["error"]["status"], ERRORS[id_])
        else:
            self._json(
                req,
                404,
                _error(
                    404,
                    "id-not-found",
                    f"No flow-run state, task-run state, flow run or task run has id {id_}.",
                ),
            )

    def _static(self, req: BaseHTTPRequestHandler, path: str) -> None:
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        target = (self.static_dir / name).resolve()
        if not target.is_file() or self.static_dir.resolve() not in target.parents:
            self._json(req, 404, _error(404, "not-found", f"No file {path}."))
            return
        ctype = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}.get(
            target.suffix, mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        self._send(req, 200, target.read_bytes(), f"{ctype}; charset=utf-8")

    @staticmethod
    def _json(req: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        FakeGateway._send(req, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.end_headers()
        req.wfile.write(data)
