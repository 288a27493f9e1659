"""A real ``prefect server start`` for the session, on loopback, SQLite, a temporary home.

Use the ``prefect_server`` fixture (registered in ``tests/conftest.py``) and mark the
test ``@pytest.mark.prefect``::

    @pytest.mark.prefect
    def test_something(prefect_server: PrefectServer) -> None:
        out = prefect_server.run_flow_script('''
            import json
            from prefect import flow

            @flow(persist_result=True)
            def f():
                return 42

            state = f(return_state=True)
            ids = {"flow_run_id": str(state.state_details.flow_run_id), "state_id": str(state.id)}
            print(json.dumps(ids))
        ''')

Start-up is kept lean: analytics, the UI and the background services nobody here
needs (scheduler, late runs, foreman, ...) are off; the services that record task-run
states from events stay on. Migrating a fresh SQLite database is most of a cold start
(about 10 s against about 4 s), so the first session saves a migrated copy under
pytest's cache directory, keyed by the Prefect version, and later sessions start
from a copy of it.

If the server cannot start the tests that need it are skipped, unless
``RESULTGATE_TEST_REQUIRE_ALL`` is set (CI), in which case they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PrefectServer", "PrefectServerError", "prefect_server", "start_prefect_server"]

#: how long the server may take to answer /api/health
START_DEADLINE = 90.0
#: default bound on one flow script
SCRIPT_TIMEOUT = 180.0

_SERVICES_OFF = (
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED",
)


#: the caller's Prefect identity must not reach the test server or the flows run against it
_CALLER_ONLY = frozenset({"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILE"})


class PrefectServerError(RuntimeError):
    """The server did not start, or a flow script failed."""


@dataclass
class PrefectServer:
    """A running server: its API URL, its home, and the env to run flows against it."""

    api_url: str
    home: Path
    #: the variables a flow process needs (merge into a copy of os.environ)
    env: dict[str, str]
    port: int
    #: seconds from launch to a healthy /api/health
    start_seconds: float
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def storage_path(self) -> Path:
        return Path(self.env["PREFECT_RESULTS_LOCAL_STORAGE_PATH"])

    def run_flow_script(self, code: str, timeout: float = SCRIPT_TIMEOUT) -> Any:
        """Run ``code`` (dedented) with the venv's python against this server.

        Returns the JSON printed on the last non-empty line of stdout. Raises
        :class:`PrefectServerError` with the output on a non-zero exit, a timeout, or
        a last line that is not JSON.
        """
        scripts = self.home / "scripts"
        scripts.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".py", prefix="flow_", dir=scripts)
        with os.fdopen(fd, "w") as fh:
            fh.write(textwrap.dedent(code))
        env = {k: v for k, v in os.environ.items() if k not in _CALLER_ONLY} | self.env
        try:
            proc = subprocess.run(
                [sys.executable, name],
                env=env,
                cwd=scripts,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # run() kills the child on timeout
            raise PrefectServerError(f"flow script timed out after {timeout}s: {name}") from exc
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise PrefectServerError(
                f"flow script exited {proc.returncode}: {name}\n--- stdout\n{out[-4000:]}"
                f"\n--- stderr\n{err[-4000:]}"
            )
        lines = [line for line in out.splitlines() if line.strip()]
        if not lines:
            raise PrefectServerError(f"flow script printed nothing: {name}\n--- stderr\n{err[-4000:]}")
        try:
            return json.loads(lines[-1])
        except ValueError as exc:
            raise PrefectServerError(
                f"last stdout line of {name} is not JSON: {lines[-1][:500]!r}\n--- stderr\n{err[-4000:]}"
            ) from exc

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the server's process group, then kill it if it lingers."""
        _stop(self.process)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)


def _die_with_parent() -> None:
    """In the child (Linux): get SIGTERM if the test process dies without its teardown."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _prefect_version() -> str:
    try:
        return metadata.version("prefect")
    except metadata.PackageNotFoundError:
        return ""


def _save_template(db: Path, template: Path) -> None:
    """Copy a live, migrated SQLite database with the backup API (safe while it is in use)."""
    tmp = template.with_suffix(".tmp")
    src = sqlite3.connect(str(db))
    try:
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(template)


def start_prefect_server(home: Path, template_dir: Path | None = None) -> PrefectServer:
    """Start ``prefect server start`` under ``home``; return once /api/health answers."""
    home.mkdir(parents=True, exist_ok=True)
    storage = home / "storage"
    storage.mkdir(exist_ok=True)
    db = home / "prefect.db"
    version = _prefect_version()
    if not version:
        raise PrefectServerError("prefect is not installed in this environment")
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    template = template_dir / f"prefect-{version}-py{py}.db" if template_dir else None
    if template is not None and template.exists():
        shutil.copyfile(template, db)

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    common = {
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    server_env = {
        **os.environ,
        **common,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        **dict.fromkeys(_SERVICES_OFF, "false"),
    }
    for name in _CALLER_ONLY:
        server_env.pop(name, None)
    prefect_bin = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect_bin)] if prefect_bin.exists() else [sys.executable, "-m", "prefect"]
    cmd += ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]

    log_path = home / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it for its lifetime
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            cmd,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        log.close()
    health = f"{api_url}/health"
    deadline = started + START_DEADLINE
    try:
        while True:
            if process.poll() is not None:
                raise PrefectServerError(
                    f"prefect server exited with {process.returncode}:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            if _healthy(health):
                break
            if time.monotonic() > deadline:
                raise PrefectServerError(
                    f"prefect server not healthy after {START_DEADLINE}s:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.1)
    except BaseException:
        _stop(process)
        raise
    elapsed = time.monotonic() - started
    if template is not None and not template.exists():
        try:
            template.parent.mkdir(parents=True, exist_ok=True)
            _save_template(db, template)
        except (OSError, sqlite3.Error):
            pass  # only a speed-up
    env = {
        **common,
        "PREFECT_API_URL": api_url,
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(storage),
        "PREFECT_LOCAL_STORAGE_PATH": str(storage),
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
    }
    return PrefectServer(
        api_url=api_url,
        home=home,
        env=env,
        port=port,
        start_seconds=elapsed,
        process=process,
        log_path=log_path,
    )


@pytest.fixture(scope="session")
def prefect_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[PrefectServer]:
    """A real Prefect server for the whole session (stopped at the end, always)."""
    home = tmp_path_factory.mktemp("prefect-home")
    template_dir: Path | None = None
    if pytestconfig.cache is not None:
        template_dir = Path(pytestconfig.cache.mkdir("resultgate-prefect-db"))
    server: PrefectServer | None = None
    problem: BaseException | None = None
    for attempt in range(2):  # a second try covers losing the free port to someone else
        try:
            server = start_prefect_server(home / f"try{attempt}", template_dir)
            break
        except (PrefectServerError, OSError) as exc:
            problem = exc
    if server is None:
        if os.environ.get("RESULTGATE_TEST_REQUIRE_ALL"):
            pytest.fail(f"could not start a Prefect server: {problem}")
        pytest.skip(f"could not start a Prefect server: {problem}")
    try:
        yield server
    finally:
        server.stop()
