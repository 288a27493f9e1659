"""Fixtures for the HTTP app tests: a fake service with the real service's interface,
results built on demand, and the app over ``httpx.ASGITransport``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from resultgate._cache import CacheStats
from resultgate._config import Settings
from resultgate._errors import IdNotFound, ResultgateError
from resultgate._model import Reference, StateInfo
from resultgate._service import ExportItem, Fetched, RawStream, ResultsPage

STATE_ID = "0a1b2c3d-0000-4000-8000-000000000001"
FLOW_RUN_ID = "0a1b2c3d-0000-4000-8000-0000000000f1"
TASK_RUN_ID = "0a1b2c3d-0000-4000-8000-0000000000a1"


CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"
ALICE_STORAGE = "/home/alice/.prefect/storage"
BLOCK_SECRET = "rg-captured-secret-51d0c2"
SECRET_BLOCK_ID = "5ec0e700-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class FakeSafety:
    verdict: str = "plain data"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "named": [],
            "built": [],
            "placeholders": [],
            "calls": [],
            "code": [],
            "carries_code": False,
        }


@dataclass(frozen=True)
class FakeResult:
    """Duck-types ``resultgate._result.Result`` (JSON-native values only)."""

    value: Any
    raw: bytes = b"stored-bytes"
    format: str = "prefect3-record"
    serializer: dict[str, Any] = field(default_factory=lambda: {"type": "pickle", "picklelib": "cloudpickle"})
    serializer_guessed: bool = False
    safety: FakeSafety = field(default_factory=FakeSafety)
    limits: Any = None
    state: StateInfo | None = None
    reference: Reference | None = None
    location: str | None = "file:///srv/storage/abc"
    etag: str | None = "etag-abc"
    preview_bytes: int = 10_000
    #: threads the renderings ran on (to prove they left the event loop)
    threads: list[str] = field(default_factory=list, compare=False)

    def _note(self) -> None:
        self.threads.append(threading.current_thread().name)

    def json(self) -> Any:
        self._note()
        return self.value

    def text(self) -> str:
        self._note()
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, indent=2)

    def repr(self) -> str:
        self._note()
        return repr(self.value)

    def preview(self) -> tuple[Any, bool]:
        self._note()
        text = json.dumps(self.value)
        if len(text) <= self.preview_bytes:
            return self.value, False
        return text[: self.preview_bytes] + "…(truncated)", True

    @property
    def value_type(self) -> str:
        t = type(self.value)
        return f"{t.__module__}.{t.__qualname__}"


def make_state(
    state_id: str = STATE_ID, *, task: bool = False, type: str = "COMPLETED", name: str = "Completed"
) -> StateInfo:
    raw = {
        "id": state_id,
        "type": type,
        "name": name,
        "timestamp": "2026-12-04T20:00:00Z",
        "message": None,
        "data": {"storage_key": "/srv/storage/abc", "storage_block_id": None},
        "state_details": {"flow_run_id": FLOW_RUN_ID, "task_run_id": TASK_RUN_ID if task else None},
    }
    return StateInfo.from_api(raw)


def make_result(value: Any = "hello world", **kw: Any) -> FakeResult:
    kw.setdefault("state", make_state())
    kw.setdefault(
        "reference",
        Reference(
            era="prefect3",
            storage_key="/srv/storage/abc",
            storage_block_id=None,
            serializer={"type": "pickle", "picklelib": "cloudpickle"},
            prefect_version="3.9.1",
        ),
    )
    return FakeResult(value, **kw)


class ClosingChunks:
    """An async iterator of chunks that records whether it was closed or read."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.closed = False
        self.read = 0

    def __aiter__(self) -> ClosingChunks:
        return self

    async def __anext__(self) -> bytes:
        if self.closed or not self._chunks:
            raise StopAsyncIteration
        self.read += 1
        return self._chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class FakeService:
    """The interface of ``resultgate._service.ResultService`` the app calls, in memory."""

    def __init__(self) -> None:
        #: id -> (kind, result)
        self.results: dict[str, tuple[str, Any]] = {}
        #: id -> error raised by afetch/araw/aresults
        self.errors: dict[str, BaseException] = {}
        #: id -> (size, filename, etag, chunks)
        self.raws: dict[str, tuple[int | None, str, str | None, Any]] = {}
        self.pages: dict[str, ResultsPage] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.health: dict[str, Any] = {
            "prefect": {"ok": True, "url": "http://127.0.0.1:4200/api", "version": "3.9.1", "error": None}
        }
        self.upload_result: Any = make_result({"decoded": True}, state=None, reference=None, location=None)
        self.upload_error: BaseException | None = None
        self.upload_threads: list[str] = []
        self.cache_stats = CacheStats(hits=3, misses=2, bytes=1234, entries=1)
        self.closed = False

    def _raise(self, id: str) -> None:
        if id in self.errors:
            raise self.errors[id]

    async def afetch(
        self, id: str, kind: str | None = None, *, auth: str | None = None, scope: str | None = ""
    ) -> Fetched:
        self.calls.append(("afetch", id, kind, auth, scope))
        self._raise(id)
        if id not in self.results:
            raise IdNotFound(f"no state or run has the id {id}")
        found, result = self.results[id]
        if found == "*":  # any kind asked for is the kind found
            found = kind or "flow_run_state"
        if kind is not None and kind != found:
            raise IdNotFound(f"no {kind} has the id {id}")
        return Fetched(found, result)  # type: ignore[arg-type]

    async def aresults(
        self, flow_run_id: str, *, limit: int, offset: int, auth: str | None = None, scope: str | None = ""
    ) -> ResultsPage:
        self.calls.append(("aresults", flow_run_id, limit, offset, auth, scope))
        self._raise(flow_run_id)
        page = self.pages.get(flow_run_id)
        if page is None:
            raise IdNotFound(f"no flow run has the id {flow_run_id}")
        items = page.items[offset : offset + limit]
        return ResultsPage(page.flow_run, page.total, limit, offset, items)

    async def araw(
        self, id: str, kind: str | None = None, *, auth: str | None = None, scope: str | None = ""
    ) -> RawStream:
        self.calls.append(("araw", id, kind, auth, scope))
        self._raise(id)
        if id not in self.raws:
            raise IdNotFound(f"no state or run has the id {id}")
        size, filename, etag, chunks = self.raws[id]
        return RawStream(size, filename, etag, chunks)

    def decode_upload(self, data: bytes, serializer: Any) -> Any:
        self.upload_threads.append(threading.current_thread().name)
        self.calls.append(("decode_upload", len(data), serializer))
        if self.upload_error is not None:
            raise self.upload_error
        return self.upload_result

    async def ahealth(self) -> dict[str, Any]:
        return self.health

    async def aclose(self) -> None:
        self.closed = True


