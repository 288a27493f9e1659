"""The client against real servers: a real Prefect server (``@pytest.mark.prefect``), a closed
port, and tiny stdlib HTTP servers on loopback that are slow, failing or talk garbage."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from resultgate._errors import (
    IdNotFound,
    NoPersistedResult,
    PrefectBadResponse,
    PrefectUnreachable,
    UpstreamTimeout,
)
from resultgate._model import IdKind, Reference, StateInfo
from resultgate._plan import Plan
from resultgate._prefect import AsyncDriver, SyncDriver
from resultgate._refs import parse_state_data
from support.prefect_server import PrefectServer, free_port

FLOWS = """
import json
from prefect import flow, task

@task(persist_result=True)
def double(x):
    return x * 2

@flow(persist_result=True)
def persisted():
    state = double(21, return_state=True)
    return {"answer": state.result(), "task_state_id": str(state.id),
            "task_run_id": str(state.state_details.task_run_id)}

@flow(persist_result=False)
def not_persisted():
    return "not persisted"

on = persisted(return_state=True)
off = not_persisted(return_state=True)
inner = on.result()
print(json.dumps({
    "on": {"flow_run_id": str(on.state_details.flow_run_id), "state_id": str(on.id),
           "task_run_id": inner["task_run_id"], "task_state_id": inner["task_state_id"]},
    "off": {"flow_run_id": str(off.state_details.flow_run_id), "state_id": str(off.id)},
}))
"""


@pytest.fixture(scope="module")
def runs(prefect_server: PrefectServer) -> dict[str, Any]:
    out: dict[str, Any] = prefect_server.run_flow_script(FLOWS)
    return out


def _wait_resolve(driver: SyncDriver, id: str, timeout: float = 30.0) -> tuple[IdKind, StateInfo, Any]:
    """Task-run states reach a Prefect 3 server through events: allow them a moment to land."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return driver.run(driver.api.resolve(id))
        except IdNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


@pytest.mark.prefect
def test_real_server_resolves_every_kind(prefect_server: PrefectServer, runs: dict[str, Any]) -> None:
    on = runs["on"]
    with SyncDriver(api_url=prefect_server.api_url, timeout=10, retries=2) as driver:
        assert driver.run(driver.api.health()) is True
        assert driver.run(driver.api.version()).startswith("3.")

        kind, state, run = _wait_resolve(driver, on["flow_run_id"])
        assert (kind, state.id, state.type) == ("flow_run", on["state_id"], "COMPLETED")
        assert run is not None
        assert run["id"] == on["flow_run_id"]
        ref = parse_state_data(state)
        assert isinstance(ref, Reference)
        assert ref.era == "prefect3"
        assert Path(ref.storage_key).parent == prefect_server.storage_path
        assert Path(ref.storage_key).exists()

        kind, state, run = _wait_resolve(driver, on["state_id"])
        assert (kind, state.id, run) == ("flow_run_state", on["state_id"], None)
        assert state.flow_run_id == on["flow_run_id"]

        kind, state, run = _wait_resolve(driver, on["task_state_id"])
        assert (kind, state.id, run) == ("task_run_state", on["task_state_id"], None)
        assert state.task_run_id == on["task_run_id"]
        task_ref = parse_state_data(state)
        assert isinstance(task_ref, Reference)
        assert task_ref.serializer == {"type": "pickle"}  # trimmed on the way through events

        kind, state, run = _wait_resolve(driver, on["task_run_id"])
        assert kind == "task_run"
        assert run is not None
        assert run["flow_run_id"] == on["flow_run_id"]

        task_runs = driver.run(driver.api.task_runs(on["flow_run_id"]))
        assert [r["id"] for r in task_runs] == [on["task_run_id"]]


@pytest.mark.prefect
def test_real_server_persist_off(prefect_server: PrefectServer, runs: dict[str, Any]) -> None:
    off = runs["off"]
    with SyncDriver(api_url=prefect_server.api_url) as driver:
        for id in (off["flow_run_id"], off["state_id"]):
            _, state, _ = _wait_resolve(driver, id)
            assert state.data is None
            with pytest.raises(NoPersistedResult, match="persist_result=True"):
                parse_state_data(state)


@pytest.mark.prefect
def test_real_server_async_driver(prefect_server: PrefectServer, runs: dict[str, Any]) -> None:
    on, off = runs["on"], runs["off"]
    # make sure the task state has landed before the async pass
    with SyncDriver(api_url=prefect_server.api_url) as sync:
        _wait_resolve(sync, on["task_state_id"])

    async def main() -> list[tuple[str, str]]:
        async with AsyncDriver(api_url=prefect_server.api_url, timeout=10) as driver:
            ids = [
                on["flow_run_id"],
                on["state_id"],
                on["task_run_id"],
                on["task_state_id"],
                off["flow_run_id"],
            ]
            results = await asyncio.gather(*(driver.run(driver.api.resolve(i)) for i in ids))
            assert await driver.run(driver.api.health()) is True
            with pytest.raises(IdNotFound):
                await driver.run(driver.api.resolve("99999999-9999-4999-8999-999999999999"))
            return [(kind, state.id) for kind, state, _ in results]

    got = asyncio.run(main())
    assert got == [
        ("flow_run", on["state_id"]),
        ("flow_run_state", on["state_id"]),
        ("task_run", on["task_state_id"]),
        ("task_run_state", on["task_state_id"]),
        ("flow_run", off["state_id"]),
    ]


