"""The Prefect REST client: sans-IO plans, and two drivers that carry them out.

:class:`PrefectAPI` only builds :class:`Request` objects and interprets
:class:`Response` objects; it does no I/O, so one plan runs under either driver::

    driver = SyncDriver(Settings.load())
    kind, state, run = driver.run(driver.api.resolve("0e6f...-..."))

* :class:`SyncDriver` uses the standard library (:mod:`http.client`, one kept-alive
  connection per host) so the command line starts fast (no httpx import).
* :class:`AsyncDriver` uses one pooled ``httpx.AsyncClient`` (imported on first use).

Both own retries (connection errors, timeouts, 429 honouring ``Retry-After``, 5xx;
exponential backoff with jitter, at most ``retries`` times), timeouts on every call,
and the ONE seam where transport failures and unexpected statuses become
:mod:`resultgate._errors`. Exceptions raised while carrying out an effect are thrown
into the plan, so a plan may catch them.

Error mapping: cannot connect → PrefectUnreachable; no answer in time → UpstreamTimeout;
401/403 → AuthError; an unexpected 404 → NotFound; any other status the request does
not ``accept`` → PrefectBadResponse; a body that is not the JSON expected →
PrefectBadResponse.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

from resultgate._errors import (
    AuthError,
    ConfigError,
    IdNotFound,
    NoPersistedResult,
    NotFound,
    PrefectBadResponse,
    PrefectUnreachable,
    ResultgateError,
    UpstreamTimeout,
    UsageError,
)
from resultgate._model import ID_KINDS, IdKind, StateInfo
from resultgate._plan import Blocking, Plan, Request, Response, Sleep

if TYPE_CHECKING:
    import http.client

    import httpx

    from resultgate._config import Settings

__all__ = [
    "API_VERSION",
    "AsyncDriver",
    "HTTPConnectionTransport",
    "PrefectAPI",
    "SyncDriver",
    "SyncTransport",
    "check_id",
    "retry_delay",
]

T = TypeVar("T")
StateKind = Literal["flow_run_state", "task_run_state"]
RunKind = Literal["flow_run", "task_run"]

#: the API schema version the Prefect client sends (same in 2.x and 3.x)
API_VERSION = "0.8.4"
PAGE_SIZE = 200  # the server refuses a larger limit (formats doc §1.4)
MAX_PAGES = 500  # 100 000 task runs: a bound, not an expectation
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0
MAX_RETRY_AFTER = 10.0
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_PATHS: dict[IdKind, str] = {
    "flow_run_state": "/flow_run_states",
    "task_run_state": "/task_run_states",
    "flow_run": "/flow_runs",
    "task_run": "/task_runs",
}
_LABELS: dict[IdKind, str] = {
    "flow_run_state": "flow run state",
    "task_run_state": "task run state",
    "flow_run": "flow run",
    "task_run": "task run",
}
_AUTH_HINT = (
    "set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (a server started with "
    "PREFECT_SERVER_API_AUTH_STRING)"
)


def check_id(value: str) -> str:
    """A canonical lower-case UUID, or :class:`UsageError` (before any call is made)."""
    text = str(value).strip()
    if not _UUID_RE.match(text):
        raise UsageError(f"{value!r} is not a Prefect id (a UUID such as 0e6f2c1a-...)")
    hexed = text.replace("-", "").lower()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def _json(response: Response, what: str) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise PrefectBadResponse(
            f"Prefect answered {what} with a body that is not JSON",
            hint="is PREFECT_API_URL the API (ending in /api), not the UI or another server?",
            status=response.status,
        ) from None


def _state(body: dict[str, Any], what: str) -> StateInfo:
    """A StateInfo, once the body looks like a Prefect state (an id and a type)."""
    if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise PrefectBadResponse(
            f"Prefect answered {what} with an object that is not a state",
            hint="is PREFECT_API_URL a Prefect API?",
        )
    return StateInfo.from_api(body)


def _is_unknown_route(response: Response) -> bool:
    """A 404 from the web framework (no such route), not Prefect's "... not found" for an id."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return True
    return not (isinstance(body, dict) and str(body.get("detail", "")).endswith(" not found"))


def _json_object(response: Response, what: str) -> dict[str, Any]:
    body = _json(response, what)
    if not isinstance(body, dict):
        raise PrefectBadResponse(f"Prefect answered {what} with {type(body).__name__}, not an object")
    return body


