"""Fixtures for the page tests: headless Debian Chromium driven by Playwright (sync API).

* ``browser`` — one Chromium per test module, loopback only (see CHROMIUM_ARGS). Missing
  Chromium or Playwright skips the tests with a reason, or fails them when
  ``RESULTGATE_TEST_REQUIRE_ALL`` is set (CI).
* ``page`` — a fresh context per test; fails the test on any uncaught page error.
* ``fake_gateway`` — tests/browser/fake_gateway.py: the static page + canned envelopes.
* ``real_gateway`` — ``resultgate serve`` as a subprocess in front of the session's real
  Prefect server (fixture ``prefect_server`` from tests/conftest.py).
* ``shot`` — saves a screenshot into test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from fake_gateway import FakeGateway

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

Scheme = Literal["light", "dark", "no-preference"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
GATEWAY_LOGS = ROOT / "test-artifacts" / "logs"
CHROMIUM = os.environ.get("RESULTGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright's auto-waiting expectations give up after this (ms)
EXPECT_TIMEOUT_MS = 15_000


def _missing(reason: str) -> None:
    if os.environ.get("RESULTGATE_TEST_REQUIRE_ALL"):
        pytest.fail(f"{reason} (RESULTGATE_TEST_REQUIRE_ALL is set, so this fails instead of skipping)")
    pytest.skip(reason)


# Module scope, not session: Playwright's sync API keeps an asyncio loop in the main
# thread while it runs, which would break async tests of other modules run after ours.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        _missing("the playwright Python package is not installed")
        raise  # unreachable: _missing raises
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM} (run `make tools` / scripts/install-tools.sh)")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield b
    finally:
        b.close()


def _new_context(
    browser: Browser, base_url: str, width: int = 1280, height: int = 900, color_scheme: Scheme = "light"
) -> BrowserContext:
    ctx = browser.new_context(
        base_url=base_url,
        viewport={"width": width, "height": height},
        color_scheme=color_scheme,
        locale="en-GB",
        timezone_id="UTC",
        service_workers="block",
    )
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    ctx.set_default_timeout(EXPECT_TIMEOUT_MS)
    return ctx


class PageFactory:
    """Opens pages in fresh contexts; remembers uncaught page errors to fail the test."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def __call__(
        self, base_url: str, width: int = 1280, height: int = 900, color_scheme: Scheme = "light"
    ) -> Page:
        ctx = _new_context(self.browser, base_url, width, height, color_scheme)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[PageFactory]:
    factory = PageFactory(browser)
    try:
        yield factory
    finally:
        factory.close()
    assert not factory.errors, f"uncaught errors in the page: {factory.errors}"


@pytest.fixture(scope="session")
def fake_gateway_server() -> Iterator[FakeGateway]:
    with FakeGateway() as gw:
        yield gw


@pytest.fixture
def fake_gateway(fake_gateway_server: FakeGateway) -> FakeGateway:
    fake_gateway_server.seen.clear()
    return fake_gateway_server


@pytest.fixture
def shot() -> Callable[..., Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, *, full_page: bool = True, copy_to: Path | None = None) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if copy_to is not None:
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy_to)
        return path

    return take


# ------------------------------------------------------------ the real gateway


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _resultgate_executable() -> list[str]:
    exe = Path(sys.executable).with_name("resultgate")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-m", "resultgate.cli"]


class RealGateway:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path, token: str | None = None) -> None:
        self.url = url
        self.proc = proc
        self.log = log
        #: the gateway token it requires, if any
        self.token = token


def _storage_dir(server: Any) -> str | None:
    for attr in ("storage_dir", "storage_path", "local_storage", "storage"):
        value = getattr(server, attr, None)
        if value:
            return str(value)
    env = getattr(server, "env", {}) or {}
    value = env.get("PREFECT_LOCAL_STORAGE_PATH") or env.get("PREFECT_RESULTS_LOCAL_STORAGE_PATH")
    if value:
        return str(value)
    home = env.get("PREFECT_HOME")
    return str(Path(home) / "storage") if home else None


@contextlib.contextmanager
def serve_gateway(
    prefect_server: Any, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[RealGateway]:
    """``resultgate serve`` on a free loopback port in front of ``prefect_server``; stopped on exit."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RESULTGATE_"))}
    env.update({k: str(v) for k, v in dict(prefect_server.env).items()})
    env["PREFECT_API_URL"] = str(prefect_server.api_url)
    storage = _storage_dir(prefect_server)
    if storage:
        env["RESULTGATE_ALLOWED_ROOTS"] = storage
    env.update(extra_env or {})
    GATEWAY_LOGS.mkdir(parents=True, exist_ok=True)
    log = GATEWAY_LOGS / f"{name}.log"
    cmd = [*_resultgate_executable(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`resultgate serve` exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                # /health/live needs no token and does not depend on Prefect
                with urllib.request.urlopen(f"{url}/health/live", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`resultgate serve` did not answer in 60 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)  # readiness polling of a subprocess, not test synchronisation
        yield RealGateway(url, proc, log, (extra_env or {}).get("RESULTGATE_TOKENS"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def real_gateway(prefect_server: Any) -> Iterator[RealGateway]:
    """``resultgate serve`` in front of the session's Prefect server, open to all."""
    with serve_gateway(prefect_server, "browser-gateway") as gw:
        yield gw


#: the token of :func:`real_gateway_with_token`
GATEWAY_TOKEN = "browser-test-token-3f9c"


@pytest.fixture(scope="session")
def real_gateway_with_token(prefect_server: Any) -> Iterator[RealGateway]:
    """The same, with a gateway token required on every ``/api/*`` request."""
    with serve_gateway(prefect_server, "browser-gateway-token", {"RESULTGATE_TOKENS": GATEWAY_TOKEN}) as gw:
        yield gw
