"""The service layer: from an id to a decoded :class:`Result`.

It composes the leaves — the Prefect client (``_prefect``), the reading of
``state.data`` (``_refs``), storage (``_storage``) and decoding (``_result``) —
and owns what belongs to no single leaf: the wait for a result written shortly
after its state, expiry, caching and the export of a whole run.

Every operation is written once, as a sans-IO plan (see ``_plan``), and driven
synchronously by the command line and the library, asynchronously by the HTTP
service.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from resultgate._cache import ByteLRU, CacheStats
from resultgate._errors import (
    NoPersistedResult,
    ResultExpired,
    ResultgateError,
    ResultMissing,
    TooLarge,
)
from resultgate._model import IdKind, LiteralValue, Reference, StateInfo
from resultgate._plan import Blocking, Plan, Sleep

if TYPE_CHECKING:
    from resultgate._config import Settings
    from resultgate._prefect import AsyncDriver, PrefectAPI, SyncDriver
    from resultgate._result import Result
    from resultgate._storage import Location, StoragePolicy

__all__ = [
    "ExportItem",
    "Fetched",
    "RawStream",
    "ResultService",
    "ResultsPage",
    "fetch_result",
]

ExportStatus = Literal["ok", "no-result", "missing", "expired", "too-large", "error"]

#: how often a not-yet-written result file is looked for again
_WAIT_STEP = 0.25


@dataclass(frozen=True)
class Fetched:
    """A decoded result and the kind of id that led to it."""

    kind: IdKind
    result: Result


@dataclass(frozen=True)
class RawStream:
    """The stored bytes of a result, streamed (never held whole)."""

    size: int | None
    filename: str
    etag: str | None
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class ExportItem:
    """One run of an export: the flow run itself or one of its task runs."""

    kind: Literal["flow_run", "task_run"]
    run: dict[str, Any]
    state: StateInfo | None
    status: ExportStatus
    result: Result | None = None
    error: ResultgateError | None = None

    def to_json(self, *, rendering: Any = None, truncated: bool = False) -> dict[str, Any]:
        """The JSON-lines object ``resultgate export`` writes for this run."""
        state = self.state
        line: dict[str, Any] = {
            "kind": self.kind,
            "run_id": self.run.get("id"),
            "run_name": self.run.get("name"),
            "state_id": state.id if state else None,
            "state_type": state.type if state else None,
            "state_name": state.name if state else None,
            "status": self.status,
        }
        if self.kind == "task_run":
            line["task_key"] = self.run.get("task_key")
        if self.result is not None:
            line["value_type"] = self.result.value_type
            line["value"] = rendering
            if truncated:
                line["truncated"] = True
        if self.error is not None:
            line["error"] = {"code": self.error.code, "message": str(self.error)}
        return line


@dataclass(frozen=True)
class ResultsPage:
    flow_run: dict[str, Any]
    total: int
    limit: int
    offset: int
    items: list[ExportItem]


def export_status(error: ResultgateError) -> ExportStatus:
    """The export status an error stands for."""
    if isinstance(error, NoPersistedResult):
        return "no-result"
    if isinstance(error, ResultMissing):
        return "missing"
    if isinstance(error, ResultExpired):
        return "expired"
    if isinstance(error, TooLarge):
        return "too-large"
    return "error"


def _auth_key(auth: str | None) -> str:
    return hashlib.sha256((auth or "").encode()).hexdigest()[:16]


class ResultService:
    """From an id to its value: the one place the leaves are put together.

    ``trust_block_basepaths`` is True on a user's own command line (a local
    block's basepath is an allowed root) and False in the HTTP service, where
    anyone who can write blocks or states to Prefect could otherwise point the
    gateway at any file.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        trust_block_basepaths: bool = True,
        transport: Any = None,
        async_transport: Any = None,
    ) -> None:
        from resultgate._storage import StoragePolicy

        self.settings = settings
        self.limits = settings.limits
        self.policy: StoragePolicy = StoragePolicy(
            allowed_roots=tuple(settings.allowed_roots),
            allowed_protocols=frozenset(settings.allowed_protocols),
            path_map=tuple(settings.path_map),
            storage_options=dict(settings.storage_options),
            trust_block_basepaths=trust_block_basepaths,
            local_storage_path=settings.local_storage_path,
            allowed_remote=tuple(settings.allowed_remote),
        )
        self._transport = transport
        self._async_transport = async_transport
        self._sync: SyncDriver | None = None
        self._async: AsyncDriver | None = None
        # location + serializer -> Result (a stored result never changes)
        self._results: ByteLRU[Result] = ByteLRU(settings.cache_bytes)
        # (scope, kind, id, caller) -> (state, reference, location): a state never changes;
        # keyed by caller so a cached answer is never served past Prefect's own auth decision
        self._states: ByteLRU[tuple[StateInfo, Reference, Location]] = ByteLRU(
            64 * 1024 * 1024 if settings.cache_bytes else 0
        )

    # ------------------------------------------------------------------ drivers
    def _sync_driver(self) -> SyncDriver:
        if self._sync is None:
            from resultgate._prefect import SyncDriver

            self._sync = SyncDriver(self.settings, transport=self._transport)
        return self._sync

    def _async_driver(self) -> AsyncDriver:
        if self._async is None:
            from resultgate._prefect import AsyncDriver

            self._async = AsyncDriver(self.settings, transport=self._async_transport)
        return self._async

    def _api(self, scope: str | None = None, auth: str | None = None) -> PrefectAPI:
        from resultgate._prefect import PrefectAPI

        return PrefectAPI(scope=self.settings.scope if scope is None else scope, auth_header=auth)

    @property
    def cache_stats(self) -> CacheStats:
        return self._results.stats

    # ------------------------------------------------------------------ plans
    def _fetch_plan(self, id: str, kind: IdKind | None, api: PrefectAPI, auth: str | None) -> Plan[Fetched]:
        state_key = (api_scope(api), kind, id.lower(), _auth_key(auth))
        cached = self._states.get(state_key) if kind in (None, "flow_run_state", "task_run_state") else None
        if cached is not None:
            state, ref, loc = cached
            hit = self._results.get(self._result_key(loc, ref))
            if hit is not None:
                found: IdKind = "task_run_state" if state.is_task else "flow_run_state"
                same = hit.state is not None and hit.state.id == state.id
                return Fetched(found, hit if same else _with_state(hit, state))
        found_kind, state, _run = yield from api.resolve(id, kind)
        result = yield from self._state_result_plan(
            state, api, state_key if found_kind.endswith("_state") else None
        )
        return Fetched(found_kind, result)

    def _state_result_plan(
        self, state: StateInfo, api: PrefectAPI, state_key: tuple[Any, ...] | None = None
    ) -> Plan[Result]:
        from resultgate._refs import check_expired, parse_state_data

        data = parse_state_data(state)
        if isinstance(data, LiteralValue):
            return self._literal_result(state, data.value)
        check_expired(data, datetime.now(timezone.utc))
        block = None
        if data.storage_block_id:
            block = yield from api.read_block_document(data.storage_block_id)
        loc = self._locate(data, block)
        key = self._result_key(loc, data)
        cached = self._results.get(key)
        if cached is None:
            raw = yield from self._read_plan(loc)
            cached = yield Blocking(self._decode, (raw, data, state, loc, key))
            assert cached is not None
            self._results.put(key, cached, _footprint(cached))
        result = (
            cached if cached.state is not None and cached.state.id == state.id else _with_state(cached, state)
        )
        if state_key is not None:
            self._states.put(state_key, (state, data, loc), 4096)
        return result

    def _read_plan(self, loc: Location) -> Plan[bytes]:
        """Read the stored bytes, looking again for a short while if they are not there yet
        (Prefect writes some results just after it reports the state)."""
        from resultgate._storage import read_bytes

        deadline = time.monotonic() + self.settings.result_wait
        while True:
            try:
                raw: bytes = yield Blocking(read_bytes, (loc, self.policy))
                return raw
            except ResultMissing:
                if time.monotonic() + _WAIT_STEP > deadline:
                    raise
            yield Sleep(_WAIT_STEP)

    def _export_plan(
        self, flow_run_id: str, api: PrefectAPI
    ) -> Plan[tuple[dict[str, Any], list[dict[str, Any]]]]:
        run = yield from api.read_run("flow_run", flow_run_id)
        tasks = yield from api.task_runs(flow_run_id)
        return run, tasks

    def _item_plan(
        self, kind: Literal["flow_run", "task_run"], run: dict[str, Any], api: PrefectAPI
    ) -> Plan[ExportItem]:
        raw_state = run.get("state")
        if not raw_state:
            error = NoPersistedResult(f"{kind.replace('_', ' ')} {run.get('id')} has no state yet")
            return ExportItem(kind, run, None, "no-result", error=error)
        state = StateInfo.from_api(raw_state)
        try:
            result = yield from self._state_result_plan(state, api)
        except ResultgateError as exc:
            return ExportItem(kind, run, state, export_status(exc), error=exc)
        return ExportItem(kind, run, state, "ok", result=result)

    # ------------------------------------------------------------------ pieces
    def _locate(self, ref: Reference, block: Mapping[str, Any] | None) -> Location:
        from resultgate._storage import locate

        return locate(ref, block, self.policy)

    @staticmethod
    def _result_key(loc: Location, ref: Reference) -> str:
        serializer = json.dumps(ref.serializer, sort_keys=True, default=str)
        return hashlib.sha256(f"{loc.cache_key()}\0{serializer}".encode()).hexdigest()[:32]

    def _decode(self, raw: bytes, ref: Reference, state: StateInfo, loc: Location, etag: str) -> Result:
        from resultgate._result import decode_record

        result = decode_record(raw, ref.serializer, limits=self.limits)
        return dataclasses.replace(result, state=state, reference=ref, location=loc.display, etag=etag)

    def _literal_result(self, state: StateInfo, value: Any) -> Result:
        from resultgate._result import decode_record

        raw = json.dumps(value).encode()
        result = decode_record(raw, {"type": "json"}, limits=self.limits)
        return dataclasses.replace(result, state=state, format="literal", serializer_guessed=False)

    # ------------------------------------------------------------------ sync API
    def fetch(self, id: str, kind: IdKind | None = None) -> Result:
        """The value behind any id (state or run, flow or task)."""
        return self._sync_driver().run(self._fetch_plan(id, kind, self._api(), None)).result

    def fetch_any(self, id: str, kind: IdKind | None = None) -> Fetched:
        return self._sync_driver().run(self._fetch_plan(id, kind, self._api(), None))

    def decode_upload(self, data: bytes, serializer: str | Mapping[str, Any] | None) -> Result:
        """Decode a result file the caller already holds."""
        from resultgate._result import decode_record

        return decode_record(data, serializer, limits=self.limits)

    def export(self, flow_run_id: str) -> tuple[int, Iterator[ExportItem]]:
        """The flow run's own result and every task run's: (count, items as they are read)."""
        driver = self._sync_driver()
        api = self._api()
        run, tasks = driver.run(self._export_plan(flow_run_id, api))

        def items() -> Iterator[ExportItem]:
            yield driver.run(self._item_plan("flow_run", run, api))
            for task in tasks:
                yield driver.run(self._item_plan("task_run", task, api))

        return 1 + len(tasks), items()

    # ------------------------------------------------------------------ async API
    async def afetch(
        self, id: str, kind: IdKind | None = None, *, auth: str | None = None, scope: str | None = None
    ) -> Fetched:
        return await self._async_driver().run(self._fetch_plan(id, kind, self._api(scope, auth), auth))

    async def aresults(
        self,
        flow_run_id: str,
        *,
        limit: int,
        offset: int,
        auth: str | None = None,
        scope: str | None = None,
    ) -> ResultsPage:
        driver = self._async_driver()
        api = self._api(scope, auth)
        run, tasks = await driver.run(self._export_plan(flow_run_id, api))
        runs: list[tuple[Literal["flow_run", "task_run"], dict[str, Any]]] = [("flow_run", run)]
        runs += [("task_run", t) for t in tasks]
        items = [await driver.run(self._item_plan(k, r, api)) for k, r in runs[offset : offset + limit]]
        return ResultsPage(flow_run=run, total=len(runs), limit=limit, offset=offset, items=items)

    async def araw(
        self, id: str, kind: IdKind | None = None, *, auth: str | None = None, scope: str | None = None
    ) -> RawStream:
        """The stored bytes behind an id, streamed from storage in chunks."""
        import asyncio

        from resultgate._refs import parse_state_data
        from resultgate._storage import iter_bytes, size

        driver = self._async_driver()
        api = self._api(scope, auth)
        _found_kind, state, _run = await driver.run(api.resolve(id, kind))
        data = parse_state_data(state)
        if isinstance(data, LiteralValue):
            body = json.dumps(data.value).encode()

            async def literal() -> AsyncIterator[bytes]:
                yield body

            return RawStream(len(body), f"{state.id}.json", None, literal())
        block = (
            await driver.run(api.read_block_document(data.storage_block_id))
            if data.storage_block_id
            else None
        )
        loc = self._locate(data, block)
        total = await asyncio.to_thread(size, loc, self.policy)
        chunks = iter_bytes(loc, self.policy)

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    chunk = await asyncio.to_thread(next, chunks, b"")
                    if not chunk:
                        return
                    yield chunk
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        name = data.storage_key.rstrip("/").rsplit("/", 1)[-1] or state.id
        return RawStream(total, name, self._result_key(loc, data), stream())

    async def ahealth(self) -> dict[str, Any]:
        url = self.settings.api_url or ""
        try:
            version = await self._async_driver().run(self._api().version())
        except ResultgateError as exc:
            return {"prefect": {"ok": False, "url": url, "version": None, "error": str(exc)}}
        return {"prefect": {"ok": True, "url": url, "version": version, "error": None}}

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        self.close()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()