class PrefectAPI:
    """Plans for the few Prefect endpoints resultgate reads.

    ``scope`` is a Cloud ``/accounts/{a}/workspaces/{w}`` prefix (or ``""``);
    ``auth_header`` a forwarded ``Authorization`` value that overrides the driver's.
    """

    def __init__(self, scope: str = "", auth_header: str | None = None) -> None:
        if scope and not re.fullmatch(r"/accounts/[^/?#\s]+/workspaces/[^/?#\s]+", scope):
            raise UsageError(f"{scope!r} is not a workspace scope (/accounts/<id>/workspaces/<id>)")
        self.scope = scope
        self.auth_header = auth_header

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        accept: frozenset[int] = frozenset({200}),
    ) -> Request:
        headers = {"Authorization": self.auth_header} if self.auth_header else None
        return Request(method, self.scope + path, params=params, json=json, headers=headers, accept=accept)

    def read_state(self, kind: StateKind, id: str) -> Plan[StateInfo]:
        """``GET /{flow_run_states|task_run_states}/{id}``; :class:`IdNotFound` on 404."""
        found = yield from self._read(kind, id)
        return _state(found, f"GET {_PATHS[kind]}/{check_id(id)}")

    def read_run(self, kind: RunKind, id: str) -> Plan[dict[str, Any]]:
        """``GET /{flow_runs|task_runs}/{id}``: the run JSON (its ``state`` is the current state)."""
        return (yield from self._read(kind, id))

    def _read(self, kind: IdKind, id: str) -> Plan[dict[str, Any]]:
        if kind not in _PATHS:
            raise UsageError(f"unknown id kind {kind!r}; use one of {', '.join(ID_KINDS)}")
        uid = check_id(id)
        response: Response = yield self.request("GET", f"{_PATHS[kind]}/{uid}", accept=frozenset({200, 404}))
        if response.status == 404:
            raise IdNotFound(f"no {_LABELS[kind]} has id {uid}", tried=[kind])
        return _json_object(response, f"GET {_PATHS[kind]}/{uid}")

    def resolve(
        self, id: str, kind: IdKind | None = None
    ) -> Plan[tuple[IdKind, StateInfo, dict[str, Any] | None]]:
        """``(kind, state, run)`` for an id of any kind; a run resolves to its current state.

        With no ``kind`` the lookups go flow-run state, task-run state, flow run, task
        run (:data:`ID_KINDS`); a 404 from all of them is :class:`IdNotFound` listing
        what was tried. ``run`` is None when the id is a state's.
        """
        if kind is not None and kind not in _PATHS:
            raise UsageError(f"unknown id kind {kind!r}; use one of {', '.join(ID_KINDS)}")
        uid = check_id(id)
        kinds: tuple[IdKind, ...] = (kind,) if kind else ID_KINDS
        no_route = True
        for k in kinds:
            path = f"{_PATHS[k]}/{uid}"
            response: Response = yield self.request("GET", path, accept=frozenset({200, 404}))
            if response.status == 404:
                no_route = no_route and _is_unknown_route(response)
                continue
            body = _json_object(response, f"GET {path}")
            if k in ("flow_run_state", "task_run_state"):
                return k, _state(body, f"GET {path}"), None
            state = body.get("state")
            if not isinstance(state, dict):
                raise NoPersistedResult(f"the {_LABELS[k]} {uid} has no state yet", kind=k)
            return k, _state(state, f"GET {path} (its state)"), body
        tried = ", ".join(_LABELS[k] + "s" for k in kinds)
        hint = f"looked up: {tried}; check the id and that PREFECT_API_URL points at the right server"
        if no_route:
            hint = f"looked up: {tried}; the server has no such routes: does PREFECT_API_URL end in /api?"
        raise IdNotFound(
            f"no {' or '.join(_LABELS[k] for k in kinds)} has id {uid}", hint=hint, tried=list(kinds)
        )

    def read_block_document(self, id: str) -> Plan[dict[str, Any]]:
        """``GET /block_documents/{id}?include_secrets=true`` (the storage block of a result)."""
        uid = check_id(id)
        path = f"/block_documents/{uid}"
        response: Response = yield self.request(
            "GET", path, params={"include_secrets": "true"}, accept=frozenset({200, 404})
        )
        if response.status == 404:
            raise NotFound(
                f"the storage block document {uid} does not exist",
                hint="the result's storage block may have been deleted",
            )
        return _json_object(response, f"GET {path}")

    def task_runs(self, flow_run_id: str) -> Plan[list[dict[str, Any]]]:
        """All task runs of a flow run, oldest expected start first, paged by 200."""
        uid = check_id(flow_run_id)
        runs: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(MAX_PAGES):
            body = {
                "flow_runs": {"id": {"any_": [uid]}},
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": PAGE_SIZE,
                "offset": page * PAGE_SIZE,
            }
            response: Response = yield self.request("POST", "/task_runs/filter", json=body)
            items = _json(response, "POST /task_runs/filter")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise PrefectBadResponse("Prefect answered POST /task_runs/filter with something not a list")
            for item in items:
                key = str(item.get("id"))
                if key not in seen:  # a run added while paging can shift one into the next page
                    seen.add(key)
                    runs.append(item)
            if len(items) < PAGE_SIZE:
                return runs
        raise PrefectBadResponse(f"flow run {uid} has more than {MAX_PAGES * PAGE_SIZE} task runs")

    def version(self) -> Plan[str]:
        """The Prefect server's package version (``GET /admin/version``), e.g. ``"3.9.1"``."""
        response: Response = yield self.request("GET", "/admin/version")
        body = _json(response, "GET /admin/version")
        if not isinstance(body, str):
            raise PrefectBadResponse("Prefect answered GET /admin/version with something not a string")
        return body

    def health(self) -> Plan[bool]:
        """True when ``GET /health`` answers 200 ``true``."""
        response: Response = yield self.request("GET", "/health", accept=frozenset({200, 503}))
        return response.status == 200 and response.content.strip() == b"true"