def export_item(
    kind: str,
    run_id: str,
    name: str,
    *,
    result: Any = None,
    error: ResultgateError | None = None,
    status: str = "ok",
    task: bool = False,
) -> ExportItem:
    state = make_state(f"state-of-{run_id}", task=task)
    return ExportItem(kind, {"id": run_id, "name": name}, state, status, result=result, error=error)  # type: ignore[arg-type]


@pytest.fixture
def fake_service() -> FakeService:
    return FakeService()


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings from overrides and an isolated environment (no real profile file)."""

    def build(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        environ = {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": "http://127.0.0.1:9/api",
            **(env or {}),
        }
        return Settings.load(overrides, environ)

    return build


@pytest.fixture
def app_factory(settings_factory: Callable[..., Settings], fake_service: FakeService) -> Callable[..., Any]:
    from resultgate.server.app import create_app

    def build(service: Any = None, env: dict[str, str] | None = None, **overrides: Any) -> Any:
        return create_app(settings_factory(env, **overrides), service=service or fake_service)

    return build


@pytest.fixture
def client_factory() -> Callable[..., httpx.AsyncClient]:
    """``async with client_factory(app) as client: ...`` — the app in-process."""

    def build(app: Any, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    return build


@pytest.fixture
def helpers() -> Any:
    """The builders above, for tests (conftest modules are not imported by name)."""

    class H:
        FakeResult = FakeResult
        ClosingChunks = ClosingChunks
        make_result = staticmethod(make_result)
        make_state = staticmethod(make_state)
        export_item = staticmethod(export_item)
        STATE_ID = STATE_ID
        FLOW_RUN_ID = FLOW_RUN_ID
        TASK_RUN_ID = TASK_RUN_ID
        BLOCK_SECRET = BLOCK_SECRET
        SECRET_BLOCK_ID = SECRET_BLOCK_ID

    return H


# ---------------------------------------------------------------- the real service, captured Prefect


class CapturedPrefect:
    """Answers the Prefect API from a fixture case's captured responses (GET by path)."""

    def __init__(self, *case_names: str) -> None:
        self.routes: dict[str, Any] = {"/admin/version": "3.9.1", "/health": True}
        self.tasks: dict[str, list[Any]] = {}
        self.requests: list[httpx.Request] = []
        for name in case_names:
            case = CASES / name
            state = json.loads((case / "state.json").read_text())
            run = json.loads((case / "flow_run.json").read_text())
            self.routes[f"/flow_run_states/{state['id']}"] = state
            self.routes[f"/flow_runs/{run['id']}"] = run
            tasks = []
            for task_dir in sorted((case / "task_runs").glob("*")) if (case / "task_runs").exists() else []:
                task_run = json.loads((task_dir / "task_run.json").read_text())
                task_state = json.loads((task_dir / "state.json").read_text())
                self.routes[f"/task_runs/{task_run['id']}"] = task_run
                self.routes[f"/task_run_states/{task_state['id']}"] = task_state
                tasks.append(task_run)
            self.tasks[run["id"]] = tasks
            for doc in (
                (case / "block_documents").glob("*.json") if (case / "block_documents").exists() else []
            ):
                self.routes[f"/block_documents/{doc.stem}"] = json.loads(doc.read_text())
        # a block document whose secret must never come out, pointing at a disallowed protocol
        self.routes[f"/block_documents/{SECRET_BLOCK_ID}"] = {
            "id": SECRET_BLOCK_ID,
            "name": "secretive",
            "data": {"basepath": "memory://results", "settings": {"password": BLOCK_SECRET}},
            "block_type": {"slug": "remote-file-system", "name": "Remote File System"},
            "block_type_name": "Remote File System",
            "block_schema": {"fields": {}},
        }

    def add_state(self, state: dict[str, Any]) -> None:
        self.routes[f"/flow_run_states/{state['id']}"] = state

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api")
        if request.method == "POST" and path == "/task_runs/filter":
            body = json.loads(request.content or b"{}")
            run_ids = (((body.get("flow_runs") or {}).get("id") or {}).get("any_")) or []
            found = [t for rid in run_ids for t in self.tasks.get(rid, [])]
            offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 200)
            return httpx.Response(200, json=found[offset : offset + limit])
        if request.method == "GET" and path in self.routes:
            return httpx.Response(200, json=self.routes[path])
        return httpx.Response(404, json={"detail": "Not found"})


