"""A real ``resultgate serve`` process in front of a real Prefect server, with real flows.

curl-like calls get the values; hostile states set through the real Prefect API get
4xx and nothing is read; a hostile pickle posted to the decode endpoint comes back
as placeholders without running; a huge body is refused without being read; block
secrets appear in no response and no log line.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.hostile import Counter, free_port, metadata, new_flow_run, set_state

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

SECRET = "rg-block-secret-7f3c9a1e"
MAX_UPLOAD = 1024 * 1024

FLOWS = """
import json
from prefect import flow, task

@flow(persist_result=True)
def hello():
    return "hello world"

@flow(persist_result=True, result_serializer="json")
def as_json():
    return {"rows": 3, "ok": True, "names": ["a", "b"]}

@flow(persist_result=True)
def as_dict():
    return {"name": "resultgate", "n": 3, "nested": {"t": (1, 2)}}

@flow(persist_result=True)
def broken():
    raise ValueError("failed on purpose")

@task(persist_result=True)
def square(n):
    return n * n

@flow(persist_result=True)
def with_tasks():
    return sum(square(n) for n in range(3))

out = {}
for name, fn in [("hello", hello), ("json", as_json), ("dict", as_dict), ("broken", broken),
                 ("tasks", with_tasks)]:
    state = fn(return_state=True)
    out[name] = {"state_id": str(state.id), "flow_run_id": str(state.state_details.flow_run_id),
                 "type": state.type.value}
