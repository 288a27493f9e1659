"""Helpers for hostile-state tests: craft states through the real Prefect API, and a
loopback HTTP listener that counts the requests it gets (it must get none)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

__all__ = ["Counter", "free_port", "listener", "metadata", "new_flow_run", "set_state"]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_flow_run(api: str, flow_name: str = "hostile-states") -> str:
    """A fresh flow run (no state of its own yet) to hang a crafted state on."""
    flow = httpx.post(f"{api}/flows/", json={"name": flow_name}, timeout=10).json()
    run = httpx.post(f"{api}/flow_runs/", json={"flow_id": flow["id"], "name": "hostile"}, timeout=10)
    run.raise_for_status()
    return str(run.json()["id"])


def metadata(key: str, block_id: str | None = None) -> dict[str, Any]:
    """A Prefect 3 result reference (ResultRecordMetadata) pointing wherever the test says."""
    return {
        "storage_key": key,
        "expiration": None,
        "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
        "prefect_version": "3.9.1",
        "storage_block_id": block_id,
    }


def set_state(api: str, flow_run_id: str, data: Any) -> str:
    """Force a COMPLETED state with ``data`` onto the run; the new state's id."""
    body = {"state": {"type": "COMPLETED", "name": "Completed", "data": data}, "force": True}
    response = httpx.post(f"{api}/flow_runs/{flow_run_id}/set_state", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["state"]["id"])


class Counter(http.server.BaseHTTPRequestHandler):
    """Counts GETs and answers each with a tiny, valid result (so a read would succeed)."""

    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"gAVOLg==\n")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def listener() -> Iterator[tuple[str, type[Counter]]]:
    """``(base_url, Counter)`` of a loopback listener, stopped after the test."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Counter.hits = 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Counter
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
