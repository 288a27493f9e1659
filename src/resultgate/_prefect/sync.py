"""The synchronous driver: the standard library's http.client, for a fast start-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from resultgate._errors import ResultgateError
from resultgate._plan import Blocking, Plan, Request, Response, Sleep
from resultgate._prefect.api import PrefectAPI
from resultgate._prefect.retry import _Target

if TYPE_CHECKING:
    import http.client

    from resultgate._config import Settings


T = TypeVar("T")


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
