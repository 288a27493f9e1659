"""The asynchronous driver: one pooled httpx.AsyncClient (imported on first use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from resultgate._errors import (
    PrefectBadResponse,
    ResultgateError,
)
from resultgate._plan import Blocking, Plan, Request, Response, Sleep
from resultgate._prefect.api import PrefectAPI
from resultgate._prefect.retry import _Target
from resultgate._prefect.sync import _caused, _reason

if TYPE_CHECKING:
    import httpx

    from resultgate._config import Settings


T = TypeVar("T")


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