# -- shared driver logic ----------------------------------------------------------------
class _Target:
    """Where and how to send: base URL, default headers, timeout, retries."""

    def __init__(
        self,
        settings: Settings | None,
        api_url: str | None,
        auth_header: str | None,
        timeout: float | None,
        retries: int | None,
    ) -> None:
        from resultgate._config import split_api_url

        url = api_url or (settings.require_api_url() if settings is not None else None)
        if not url:
            raise ConfigError("no Prefect API URL is set", hint="set PREFECT_API_URL or pass --api-url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"the Prefect API URL is not an http(s) URL: {url!r}")
        self.root, scope = split_api_url(url)
        self.scope = scope
        #: the URL as shown in messages (no user:password@)
        self.display = re.sub(r"^(\w+://)[^/@]*@", r"\1", self.root)
        if auth_header is None and settings is not None:
            auth_header = settings.auth_header
        self.headers = {
            "Accept": "application/json",
            "X-PREFECT-API-VERSION": API_VERSION,
            "User-Agent": "resultgate",
        }
        if auth_header:
            self.headers["Authorization"] = auth_header
        self.timeout = float(timeout if timeout is not None else (settings.timeout if settings else 10.0))
        self.retries = int(retries if retries is not None else (settings.retries if settings else 3))

    def url(self, request: Request) -> str:
        query = f"?{urlencode(dict(request.params))}" if request.params else ""
        return self.root + request.path + query

    def headers_for(self, request: Request) -> dict[str, str]:
        headers = dict(self.headers)
        if request.json is not None:
            headers["Content-Type"] = "application/json"
        if request.headers:
            headers.update(request.headers)
        return headers

    @staticmethod
    def body(request: Request) -> bytes | None:
        return None if request.json is None else json.dumps(request.json).encode()

    # errors at the seam -----------------------------------------------------------------
    def unreachable(self, reason: str) -> PrefectUnreachable:
        return PrefectUnreachable(
            f"could not reach the Prefect API at {self.display}: {reason}",
            hint="is the server running? check PREFECT_API_URL",
        )

    def timed_out(self, request: Request) -> UpstreamTimeout:
        return UpstreamTimeout(
            f"the Prefect API at {self.display} did not answer {request.method} {request.path} "
            f"within {self.timeout:g}s",
            hint="is the server overloaded? raise RESULTGATE_TIMEOUT (or --timeout) if it is just slow",
        )

    def malformed(self, request: Request, exc: BaseException) -> ConfigError:
        # never the exception's text: it may quote a header value (a secret)
        return ConfigError(
            f"cannot send {request.method} {request.path} to {self.display}: "
            f"the URL or a header is malformed ({type(exc).__name__})",
            hint="check PREFECT_API_URL, PREFECT_API_KEY and PREFECT_API_AUTH_STRING",
        )

    def decide(self, request: Request, attempt: int, outcome: Response | ResultgateError) -> Response | float:
        """After attempt ``attempt`` (0-based): the response to return, or seconds to wait
        before retrying; raises the final error once retries are spent or pointless."""
        if isinstance(outcome, Response):
            if outcome.status in request.accept:
                return outcome
            if not _retryable_status(outcome.status) or attempt >= self.retries:
                raise self.status_error(request, outcome)
            return retry_delay(attempt, outcome)
        if attempt >= self.retries:
            raise outcome from outcome.__cause__
        return retry_delay(attempt)

    def status_error(self, request: Request, response: Response) -> ResultgateError:
        status = response.status
        what = f"{request.method} {request.path}"
        detail = _detail(response)
        if status in (401, 403):
            return AuthError(
                f"the Prefect API at {self.display} refused the credentials (HTTP {status}) for {what}"
                + (f": {detail}" if detail else ""),
                hint=_AUTH_HINT,
            )
        if status == 404:
            return NotFound(f"the Prefect API has nothing at {what} (HTTP 404)")
        return PrefectBadResponse(
            f"the Prefect API at {self.display} answered HTTP {status} to {what}"
            + (f": {detail}" if detail else ""),
            status=status,
        )


def _detail(response: Response) -> str:
    """A short reason from a Prefect error body (``detail`` / ``exception_message``)."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict):
        for key in ("detail", "exception_message", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])[:200]
    return ""


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def retry_delay(attempt: int, response: Response | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``Retry-After`` (capped) or backoff+jitter."""
    if response is not None and response.status in (429, 503):
        after = _retry_after(response.headers)
        if after is not None:
            return after
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
    return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(MAX_RETRY_AFTER, seconds))