def api_scope(api: PrefectAPI) -> str:
    return getattr(api, "scope", "")


def _with_state(result: Result, state: StateInfo) -> Result:
    return dataclasses.replace(result, state=state)


def _footprint(result: Result) -> int:
    # the stored bytes plus the decoded value; a rough, conservative estimate
    return 3 * len(result.raw) + 1024


def fetch_result(
    id: str,
    *,
    kind: IdKind | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    path_map: Mapping[str, str] | None = None,
    allowed_roots: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> Result:
    """The value behind a Prefect id, decoded safely.

        >>> result = resultgate.fetch_result("01a242b7-687c-7eab-b0f4-cdcd8cccb49c")
        >>> result.value
        'hello world'

    ``id`` may name a flow-run state, a task-run state, a flow run or a task run.
    Settings not given are read the Prefect way (``PREFECT_API_URL``, profiles).
    """
    from resultgate._config import Settings

    if settings is None:
        overrides: dict[str, Any] = {}
        if api_url:
            overrides["api_url"] = api_url
        if api_key:
            overrides["api_key"] = api_key
        if path_map:
            overrides["path_map"] = tuple(path_map.items())
        if allowed_roots:
            overrides["allowed_roots"] = tuple(allowed_roots)
        settings = Settings.load(overrides)
    service = ResultService(settings)
    try:
        return service.fetch(id, kind)
    finally:
        service.close()
