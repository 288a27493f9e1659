"""Prometheus metrics of one app: requests by route and status, latency, cache use,
errors by code.

Each app has its own registry (several apps in one process do not collide). With
``--workers N`` each worker process counts its own requests; scrape each worker
or run one worker per replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE", "GatewayMetrics", "MetricsMiddleware"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _CacheCollector:
    """Reads the service's cache statistics at scrape time."""

    def __init__(self, stats: Callable[[], Any]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        hits = CounterMetricFamily("resultgate_cache_hits", "Decoded results served from the cache")
        hits.add_metric([], float(getattr(stats, "hits", 0)))
        misses = CounterMetricFamily("resultgate_cache_misses", "Decoded results not found in the cache")
        misses.add_metric([], float(getattr(stats, "misses", 0)))
        size = GaugeMetricFamily("resultgate_cache_bytes", "Estimated bytes held by the result cache")
        size.add_metric([], float(getattr(stats, "bytes", 0)))
        entries = GaugeMetricFamily("resultgate_cache_entries", "Results held by the cache")
        entries.add_metric([], float(getattr(stats, "entries", 0)))
        yield from (hits, misses, size, entries)


class GatewayMetrics:
    """The counters and histograms of one app, in a registry of its own."""

    def __init__(self, cache_stats: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "resultgate_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "resultgate_http_request_duration_seconds",
            "Time from a request's arrival to the last byte of its response",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "resultgate_errors",
            "Errors answered, by error code (decode errors: malformed-record, "
            "unsupported-serializer, too-large, ...)",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(_CacheCollector(cache_stats))

    def count_error(self, code: str) -> None:
        self.errors.labels(code=code).inc()

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


def route_label(scope: Scope) -> str:
    """A bounded label: the route's template, never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    raw = str(scope.get("path", ""))
    return "unmatched" if raw.startswith("/api/") or raw == "/api" else "static"


class MetricsMiddleware:
    """Pure ASGI (it does not buffer streamed bodies): counts and times each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_label(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(route=route, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=route, method=method).observe(time.perf_counter() - start)