print(json.dumps(out))
"""


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _serve_cmd() -> list[str]:
    """``resultgate serve`` when the command group has it, else the command alone."""
    try:
        from resultgate.cli import main

        if "serve" in getattr(main, "commands", {}):
            exe = Path(sys.executable).with_name("resultgate")
            if exe.exists():
                return [str(exe), "serve"]
            return [sys.executable, "-m", "resultgate", "serve"]
    except ImportError:
        pass
    return [sys.executable, "-m", "resultgate.server.cli"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def gateway(prefect_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    home = tmp_path_factory.mktemp("gateway")
    port = free_port()
    env = {
        **os.environ,
        **prefect_server.env,
        "RESULTGATE_LOCAL_STORAGE_PATH": str(prefect_server.storage_path),
        "RESULTGATE_MAX_UPLOAD": str(MAX_UPLOAD),
        "RESULTGATE_RESULT_WAIT": "0.5",
        "RESULTGATE_MAX_DECOMPRESSED": "16MiB",
    }
    env.pop("RESULTGATE_TOKENS", None)
    log = home / "gateway.log"
    cmd = [*_serve_cmd(), "--port", str(port), "--api-url", prefect_server.api_url, "--log-level", "debug"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=home
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"resultgate serve exited {process.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"resultgate serve did not answer in 60 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        yield Gateway(url, process, log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def runs(prefect_server: Any) -> dict[str, Any]:
    out: dict[str, Any] = prefect_server.run_flow_script(FLOWS, timeout=240)
    return out


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as c:
        yield c


# ---------------------------------------------------------------- the values


def test_the_original_question(client: httpx.Client, runs: dict[str, Any]) -> None:
    run = runs["hello"]
    resp = client.get(f"/api/flow_run_states/{run['state_id']}/result", params={"format": "text"})
    assert resp.status_code == 200, resp.text
    assert resp.text == "hello world"
    for path in (
        f"/api/flow_run_states/{run['state_id']}/result",
        f"/api/flow_runs/{run['flow_run_id']}/result",
        f"/api/results/{run['state_id']}",
        f"/api/results/{run['flow_run_id']}",
    ):
        body = client.get(path).json()
        assert body["value"] == "hello world", path
        assert body["truncated"] is False
        assert body["state"]["type"] == "COMPLETED"
        assert body["serializer"]["type"] == "pickle"
        assert body["safety"]["carries_code"] is False
        assert body["flow_run_id"] == run["flow_run_id"]


def test_json_and_dict_results(client: httpx.Client, runs: dict[str, Any]) -> None:
    body = client.get(f"/api/flow_run_states/{runs['json']['state_id']}/result").json()
    assert body["value"] == {"rows": 3, "ok": True, "names": ["a", "b"]}
    assert body["serializer"]["type"] == "json"
    body = client.get(f"/api/flow_runs/{runs['dict']['flow_run_id']}/result").json()
    assert body["value"]["name"] == "resultgate"
    assert body["value"]["nested"]["t"] == [1, 2]  # a tuple renders as a list (Prefect's JSON convention)
    text = client.get(f"/api/flow_runs/{runs['dict']['flow_run_id']}/result?format=text").text
    assert json.loads(text)["n"] == 3


def test_a_failed_flow(client: httpx.Client, runs: dict[str, Any]) -> None:
    run = runs["broken"]
    assert run["type"] == "FAILED"
    resp = client.get(f"/api/flow_run_states/{run['state_id']}/result")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["state"]["type"] == "FAILED"
    assert "failed on purpose" in json.dumps(body["value"])
    assert body["safety"]["carries_code"] is False


def test_a_flow_with_tasks(client: httpx.Client, runs: dict[str, Any]) -> None:
    run = runs["tasks"]
    flow_run_id = run["flow_run_id"]
    deadline = time.monotonic() + 30
    while True:  # task-run states are recorded from events: wait for them to land
        page = client.get(f"/api/flow_runs/{flow_run_id}/results").json()
        if page.get("total") == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert page["total"] == 4, page
    assert page["flow_run"]["id"] == flow_run_id
    first, *tasks = page["items"]
    assert first["kind"] == "flow_run"
    assert first["value"] == 5
    assert sorted(t["value"] for t in tasks) == [0, 1, 4]
    assert {t["status"] for t in page["items"]} == {"ok"}
    for task in tasks:
        one = client.get(task["result_url"]).json()
        assert one["kind"] == "task_run_state"
        assert one["value"] == task["value"]
    paged = client.get(f"/api/flow_runs/{flow_run_id}/results", params={"limit": 2, "offset": 2}).json()
    assert len(paged["items"]) == 2
    assert client.get(f"/api/flow_runs/{flow_run_id}/results", params={"limit": 500}).status_code == 400


def test_raw_is_the_stored_file(client: httpx.Client, runs: dict[str, Any], prefect_server: Any) -> None:
    state_id = runs["hello"]["state_id"]
    body = client.get(f"/api/flow_run_states/{state_id}/result").json()
    key = body["reference"]["storage_key"]
    stored = Path(key) if os.path.isabs(key) else prefect_server.storage_path / key
    raw = client.get(body["raw_url"])
    assert raw.status_code == 200
    assert raw.content == stored.read_bytes()
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-length"] == str(stored.stat().st_size)
    assert "attachment" in raw.headers["content-disposition"]


def test_etag_and_304(client: httpx.Client, runs: dict[str, Any]) -> None:
    url = f"/api/flow_run_states/{runs['json']['state_id']}/result"
    first = client.get(url)
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    metrics = client.get("/metrics").text
    assert "resultgate_cache_hits_total" in metrics


def test_errors_from_the_real_stack(client: httpx.Client) -> None:
    missing = client.get("/api/flow_run_states/00000000-0000-4000-8000-000000000000/result")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404
    assert client.get("/api/flow_run_states/x/result?format=yaml").status_code == 400


def test_health_and_docs(client: httpx.Client, prefect_server: Any) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["prefect"]["ok"] is True
    assert body["prefect"]["version"]
    assert client.get("/docs").status_code == 200
    assert "resultgate_http_requests_total" in client.get("/metrics").text


# ---------------------------------------------------------------- hostile states


def test_a_state_pointing_at_etc_passwd(client: httpx.Client, prefect_server: Any) -> None:
    api = prefect_server.api_url
    run = new_flow_run(api, "gateway-hostile")
    state = set_state(api, run, metadata("/etc/passwd"))
    for path in (
        f"/api/flow_run_states/{state}/result",
        f"/api/flow_runs/{run}/result",
        f"/api/results/{state}",
    ):
        for fmt in ("json", "text", "raw"):
            resp = client.get(path, params={"format": fmt})
            assert 400 <= resp.status_code < 500, (path, fmt, resp.status_code)
            assert resp.json()["error"]["code"] == "refused"
            assert "root:" not in resp.text


def test_a_dotdot_escape(client: httpx.Client, prefect_server: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read-me")
    api = prefect_server.api_url
    for key in (
        "../../../../../../../../" + str(secret).lstrip("/"),
        str(prefect_server.storage_path) + "/.." * 12 + str(secret),
    ):
        state = set_state(api, new_flow_run(api, "gateway-hostile"), metadata(key))
        for fmt in ("json", "raw"):
            resp = client.get(f"/api/flow_run_states/{state}/result", params={"format": fmt})
            assert 400 <= resp.status_code < 500, (key, fmt, resp.text)
            assert "do-not-read-me" not in resp.text


def test_blocks_pointing_elsewhere_are_refused_and_never_contacted(
    client: httpx.Client, prefect_server: Any, listener: tuple[str, type[Counter]], gateway: Gateway
) -> None:
    url, counter = listener
    host = url.removeprefix("http://")
    out = prefect_server.run_flow_script(
        f"""
        import json
        from prefect.filesystems import LocalFileSystem, RemoteFileSystem
        ids = {{}}
        def save(name, block):
            return str(block.save(name, overwrite=True))
        secret = {{"password": "{SECRET}"}}
        ids["http"] = save("gw-http", RemoteFileSystem(basepath="{url}/results", settings=secret))
        userinfo = "http://u:{SECRET}@{host}/r"
        ids["userinfo"] = save("gw-user", RemoteFileSystem(basepath=userinfo, settings=secret))
        ids["memory"] = save("gw-mem", RemoteFileSystem(basepath="memory://x", settings=secret))
        ids["local_etc"] = save("gw-etc", LocalFileSystem(basepath="/etc"))
        print(json.dumps(ids))
        """
    )
    api = prefect_server.api_url
    for name, block_id in out.items():
        key = "passwd" if name == "local_etc" else "abc"
        run = new_flow_run(api, "gateway-hostile")
        state = set_state(api, run, metadata(key, block_id))
        for path in (f"/api/flow_run_states/{state}/result?format=raw", f"/api/results/{state}"):
            resp = client.get(path)
            assert 400 <= resp.status_code < 500, (name, path, resp.status_code, resp.text)
            assert SECRET not in resp.text, name
            assert "root:" not in resp.text
        page = client.get(f"/api/flow_runs/{run}/results")
        assert page.status_code == 200
        assert page.json()["items"][0]["status"] == "error"
        assert SECRET not in page.text
    assert counter.hits == 0
    assert SECRET not in gateway.log_text()


# ---------------------------------------------------------------- hostile uploads


def _hostile_pickle(marker: Path) -> bytes:
    """A pickle that would run ``os.system("touch MARKER")`` if it were unpickled."""
    command = f"touch {marker}".encode()
    return (
        b"\x80\x04"
        + b"\x8c\x02os\x94\x8c\x06system\x94\x93\x94"  # SHORT_BINUNICODE os, system; STACK_GLOBAL
        + b"\x8c" + bytes([len(command)]) + command + b"\x94"
        + b"\x85\x94R\x94."  # TUPLE1, REDUCE, STOP
    )  # fmt: skip


def test_a_hostile_pickle_upload_is_decoded_without_running(
    client: httpx.Client, tmp_path: Path, gateway: Gateway
) -> None:
    marker = tmp_path / "pwned-marker"
    payload = _hostile_pickle(marker)
    blob = json.dumps(
        {
            "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
            "data": base64.b64encode(payload).decode(),
        }
    ).encode()
    for body, serializer in ((payload, "pickle"), (base64.b64encode(payload), "pickle"), (blob, None)):
        params = {"serializer": serializer} if serializer else {}
        resp = client.post("/api/results/decode", params=params, content=body)
        assert resp.status_code in (200, 422), resp.text
        if resp.status_code == 200:
            result = resp.json()
            assert "os.system" in json.dumps(result["safety"])
            assert result["safety"]["verdict"]
    assert not marker.exists()
    assert gateway.process.poll() is None
    assert client.get("/health/live").status_code == 200


class _Reduce:
    """Pickled, it names ``fn`` and asks for ``fn(*args)`` at load time (never here)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.fn, self.args


