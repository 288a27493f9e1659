"""What both drivers share: the target (URLs, headers), the retry decision, the error seam."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from resultgate._errors import (
    AuthError,
    ConfigError,
    NotFound,
    PrefectBadResponse,
    PrefectUnreachable,
    ResultgateError,
    UpstreamTimeout,
)
from resultgate._plan import Request, Response
from resultgate._prefect.api import _AUTH_HINT, API_VERSION, BACKOFF_BASE, BACKOFF_CAP, MAX_RETRY_AFTER

if TYPE_CHECKING:
    from resultgate._config import Settings


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
