"""PrefectAPI plans and both drivers against a fake Prefect serving the captured 2.x and 3.x JSON."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from resultgate._config import Settings
from resultgate._errors import (
    AuthError,
    ConfigError,
    IdNotFound,
    NotFound,
    PrefectBadResponse,
    PrefectUnreachable,
    ResultgateError,
    UpstreamTimeout,
    UsageError,
)
from resultgate._model import ID_KINDS
from resultgate._plan import Blocking, Plan, Request, Response, Sleep
from resultgate._prefect import (
    API_VERSION,
    MAX_RETRY_AFTER,
    AsyncDriver,
    PrefectAPI,
    SyncDriver,
    check_id,
    retry_delay,
)
from resultgate._prefect.api import lookup_order
from support.cases import all_cases

API = "http://prefect.test:4200/api"
UNKNOWN = "99999999-9999-4999-8999-999999999999"
UNKNOWN_V7 = "99999999-9999-7999-8999-999999999999"
PATHS = {
    "flow_run_state": "/flow_run_states",
    "task_run_state": "/task_run_states",
    "flow_run": "/flow_runs",
    "task_run": "/task_runs",
}


# -- a fake Prefect made of the captured responses ------------------------------------
@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakePrefect:
    """Routes ``(method, path)`` to captured bodies; everything else is 404 like Prefect's."""

    routes: dict[str, Any] = field(default_factory=dict)
    task_runs_by_flow: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    #: statuses/exceptions to produce before answering normally (consumed in order)
    script: list[Any] = field(default_factory=list)
    prefix: str = "/api"

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        parts = urlsplit(url)
        path = parts.path.removeprefix(self.prefix)
        parsed = json.loads(body) if body else None
        self.calls.append(
            Call(method, path, parse_qs(parts.query), {k.lower(): v for k, v in headers.items()}, parsed)
        )
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, Response):
                return step
        if method == "POST" and path == "/task_runs/filter":
            flow_run_id = parsed["flow_runs"]["id"]["any_"][0]
            runs = self.task_runs_by_flow.get(flow_run_id, [])
            page = runs[parsed["offset"] : parsed["offset"] + parsed["limit"]]
            return _json_response(page)
        if method == "GET" and path in self.routes:
            return _json_response(self.routes[path])
        detail = "Flow run state not found" if "state" in path else "Not found"
        return _json_response({"detail": detail}, 404)

    # as a SyncTransport
    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        return self.handle(method, url, headers, body)

    # as an httpx.MockTransport handler
    def httpx_handler(self, request: httpx.Request) -> httpx.Response:
        response = self.handle(
            request.method, str(request.url), dict(request.headers), request.content or None
        )
        return httpx.Response(response.status, headers=dict(response.headers), content=response.content)


def _json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )


@dataclass(frozen=True)
class IdCase:
    case: str
    id: str
    kind: str
    state_id: str


def _build() -> tuple[FakePrefect, list[IdCase]]:
    fake = FakePrefect()
    ids: list[IdCase] = []
    for c in all_cases():
        flow_run = c.json("flow_run.json")
        state = c.state
        fake.routes[f"/flow_run_states/{state['id']}"] = state
        fake.routes[f"/flow_runs/{flow_run['id']}"] = flow_run
        fake.routes["/admin/version"] = c.json("admin_version.json")
        ids.append(IdCase(c.name, state["id"], "flow_run_state", state["id"]))
        ids.append(IdCase(c.name, flow_run["id"], "flow_run", flow_run["state"]["id"]))
        runs = []
        for task_dir in sorted((c.dir / "task_runs").glob("*")) if (c.dir / "task_runs").exists() else []:
            task_run = json.loads((task_dir / "task_run.json").read_text())
            task_state = json.loads((task_dir / "state.json").read_text())
            fake.routes[f"/task_runs/{task_run['id']}"] = task_run
            fake.routes[f"/task_run_states/{task_state['id']}"] = task_state
            ids.append(IdCase(c.name, task_state["id"], "task_run_state", task_state["id"]))
            ids.append(IdCase(c.name, task_run["id"], "task_run", task_run["state"]["id"]))
            runs.append(task_run)
        fake.task_runs_by_flow[flow_run["id"]] = runs
        for doc in (c.dir / "block_documents").glob("*.json") if (c.dir / "block_documents").exists() else []:
            fake.routes[f"/block_documents/{doc.stem}"] = json.loads(doc.read_text())
    return fake, ids