# -- the synchronous driver (stdlib) -----------------------------------------------------
class SyncTransport(Protocol):
    """Sends one HTTP request; the seam tests replace.

    ``(method, url, headers, body, timeout) -> Response``. It may raise
    :class:`OSError` (including :class:`TimeoutError` and :class:`ConnectionError`),
    :class:`http.client.HTTPException` or :class:`ValueError`; :class:`SyncDriver` maps them.
    """

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response: ...


class HTTPConnectionTransport:
    """The default :class:`SyncTransport`: ``http.client``, one kept-alive connection per host."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        import http.client

        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for fresh in (False, True):
            conn = self._conns.get(key)
            reused = conn is not None and not fresh
            if conn is None or fresh:
                if conn is not None:
                    conn.close()
                conn = self._connect(*key, timeout)
                self._conns[key] = conn
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, target, body=body, headers=dict(headers))
                resp = conn.getresponse()
                content = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._conns.pop(key, None)
                if reused:  # the server closed an idle kept-alive connection: one fresh try
                    continue
                raise
            except BaseException:
                conn.close()
                self._conns.pop(key, None)
                raise
            if resp.will_close:
                conn.close()
                self._conns.pop(key, None)
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, content)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _connect(scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        import http.client

        if scheme == "https":
            import ssl

            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


class SyncDriver:
    """Runs plans synchronously with the standard library.

    ``SyncDriver(settings)`` or ``SyncDriver(api_url=..., auth_header=..., timeout=..., retries=...)``
    (keywords override the settings). ``transport`` is any :class:`SyncTransport`
    (default: :class:`HTTPConnectionTransport`); ``sleep`` replaces :func:`time.sleep`
    (tests record the waits instead of waiting).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        api_url: str | None = None,
        auth_header: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        transport: SyncTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._target = _Target(settings, api_url, auth_header, timeout, retries)
        self._transport: SyncTransport = transport or HTTPConnectionTransport()
        self._sleep = sleep or time.sleep
        self.api = PrefectAPI(scope=self._target.scope)

    @property
    def base_url(self) -> str:
        return self._target.root

    def run(self, plan: Plan[T]) -> T:
        """Carry out ``plan``'s effects in order and return its value."""
        try:
            effect = next(plan)
            while True:
                try:
                    outcome = self._do(effect)
                except ResultgateError as exc:
                    effect = plan.throw(exc)
                else:
                    effect = plan.send(outcome)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    def _do(self, effect: Request | Blocking | Sleep) -> Any:
        if isinstance(effect, Request):
            return self.send(effect)
        if isinstance(effect, Blocking):
            return effect.fn(*effect.args)
        if isinstance(effect, Sleep):
            self._sleep(effect.seconds)
            return None
        raise TypeError(f"a plan yielded {effect!r}, not a Request, Blocking or Sleep")

    def send(self, request: Request) -> Response:
        """One request, with retries; returns an accepted response or raises a resultgate error."""
        t = self._target
        url, headers, body = t.url(request), t.headers_for(request), t.body(request)
        attempt = 0
        while True:
            outcome = t.decide(request, attempt, self._attempt(request, url, headers, body))
            if isinstance(outcome, Response):
                return outcome
            self._sleep(outcome)
            attempt += 1

    def _attempt(
        self, request: Request, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response | ResultgateError:
        """THE seam of the sync driver: a response, a retryable error, or a raised final one."""
        import http.client

        t = self._target
        try:
            return self._transport(request.method, url, headers, body, t.timeout)
        except TimeoutError as exc:
            return _caused(t.timed_out(request), exc)
        except (OSError, http.client.HTTPException) as exc:
            return _caused(t.unreachable(_reason(exc)), exc)
        except ValueError as exc:  # http.client refuses a malformed URL or header value
            raise t.malformed(request, exc) from exc

    def close(self) -> None:
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> SyncDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _caused(error: ResultgateError, cause: BaseException) -> ResultgateError:
    error.__cause__ = cause
    return error


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason for a connection failure."""
    name = type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({name})"
    text = str(exc)
    return f"{name}: {text[:200]}" if text else name


# -- the asynchronous driver (httpx) -----------------------------------------------------
class AsyncDriver:
    """Runs plans under asyncio with one pooled ``httpx.AsyncClient``.

    Same arguments as :class:`SyncDriver`, except ``transport`` is an
    ``httpx.AsyncBaseTransport`` (tests pass ``httpx.MockTransport``) and ``sleep`` is
    an async callable. Blocking effects run in a worker thread. Call :meth:`aclose`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        api_url: str | None = None,
        auth_header: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] | None = None,
        max_connections: int = 50,
    ) -> None:
        self._target = _Target(settings, api_url, auth_header, timeout, retries)
        self._transport = transport
        self._sleep = sleep
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None
        self.api = PrefectAPI(scope=self._target.scope)

    @property
    def base_url(self) -> str:
        return self._target.root

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._target.timeout),
                limits=httpx.Limits(
                    max_connections=self._max_connections, max_keepalive_connections=self._max_connections
                ),
                # settings are read once at the edge; no proxy or netrc from the environment
                trust_env=False,
            )
        return self._client

    async def run(self, plan: Plan[T]) -> T:
        """Carry out ``plan``'s effects in order and return its value."""
        try:
            effect = next(plan)
            while True:
                try:
                    outcome = await self._do(effect)
                except ResultgateError as exc:
                    effect = plan.throw(exc)
                else:
                    effect = plan.send(outcome)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    async def _do(self, effect: Request | Blocking | Sleep) -> Any:
        import asyncio

        if isinstance(effect, Request):
            return await self.send(effect)
        if isinstance(effect, Blocking):
            return await asyncio.to_thread(effect.fn, *effect.args)
        if isinstance(effect, Sleep):
            await self._wait(effect.seconds)
            return None
        raise TypeError(f"a plan yielded {effect!r}, not a Request, Blocking or Sleep")

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            import asyncio

            await asyncio.sleep(seconds)

    async def send(self, request: Request) -> Response:
        """One request, with retries; returns an accepted response or raises a resultgate error."""
        t = self._target
        url, headers, body = t.url(request), t.headers_for(request), t.body(request)
        attempt = 0
        while True:
            outcome = t.decide(request, attempt, await self._attempt(request, url, headers, body))
            if isinstance(outcome, Response):
                return outcome
            await self._wait(outcome)
            attempt += 1

    async def _attempt(
        self, request: Request, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response | ResultgateError:
        """THE seam of the async driver: a response, a retryable error, or a raised final one."""
        import httpx

        t = self._target
        try:
            r = await self._get_client().request(request.method, url, headers=headers, content=body)
            return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        except (httpx.TimeoutException, TimeoutError) as exc:
            return _caused(t.timed_out(request), exc)
        except (httpx.DecodingError, httpx.TooManyRedirects) as exc:
            raise PrefectBadResponse(
                f"the Prefect API at {t.display} sent a response that could not be read "
                f"({type(exc).__name__}) to {request.method} {request.path}"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            raise t.malformed(request, exc) from exc
        except (httpx.HTTPError, httpx.StreamError, OSError) as exc:
            return _caused(t.unreachable(_reason(exc)), exc)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> AsyncDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
