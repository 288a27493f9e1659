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

from resultgate._prefect.aio import AsyncDriver
from resultgate._prefect.api import API_VERSION, MAX_RETRY_AFTER, PrefectAPI, check_id
from resultgate._prefect.retry import retry_delay
from resultgate._prefect.sync import HTTPConnectionTransport, SyncDriver, SyncTransport

__all__ = [
    "API_VERSION",
    "MAX_RETRY_AFTER",
    "AsyncDriver",
    "HTTPConnectionTransport",
    "PrefectAPI",
    "SyncDriver",
    "SyncTransport",
    "check_id",
    "retry_delay",
]