_, ID_CASES = _build()


@pytest.fixture
def fake() -> FakePrefect:
    return _build()[0]


@pytest.fixture
def sleeps() -> list[float]:
    return []


def sync_driver(fake: Any, sleeps: list[float], **kw: Any) -> SyncDriver:
    kw.setdefault("api_url", API)
    return SyncDriver(transport=fake, sleep=sleeps.append, **kw)


def async_run(fake: FakePrefect, plan_of: Callable[[AsyncDriver], Plan[Any]], **kw: Any) -> Any:
    async def main() -> Any:
        async def no_wait(seconds: float) -> None:
            kw_sleeps.append(seconds)

        kw_sleeps: list[float] = kw.pop("sleeps", [])
        driver = AsyncDriver(
            api_url=kw.pop("api_url", API),
            transport=httpx.MockTransport(fake.httpx_handler),
            sleep=no_wait,
            **kw,
        )
        try:
            return await driver.run(plan_of(driver))
        finally:
            await driver.aclose()

    return asyncio.run(main())


# -- resolution over the fixtures -----------------------------------------------------
def test_fixture_ids_cover_both_eras_and_every_kind() -> None:
    kinds = {(c.case[:2], c.kind) for c in ID_CASES}
    assert kinds == {(era, kind) for era in ("p2", "p3") for kind in ID_KINDS}


@pytest.mark.parametrize("idc", ID_CASES, ids=lambda c: f"{c.case}-{c.kind}-{c.id[:8]}")
def test_resolve_every_fixture_id(fake: FakePrefect, sleeps: list[float], idc: IdCase) -> None:
    driver = sync_driver(fake, sleeps)
    kind, state, run = driver.run(driver.api.resolve(idc.id))
    assert kind == idc.kind
    assert state.id == idc.state_id
    assert (run is None) == kind.endswith("_state")
    if run is not None:
        assert run["id"] == idc.id
        assert state.raw == run["state"]
    # looked up in the documented order for its UUID version, stopping at the first hit
    order = [PATHS[k] for k in lookup_order(check_id(idc.id))]
    assert [c.path.rsplit("/", 1)[0] for c in fake.calls] == order[: order.index(PATHS[kind]) + 1]
    assert sleeps == []


@pytest.mark.parametrize("idc", ID_CASES[::3], ids=lambda c: f"{c.case}-{c.kind}-{c.id[:8]}")
def test_resolve_with_known_kind_is_one_call(fake: FakePrefect, sleeps: list[float], idc: IdCase) -> None:
    driver = sync_driver(fake, sleeps)
    kind, state, _ = driver.run(driver.api.resolve(idc.id, idc.kind))  # type: ignore[arg-type]
    assert (kind, state.id, len(fake.calls)) == (idc.kind, idc.state_id, 1)


def test_resolve_async_every_kind(fake: FakePrefect) -> None:
    for idc in ID_CASES:
        kind, state, _ = async_run(fake, lambda d, i=idc.id: d.api.resolve(i))
        assert (kind, state.id) == (idc.kind, idc.state_id)


def test_unknown_id_lists_what_was_tried(fake: FakePrefect, sleeps: list[float]) -> None:
    driver = sync_driver(fake, sleeps)
    with pytest.raises(IdNotFound) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    err = info.value
    assert err.details["tried"] == ["flow_run", "flow_run_state", "task_run_state", "task_run"]
    assert "flow runs, flow run states, task run states, task runs" in str(err)
    assert UNKNOWN in err.message
    assert len(fake.calls) == 4
    assert err.status == 404


@pytest.mark.parametrize("bad", ["", "abc", "123", "../../admin", "99999999-9999-4999-8999-99999999999Z"])
def test_non_uuid_is_usage_error_before_any_call(fake: FakePrefect, sleeps: list[float], bad: str) -> None:
    driver = sync_driver(fake, sleeps)
    for plan in (
        driver.api.resolve(bad),
        driver.api.read_state("flow_run_state", bad),
        driver.api.task_runs(bad),
    ):
        with pytest.raises(UsageError):
            driver.run(plan)
    assert fake.calls == []


def test_check_id_canonicalises() -> None:
    assert check_id(" 99999999999949998999999999999999 ") == UNKNOWN
    assert check_id(UNKNOWN.upper()) == UNKNOWN