# -- Prefect down, slow, failing, garbage -----------------------------------------------
def test_closed_port_is_unreachable_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    started = time.monotonic()
    with SyncDriver(api_url=url, timeout=2, retries=2) as driver, pytest.raises(PrefectUnreachable) as info:
        driver.run(driver.api.version())
    assert time.monotonic() - started < 5
    assert url in str(info.value)

    async def main() -> None:
        async with AsyncDriver(api_url=url, timeout=2, retries=2) as driver:
            await driver.run(driver.api.version())

    started = time.monotonic()
    with pytest.raises(PrefectUnreachable):
        asyncio.run(main())
    assert time.monotonic() - started < 5


class _QuietHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left is what some tests do on purpose


class _Server:
    """A loopback HTTP/1.1 server whose handler is a function; counts requests and connections."""

    def __init__(self, respond: Callable[[_Handler], None]) -> None:
        self.respond = respond
        self.requests = 0
        self.peers: set[int] = set()
        self.release = threading.Event()
        outer = self

        class Handler(_Handler):
            server_state = outer

        self.httpd = _QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # wake handlers that are "slow"
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        state = self.server_state
        state.requests += 1
        state.peers.add(self.client_address[1])
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        state.respond(self)

    do_GET = do_POST = _any

    def send(self, status: int, body: bytes, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = close


@contextmanager
def serving(respond: Callable[[_Handler], None]) -> Iterator[_Server]:
    with _Server(respond) as server:
        yield server


def _both(url: str, plan_of: Callable[[Any], Plan[Any]], **kw: Any) -> list[BaseException | Any]:
    """Run the same plan under both drivers; return each outcome (value or exception)."""
    outcomes: list[BaseException | Any] = []
    try:
        with SyncDriver(api_url=url, **kw) as driver:
            outcomes.append(driver.run(plan_of(driver)))
    except Exception as exc:
        outcomes.append(exc)

    async def main() -> Any:
        async with AsyncDriver(api_url=url, **kw) as driver:
            return await driver.run(plan_of(driver))

    try:
        outcomes.append(asyncio.run(main()))
    except Exception as exc:
        outcomes.append(exc)
    return outcomes


def test_slow_server_times_out_after_bounded_retries() -> None:
    def slow(h: _Handler) -> None:
        h.server_state.release.wait(10)
        h.send(200, b'"3.9.1"')

    with serving(slow) as server:
        started = time.monotonic()
        outcomes = _both(server.url, lambda d: d.api.version(), timeout=0.3, retries=1)
        elapsed = time.monotonic() - started
        assert all(isinstance(o, UpstreamTimeout) for o in outcomes), outcomes
        assert server.requests == 4  # (1 + 1 retry) x 2 drivers
        assert elapsed < 5


def test_500_server_is_bad_response_after_bounded_retries() -> None:
    with serving(lambda h: h.send(500, b'{"detail": "Internal Server Error"}')) as server:
        outcomes = _both(server.url, lambda d: d.api.version(), timeout=2, retries=2)
        for o in outcomes:
            assert isinstance(o, PrefectBadResponse)
            assert o.details["status"] == 500
        assert server.requests == 6


def test_garbage_server_is_bad_response() -> None:
    with serving(lambda h: h.send(200, b"<html>hello</html>")) as server:
        outcomes = _both(server.url, lambda d: d.api.resolve("99999999-9999-4999-8999-999999999999"))
        assert all(isinstance(o, PrefectBadResponse) for o in outcomes), outcomes
        assert server.requests == 2  # a 200 is not retried


def test_sync_transport_keeps_the_connection_alive() -> None:
    with serving(lambda h: h.send(200, json.dumps("3.9.1").encode())) as server:
        with SyncDriver(api_url=server.url) as driver:
            for _ in range(5):
                assert driver.run(driver.api.version()) == "3.9.1"
        assert server.requests == 5
        assert len(server.peers) == 1


def test_sync_transport_reconnects_when_the_server_dropped_an_idle_connection() -> None:
    # answers, then closes the socket without saying so: the next call on that
    # connection fails and the transport retries it once on a fresh one
    with serving(lambda h: h.send(200, b'"3.9.1"', close=True)) as server:
        with SyncDriver(api_url=server.url, retries=0) as driver:
            for _ in range(3):
                assert driver.run(driver.api.version()) == "3.9.1"
        assert server.requests == 3
        assert len(server.peers) == 3
