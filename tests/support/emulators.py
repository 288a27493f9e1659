"""Object-store emulators for the session, each a real server on loopback.

* ``s3_server``: moto's S3 server (``moto_server``, from ``moto[server]``)
* ``azurite``: Azurite's blob service (npm; ``bash scripts/install-tools.sh``)
* ``gcs_emulator``: ``gcp-storage-emulator`` (PyPI), in memory

Use the fixture and mark the test (``@pytest.mark.s3`` / ``azure`` / ``gcs``)::

    @pytest.mark.s3
    def test_read(s3_server: S3Server) -> None:
        s3_server.put("bucket", "key", b"...")

A missing tool skips the tests that need it, unless ``RESULTGATE_TEST_REQUIRE_ALL``
is set (CI): then they fail. Every process is stopped at the end of the session
(terminate, then kill); its output goes to a log file whose tail is shown when it
cannot start and attached to the report of every failed test that used it, once
:func:`pytest_runtest_makereport` is registered (``tests/conftest.py`` imports it);
without the hook the logs are kept in the temp directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "Azurite",
    "EmulatorProcess",
    "GcsEmulator",
    "S3Server",
    "azurite",
    "gcs_emulator",
    "pytest_runtest_makereport",
    "s3_server",
]

REPO = Path(__file__).resolve().parents[2]
#: how long an emulator may take to answer its first request
START_DEADLINE = 60.0
#: Azurite's well-known development account (public, documented by Microsoft)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

#: fixture name -> its running process, for failure reports
_RUNNING: dict[str, EmulatorProcess] = {}
#: set once the report hook runs: only then can a clean session delete its logs
_HOOK_ACTIVE: list[bool] = [False]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("RESULTGATE_TEST_REQUIRE_ALL"):
        pytest.fail(f"{reason} (RESULTGATE_TEST_REQUIRE_ALL is set)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmulatorProcess:
    """One started server: its process, its log, and how long it took to answer."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    started_in: float = 0.0
    #: keep the log after stopping (a test that used it failed, or it never started)
    keep_log: bool = False
    _log: Any = field(default=None, repr=False)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if _HOOK_ACTIVE[0] and not self.keep_log:
            self.log_path.unlink(missing_ok=True)


def start_process(
    name: str, argv: list[str], ready: Callable[[], bool], *, env: dict[str, str] | None = None
) -> EmulatorProcess:
    """Start ``argv``, wait (bounded) until ``ready()``; fail or skip with the log tail."""
    fd, log_name = tempfile.mkstemp(prefix=f"resultgate-{name}-", suffix=".log")
    log_path = Path(log_name)
    log = os.fdopen(fd, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    em = EmulatorProcess(name, proc, log_path, _log=log)
    while time.monotonic() - t0 < START_DEADLINE:
        if proc.poll() is not None:
            break
        try:
            if ready():
                em.started_in = time.monotonic() - t0
                return em
        except OSError:
            pass
        time.sleep(0.1)
    em.keep_log = True
    em.stop()
    why = "exited" if proc.returncode is not None else f"did not answer within {START_DEADLINE:.0f} s"
    _unavailable(f"{name} {why}; log {log_path}:\n{em.log_tail()}")


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _tool(name: str, *candidates: Path) -> str:
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which(name)
    if found is None:
        _unavailable(f"{name} is not installed (see scripts/install-tools.sh)")
    return found


# -- S3 (moto) -------------------------------------------------------------------------
@dataclass
class S3Server:
    endpoint_url: str
    process: EmulatorProcess
    key: str = "testing-key"
    secret: str = "testing-secret"

    def client(self) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def put(self, bucket: str, key: str, data: bytes) -> None:
        c = self.client()
        with contextlib.suppress(c.exceptions.BucketAlreadyOwnedByYou):
            c.create_bucket(Bucket=bucket)
        c.put_object(Bucket=bucket, Key=key, Body=data)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port."""
    exe = _tool("moto_server", Path(sys.executable).parent / "moto_server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    em = start_process(
        "moto_server",
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        lambda: _http_status(url + "/moto-api/") == 200,
    )
    _RUNNING["s3_server"] = em
    try:
        yield S3Server(url, em)
    finally:
        em.stop()
        _RUNNING.pop("s3_server", None)


# -- Azure (Azurite) -------------------------------------------------------------------
@dataclass
class Azurite:
    blob_endpoint: str
    process: EmulatorProcess

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def put(self, container: str, blob: str, data: bytes) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        svc = BlobServiceClient.from_connection_string(self.connection_string)
        with contextlib.suppress(ResourceExistsError):
            svc.create_container(container)
        svc.get_blob_client(container, blob).upload_blob(data, overwrite=True)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service on a free loopback port, data in a temp directory."""
    exe = _tool("azurite-blob", REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    location = tmp_path_factory.mktemp("azurite")
    argv = [exe, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location)]
    argv += ["--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"]
    em = start_process("azurite", argv, lambda: _http_status(endpoint + "?comp=list") > 0)
    _RUNNING["azurite"] = em
    try:
        yield Azurite(endpoint, em)
    finally:
        em.stop()
        _RUNNING.pop("azurite", None)


# -- GCS (gcp-storage-emulator) --------------------------------------------------------
@dataclass
class GcsEmulator:
    endpoint_url: str
    process: EmulatorProcess

    def _call(self, method: str, path: str, data: bytes, ctype: str) -> int:
        req = urllib.request.Request(
            self.endpoint_url + path, data=data, method=method, headers={"Content-Type": ctype}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def put(self, bucket: str, name: str, data: bytes) -> None:
        """Create ``bucket`` (if needed) and upload ``name`` through the JSON API."""
        status = self._call("POST", "/storage/v1/b?project=test", json.dumps({"name": bucket}).encode(),
                            "application/json")  # fmt: skip
        assert status in (200, 409), f"creating bucket {bucket}: HTTP {status}"
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        status = self._call("POST", f"/upload/storage/v1/b/{bucket}/o?{q}", data, "application/octet-stream")
        assert status == 200, f"uploading {name}: HTTP {status}"


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """gcp-storage-emulator, in memory, on a free loopback port."""
    exe = _tool("gcp-storage-emulator", Path(sys.executable).parent / "gcp-storage-emulator")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    em = start_process("gcp-storage-emulator", argv, lambda: _http_status(url + "/storage/v1/b") == 200)
    _RUNNING["gcs_emulator"] = em
    try:
        yield GcsEmulator(url, em)
    finally:
        em.stop()
        _RUNNING.pop("gcs_emulator", None)


# -- failure reports -------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the log tail of every emulator a failed test used to its report."""
    report = yield
    _HOOK_ACTIVE[0] = True
    if report.failed:
        for name in getattr(item, "fixturenames", ()):
            em = _RUNNING.get(name)
            title = f"{em.name} log ({em.log_path})" if em is not None else ""
            if em is not None and all(t != title for t, _ in report.sections):
                em.keep_log = True
                report.sections.append((title, em.log_tail()))
    return report