def test_read_state_and_run(fake: FakePrefect, sleeps: list[float]) -> None:
    driver = sync_driver(fake, sleeps)
    flow_state = next(c for c in ID_CASES if c.case == "p3_tasks_default" and c.kind == "flow_run_state")
    state = driver.run(driver.api.read_state("flow_run_state", flow_state.id))
    assert state.type == "COMPLETED"
    assert state.data["serializer"]["picklelib"] == "cloudpickle"
    run_id = next(c for c in ID_CASES if c.case == "p3_tasks_default" and c.kind == "flow_run").id
    assert driver.run(driver.api.read_run("flow_run", run_id))["id"] == run_id
    with pytest.raises(IdNotFound, match="no task run state has id"):
        driver.run(driver.api.read_state("task_run_state", flow_state.id))


def test_block_document_and_version(fake: FakePrefect, sleeps: list[float]) -> None:
    driver = sync_driver(fake, sleeps)
    doc = driver.run(driver.api.read_block_document("e3ef8426-37ef-4559-95b8-3c3ca3f141d9"))
    assert doc["block_type"]["slug"] == "local-file-system"
    assert fake.calls[-1].query == {"include_secrets": ["true"]}
    with pytest.raises(NotFound, match="block document"):
        driver.run(driver.api.read_block_document(UNKNOWN))
    assert driver.run(driver.api.version()) in ("2.20.27", "3.9.1")


def test_task_runs_of_a_fixture_flow(fake: FakePrefect, sleeps: list[float]) -> None:
    driver = sync_driver(fake, sleeps)
    run_id = next(c for c in ID_CASES if c.case == "p3_tasks_default" and c.kind == "flow_run").id
    runs = driver.run(driver.api.task_runs(run_id))
    assert sorted(r["name"].split("-")[0] for r in runs) == ["add", "as_json", "keyed", "pair"]
    assert len(fake.calls) == 1
    assert fake.calls[0].body == {
        "flow_runs": {"id": {"any_": [run_id]}},
        "sort": "EXPECTED_START_TIME_ASC",
        "limit": 200,
        "offset": 0,
    }


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (199, 1), (200, 2), (450, 3), (600, 4)])
def test_task_runs_paging(sleeps: list[float], total: int, pages: int) -> None:
    fake = FakePrefect()
    fake.task_runs_by_flow[UNKNOWN] = [{"id": f"run-{i}"} for i in range(total)]
    driver = sync_driver(fake, sleeps)
    runs = driver.run(driver.api.task_runs(UNKNOWN))
    assert [r["id"] for r in runs] == [f"run-{i}" for i in range(total)]
    assert [c.body["offset"] for c in fake.calls] == [200 * i for i in range(pages)]
    assert {c.body["limit"] for c in fake.calls} == {200}


def test_task_runs_paging_async() -> None:
    fake = FakePrefect()
    fake.task_runs_by_flow[UNKNOWN] = [{"id": f"run-{i}"} for i in range(401)]
    runs = async_run(fake, lambda d: d.api.task_runs(UNKNOWN))
    assert len(runs) == 401
    assert [c.body["offset"] for c in fake.calls] == [0, 200, 400]


def test_health(fake: FakePrefect, sleeps: list[float]) -> None:
    fake.routes["/health"] = True
    driver = sync_driver(fake, sleeps)
    assert driver.run(driver.api.health()) is True
    fake.script.append(_json_response({"message": "db down"}, 503))
    assert driver.run(driver.api.health()) is False


# -- headers, scope, auth --------------------------------------------------------------
def test_headers_and_settings_auth(fake: FakePrefect, sleeps: list[float]) -> None:
    settings = Settings(api_url=API, api_key="pnu_secret", timeout=3, retries=1)
    driver = SyncDriver(settings, transport=fake, sleep=sleeps.append)
    driver.run(driver.api.version())
    headers = fake.calls[-1].headers
    assert headers["x-prefect-api-version"] == API_VERSION
    assert headers["authorization"] == "Bearer pnu_secret"
    assert headers["accept"] == "application/json"
    # a plan built with a forwarded header overrides the settings' one
    driver.run(PrefectAPI(auth_header="Bearer caller").version())
    assert fake.calls[-1].headers["authorization"] == "Bearer caller"