def _hostile_kinds(marker: Path) -> list[bytes]:
    import builtins
    import pickle
    import subprocess as sp

    touch = f"touch {marker}"
    objects = [
        _Reduce(os.system, touch),
        _Reduce(sp.Popen, ["touch", str(marker)]),
        _Reduce(builtins.eval, f"__import__('os').system({touch!r})"),
        _Reduce(builtins.exec, f"import os; os.system({touch!r})"),
        {"innocent": [1, 2, {"deep": _Reduce(os.system, touch)}]},
    ]
    out = [pickle.dumps(obj, protocol=p) for obj in objects for p in (0, 2, 5)]
    out.append(f"cos\nsystem\n(S'{touch}'\ntR.".encode())  # protocol 0 by hand
    return out


def test_hostile_pickles_of_every_kind_stay_inert(
    client: httpx.Client, tmp_path: Path, gateway: Gateway
) -> None:
    marker = tmp_path / "pwned-by-kind"
    for payload in _hostile_kinds(marker):
        for body in (payload, base64.b64encode(payload)):
            resp = client.post("/api/results/decode", params={"serializer": "pickle"}, content=body)
            assert resp.status_code in (200, 422), resp.text
            if resp.status_code == 200:
                assert resp.json()["safety"]["placeholders"], resp.text
            else:
                assert set(resp.json()) == {"error"}
    assert not marker.exists()
    assert client.get("/health/live").status_code == 200


