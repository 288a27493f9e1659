"""The sans-IO vocabulary: a *plan* is a generator that yields effects and
receives their outcomes; a driver carries them out.

Written once, run two ways: the command line drives plans synchronously (a
stdlib HTTP connection, fast start-up), the HTTP service asynchronously (one
pooled ``httpx.AsyncClient``; blocking work in a worker thread).

    def plan() -> Plan[int]:
        response = yield Request("GET", "/flow_run_states/123")
        size = yield Blocking(len, (response.content,))
        return size
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Blocking", "Plan", "Request", "Response", "Sleep"]

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One call to the Prefect API; ``path`` is relative to the API root (``/api``)."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    #: headers that override the driver's defaults for this call (e.g. a forwarded Authorization)
    headers: Mapping[str, str] | None = None
    #: statuses the plan handles itself (the driver returns them instead of raising)
    accept: frozenset[int] = field(default_factory=lambda: frozenset({200}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.content)


@dataclass(frozen=True)
class Blocking:
    """Work that blocks (storage reads, decoding): run inline, or in a thread under asyncio."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Sleep:
    """Wait (e.g. for a result Prefect writes shortly after its state)."""

    seconds: float


Plan = Generator[Request | Blocking | Sleep, Any, T]