def test_cloud_scope_in_paths(sleeps: list[float]) -> None:
    fake = FakePrefect(prefix="/api/accounts/A/workspaces/W")
    fake.routes["/admin/version"] = "3.9.1"
    driver = SyncDriver(
        Settings(api_url="https://api.prefect.cloud/api/accounts/A/workspaces/W"),
        transport=fake,
        sleep=sleeps.append,
    )
    assert driver.base_url == "https://api.prefect.cloud/api"
    assert driver.run(driver.api.version()) == "3.9.1"
    with pytest.raises(UsageError):
        PrefectAPI(scope="/elsewhere")


def test_async_headers(fake: FakePrefect) -> None:
    async_run(fake, lambda d: d.api.version(), auth_header="Basic abc")
    assert fake.calls[-1].headers["authorization"] == "Basic abc"
    assert fake.calls[-1].headers["x-prefect-api-version"] == API_VERSION


# -- retries and error mapping ---------------------------------------------------------
def test_429_honours_retry_after(fake: FakePrefect, sleeps: list[float]) -> None:
    fake.script += [
        _json_response({"detail": "slow down"}, 429, {"Retry-After": "1.5"}),
        _json_response({"detail": "slow down"}, 429, {"Retry-After": "3600"}),
    ]
    driver = sync_driver(fake, sleeps)
    assert driver.run(driver.api.version()) in ("2.20.27", "3.9.1")
    assert sleeps == [1.5, MAX_RETRY_AFTER]


def test_retry_after_http_date() -> None:
    resp = Response(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"")
    assert retry_delay(0, resp) == 0.0  # in the past
    assert 0.1 <= retry_delay(0) <= 0.2
    assert 0.8 <= retry_delay(3) <= 1.6
    assert retry_delay(30) <= 5.0


def test_500_then_success(fake: FakePrefect, sleeps: list[float]) -> None:
    fake.script.append(_json_response({"detail": "oops"}, 500))
    driver = sync_driver(fake, sleeps)
    assert driver.run(driver.api.version())
    assert len(sleeps) == 1
    assert len(fake.calls) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_persistent_5xx_gives_bad_response_after_retries(sleeps: list[float], status: int) -> None:
    fake = FakePrefect(script=[_json_response({"detail": "broken"}, status)] * 10)
    driver = sync_driver(fake, sleeps, retries=2)
    with pytest.raises(PrefectBadResponse) as info:
        driver.run(driver.api.version())
    assert info.value.details["status"] == status
    assert f"HTTP {status}" in str(info.value)
    assert len(fake.calls) == 3
    assert len(sleeps) == 2
    assert sleeps[0] < sleeps[1] or status == 429


def test_4xx_is_not_retried(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[_json_response({"detail": "Invalid limit"}, 422)])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse, match="Invalid limit"):
        driver.run(driver.api.version())
    assert len(fake.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(sleeps: list[float], status: int) -> None:
    fake = FakePrefect(script=[_json_response({"exception_message": "Unauthorized"}, status)])
    driver = sync_driver(fake, sleeps, auth_header="Bearer do-not-show")
    with pytest.raises(AuthError) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert info.value.hint is not None
    assert "PREFECT_API_KEY" in info.value.hint
    assert "PREFECT_API_AUTH_STRING" in info.value.hint
    assert "do-not-show" not in str(info.value)
    assert len(fake.calls) == 1


def test_unexpected_404_is_not_found(sleeps: list[float]) -> None:
    driver = sync_driver(FakePrefect(), sleeps)
    with pytest.raises(NotFound) as info:
        driver.run(driver.api.version())
    assert type(info.value) is NotFound


@pytest.mark.parametrize(
    "content", [b"<html>502 Bad Gateway</html>", b"", b"\xff\xfe", b'{"truncated": ', b"[1, 2]"]
)
def test_garbage_json(sleeps: list[float], content: bytes) -> None:
    fake = FakePrefect(script=[Response(200, {}, content)])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse):
        driver.run(driver.api.resolve(UNKNOWN))


def test_task_runs_not_a_list(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[_json_response({"not": "a list"})])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse):
        driver.run(driver.api.task_runs(UNKNOWN))


def test_connection_refused_after_retries(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[ConnectionRefusedError(111, "Connection refused")] * 5)
    driver = sync_driver(fake, sleeps, retries=3)
    with pytest.raises(PrefectUnreachable) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    err = info.value
    assert "could not reach the Prefect API at http://prefect.test:4200/api" in err.message
    assert "connection refused" in err.message
    assert err.hint is not None
    assert "is the server running? check PREFECT_API_URL" in err.hint
    assert isinstance(err.__cause__, ConnectionRefusedError)
    assert len(fake.calls) == 4
    assert len(sleeps) == 3