def test_hostile_result_files_in_storage_stay_inert(
    client: httpx.Client, prefect_server: Any, tmp_path: Path, gateway: Gateway
) -> None:
    """The same payloads, as result files a flow could have written, behind real states."""
    marker = tmp_path / "pwned-from-storage"
    api = prefect_server.api_url
    for i, payload in enumerate(_hostile_kinds(marker)[::3]):
        path = prefect_server.storage_path / f"hostile-{i}"
        path.write_bytes(base64.b64encode(payload))  # what Prefect's pickle serializer writes
        state = set_state(api, new_flow_run(api, "gateway-hostile"), metadata(str(path)))
        for fmt in ("json", "text", "repr"):
            resp = client.get(f"/api/flow_run_states/{state}/result", params={"format": fmt})
            assert resp.status_code in (200, 422), resp.text
        body = client.get(f"/api/flow_run_states/{state}/result").json()
        if "value" in body:
            assert body["safety"]["placeholders"], body
    assert not marker.exists()
    assert client.get("/health/live").status_code == 200


def test_a_decompression_bomb_is_413(client: httpx.Client, gateway: Gateway) -> None:
    import zlib

    bomb = base64.b64encode(zlib.compress(b"\0" * (64 * 1024 * 1024), 9))
    spec = json.dumps({"type": "compressed", "serializer": {"type": "pickle"}, "compressionlib": "zlib"})
    resp = client.post("/api/results/decode", params={"serializer": spec}, content=bomb)
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "too-large"
    assert client.get("/health/live").status_code == 200


def test_a_deeply_nested_pickle_is_a_clean_answer(client: httpx.Client, gateway: Gateway) -> None:
    deep = b"\x80\x04" + b"]" * 200_000 + b"a" * 199_999 + b"."  # EMPTY_LIST x N, APPEND x N-1
    resp = client.post("/api/results/decode", params={"serializer": "pickle"}, content=deep)
    assert resp.status_code in (200, 413, 422), resp.text
    assert gateway.process.poll() is None
    assert client.get("/health/live").status_code == 200


@pytest.mark.parametrize("garbage", [b"\x80\x04\x95", b"{not json", b"\x00" * 100, b"gAVOLg=="[:-2]])
def test_garbage_uploads_are_clean_errors(client: httpx.Client, garbage: bytes) -> None:
    resp = client.post("/api/results/decode", content=garbage)
    assert resp.status_code in (200, 415, 422), resp.text
    if resp.status_code != 200:
        assert set(resp.json()) == {"error"}
    assert client.get("/health/live").status_code == 200


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_huge_declared_body_is_refused_before_reading(gateway: Gateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            "POST /api/results/decode HTTP/1.1\r\n"
            f"Host: {host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {10 * 1024**3}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"\0" * 65536)
        response = _read_response(sock)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]


def test_a_huge_streamed_body_is_cut_off_past_the_cap(gateway: Gateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    chunk = b"\0" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    limit = 800 * len(chunk)  # 50 MiB: far past the 1 MiB cap
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/results/decode HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
        answered = False
        while sent < limit:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answered = True
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        response = _read_response(sock)
    assert answered, "the gateway read a 50 MiB body it should have refused"
    assert sent < limit
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert httpx.get(f"{gateway.url}/health/live", timeout=5).status_code == 200