@pytest.fixture
def captured() -> CapturedPrefect:
    return CapturedPrefect("p3_pickle_str_default", "p3_json_dict", "p3_tasks_default", "p3_failed_flow")


@pytest.fixture
def real_app_factory(captured: CapturedPrefect, tmp_path: Path) -> Callable[..., Any]:
    """The app around the REAL ResultService (real decoding, storage confinement, cache);
    Prefect's answers come from the captured fixtures, files from the fixture cases."""
    from resultgate._service import ResultService
    from resultgate.server.app import create_app

    def build(**overrides: Any) -> Any:
        # every case keeps its files under result/<basename>; one storage dir holds them all
        storage = tmp_path / "storage"
        storage.mkdir(exist_ok=True)
        for case in CASES.iterdir():
            for f in (case / "result").glob("*") if (case / "result").exists() else []:
                target = storage / f.name
                if not target.exists():
                    target.write_bytes(f.read_bytes())
        environ = {"PREFECT_HOME": str(tmp_path / "home"), "RESULTGATE_RESULT_WAIT": "0"}
        settings = Settings.load(
            {
                "api_url": "http://prefect.test/api",
                "path_map": [f"{ALICE_STORAGE}={storage}"],
                "local_storage_path": str(storage),
                **overrides,
            },
            environ,
        )
        service = ResultService(
            settings, trust_block_basepaths=False, async_transport=httpx.MockTransport(captured.handler)
        )
        return create_app(settings, service=service)

    return build