def test_connection_error_then_success(fake: FakePrefect, sleeps: list[float]) -> None:
    fake.script.append(ConnectionResetError(104, "reset"))
    driver = sync_driver(fake, sleeps)
    assert driver.run(driver.api.version())


def test_timeout(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[TimeoutError("timed out")] * 5)
    driver = sync_driver(fake, sleeps, retries=1, timeout=0.5)
    with pytest.raises(UpstreamTimeout) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert "within 0.5s" in str(info.value)
    assert len(fake.calls) == 2


SYNC_ERRORS: list[BaseException] = [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionAbortedError(103, "aborted"),
    BrokenPipeError(32, "Broken pipe"),
    socket.gaierror(-2, "Name or service not known"),
    socket.herror(1, "host error"),
    TimeoutError("timed out"),
    TimeoutError("timed out"),
    ssl.SSLError(1, "bad handshake"),
    ssl.SSLCertVerificationError(1, "certificate verify failed"),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    http.client.IncompleteRead(b"partial", 10),
    http.client.BadStatusLine("garbage"),
    http.client.LineTooLong("header line"),
    http.client.ResponseNotReady("idle"),
    OSError(99, "Cannot assign requested address"),
    OSError("no errno"),
    ValueError("Invalid header value b'Bearer secret\\n'"),
]


@pytest.mark.parametrize("exc", SYNC_ERRORS, ids=lambda e: type(e).__name__)
def test_no_upstream_exception_leaks_sync(sleeps: list[float], exc: BaseException) -> None:
    fake = FakePrefect(script=[exc] * 10)
    driver = sync_driver(fake, sleeps, retries=1)
    with pytest.raises(ResultgateError) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert info.value.__cause__ is exc
    assert "secret" not in str(info.value)
    if isinstance(exc, TimeoutError):
        assert isinstance(info.value, UpstreamTimeout)
    elif isinstance(exc, ValueError) and not isinstance(exc, OSError):
        assert isinstance(info.value, ConfigError)
    else:
        assert isinstance(info.value, PrefectUnreachable)


def _httpx_errors() -> list[Exception]:
    req = httpx.Request("GET", API)
    return [
        httpx.ConnectError("refused", request=req),
        httpx.ConnectTimeout("connect timeout", request=req),
        httpx.ReadTimeout("read timeout", request=req),
        httpx.WriteTimeout("write timeout", request=req),
        httpx.PoolTimeout("pool timeout", request=req),
        httpx.ReadError("read error", request=req),
        httpx.WriteError("write error", request=req),
        httpx.CloseError("close error", request=req),
        httpx.RemoteProtocolError("protocol", request=req),
        httpx.LocalProtocolError("local protocol", request=req),
        httpx.ProxyError("proxy", request=req),
        httpx.UnsupportedProtocol("scheme", request=req),
        httpx.DecodingError("bad gzip", request=req),
        httpx.TooManyRedirects("loop", request=req),
        httpx.NetworkError("network", request=req),
        httpx.TransportError("transport", request=req),
        httpx.InvalidURL("bad url"),
        httpx.StreamConsumed(),
        ConnectionRefusedError(111, "Connection refused"),
        socket.gaierror(-2, "Name or service not known"),
        TimeoutError("timed out"),
        ssl.SSLError(1, "bad handshake"),
    ]


@pytest.mark.parametrize("exc", _httpx_errors(), ids=lambda e: type(e).__name__)
def test_no_upstream_exception_leaks_async(exc: Exception) -> None:
    fake = FakePrefect(script=[exc] * 10)
    with pytest.raises(ResultgateError) as info:
        async_run(fake, lambda d: d.api.resolve(UNKNOWN), retries=1)
    assert info.value.__cause__ is exc
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        assert isinstance(info.value, UpstreamTimeout)


def test_async_retries_and_statuses() -> None:
    fake = _build()[0]
    fake.script += [_json_response({}, 503, {"Retry-After": "2"}), _json_response({}, 500)]
    sleeps: list[float] = []
    assert async_run(fake, lambda d: d.api.version(), sleeps=sleeps)
    assert sleeps[0] == 2.0
    assert len(sleeps) == 2
    fake.script += [_json_response({}, 401)]
    with pytest.raises(AuthError):
        async_run(fake, lambda d: d.api.version())
    fake.script += [Response(200, {}, b"not json")]
    with pytest.raises(PrefectBadResponse):
        async_run(fake, lambda d: d.api.version())
    with pytest.raises(IdNotFound):
        async_run(fake, lambda d: d.api.resolve(UNKNOWN))
    fake.script += [httpx.ConnectError("refused")] * 3
    with pytest.raises(PrefectUnreachable):
        async_run(fake, lambda d: d.api.version(), retries=2)


