"""Start and stop the real processes the demo (and the benchmarks) need:
a Prefect server on loopback with a private home, and a resultgate gateway.

Everything started here is stopped by ``close()`` (terminate, then kill the
process group), also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Sandbox:
    """A real Prefect server (SQLite, loopback, temporary home) and, on demand, a gateway."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="resultgate-demo-"))
        self.home = self.root / "prefect-home"
        self.storage = self.home / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(self.storage),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
            DO_NOT_TRACK="1",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 (our own argv)
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def start_prefect(self, timeout: float = 90) -> None:
        argv = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        proc = self._spawn("prefect-server", argv, self.env)
        wait_http(f"{self.api_url}/health", timeout, proc)

    def run_script(self, script: Path, timeout: float = 300) -> Any:
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(script)], env=self.env, capture_output=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{script.name} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def start_gateway(self, port: int | None = None, extra_env: dict[str, str] | None = None) -> str:
        port = port or free_port()
        env = self.env | {"RESULTGATE_ALLOWED_ROOTS": str(self.storage)} | (extra_env or {})
        argv = [str(VENV_BIN / "resultgate"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        proc = self._spawn("resultgate-serve", argv, env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", 60, proc)
        return url

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)
        self.procs.clear()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