# -- the plan protocol -----------------------------------------------------------------
def _effects_plan(log: list[str]) -> Iterator[Any]:
    size = yield Blocking(len, (b"abcd",))
    log.append(f"size={size}")
    got = yield Sleep(0.25)
    log.append(f"slept={got}")
    try:
        yield Request("GET", "/nothing-here")
    except NotFound:
        log.append("caught NotFound")
    return "done"


def test_sync_driver_runs_every_effect(sleeps: list[float]) -> None:
    log: list[str] = []
    driver = sync_driver(FakePrefect(), sleeps)
    assert driver.run(_effects_plan(log)) == "done"  # type: ignore[arg-type]
    assert log == ["size=4", "slept=None", "caught NotFound"]
    assert sleeps == [0.25]


def test_async_driver_runs_every_effect() -> None:
    log: list[str] = []
    sleeps: list[float] = []
    assert async_run(FakePrefect(), lambda d: _effects_plan(log), sleeps=sleeps) == "done"  # type: ignore[arg-type,return-value]
    assert log == ["size=4", "slept=None", "caught NotFound"]
    assert sleeps == [0.25]


def test_driver_needs_an_api_url() -> None:
    with pytest.raises(ConfigError, match="no Prefect API URL"):
        SyncDriver(Settings())
    with pytest.raises(ConfigError):
        AsyncDriver(api_url="not a url")


def test_display_url_hides_userinfo(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[ConnectionRefusedError(111, "refused")])
    driver = SyncDriver(
        api_url="http://user:pw-secret@host:4200/api", transport=fake, sleep=sleeps.append, retries=0
    )
    with pytest.raises(PrefectUnreachable) as info:
        driver.run(driver.api.version())
    assert "pw-secret" not in str(info.value)
    assert "host:4200" in str(info.value)


def test_sync_path_does_not_import_httpx() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from resultgate._prefect import SyncDriver; from resultgate._config import Settings; "
        "SyncDriver(Settings(api_url='http://127.0.0.1:1/api')); print('httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_unknown_route_404s_hint_at_the_api_prefix(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[_json_response({"detail": "Not Found"}, 404)] * 4)
    driver = sync_driver(fake, sleeps)
    with pytest.raises(IdNotFound) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert info.value.hint is not None
    assert "/api" in info.value.hint
    # Prefect's own "... not found" answers do not trigger that hint
    driver = sync_driver(FakePrefect(), sleeps)
    with pytest.raises(IdNotFound) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert "end in /api" not in str(info.value)


def test_html_answer_hints_at_the_ui(sleeps: list[float]) -> None:
    fake = FakePrefect(script=[Response(200, {"content-type": "text/html"}, b"<!doctype html><html></html>")])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse) as info:
        driver.run(driver.api.resolve(UNKNOWN))
    assert "not the UI" in str(info.value)


@pytest.mark.parametrize("body", [{}, {"id": 1, "type": "COMPLETED"}, {"id": UNKNOWN}, {"detail": "hello"}])
def test_object_that_is_not_a_state(sleeps: list[float], body: Any) -> None:
    fake = FakePrefect(script=[_json_response(body)])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse, match="not a state"):
        driver.run(driver.api.resolve(UNKNOWN_V7))  # a v7 id is looked up as a state first
    fake = FakePrefect(script=[_json_response({"id": UNKNOWN, "state": body})])
    driver = sync_driver(fake, sleeps)
    with pytest.raises(PrefectBadResponse, match="not a state"):
        driver.run(driver.api.resolve(UNKNOWN, "flow_run"))


def test_lookup_order_tries_a_v4_id_as_a_flow_run_first() -> None:
    v4, v7 = "0e6f2c1a-1b2c-4d3e-8f40-5a6b7c8d9e0f", "01a242b8-333c-7f55-8eeb-42ed6b812068"
    assert lookup_order(v4)[0] == "flow_run"
    assert lookup_order(v7) == ID_KINDS
    assert sorted(lookup_order(v4)) == sorted(ID_KINDS)
