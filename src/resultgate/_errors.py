"""The whole exception tree of resultgate.

Every error carries the CLI exit code and the HTTP status it maps to, so the
command line has one ``except`` and the HTTP app one handler::

    ResultgateError                    1  500  something unexpected
    ├── UsageError                     2  400  bad input: an id, a flag, a query value
    ├── ConfigError                    3  500  settings missing or wrong (e.g. no PREFECT_API_URL)
    ├── NotFound                       4  404  nothing under that id / at that location
    │   ├── IdNotFound                 4  404  no state or run has this id
    │   └── ResultMissing              4  404  the reference points at a file that is not there
    ├── NoPersistedResult              5  409  the state has no persisted result
    ├── ResultExpired                  6  410  the result's expiration has passed
    ├── TooLarge                       7  413  past a size cap (decompressed, rendered, posted)
    ├── UnsupportedSerializer          8  415  a serializer or library name not on the allowlist
    ├── MalformedRecord                9  422  bytes that are not a valid result of their kind
    ├── Refused                       10  403  a path or protocol outside what is allowed
    ├── UpstreamError                 11  502  Prefect or storage failed
    │   ├── PrefectUnreachable        11  502  cannot connect to the Prefect API
    │   ├── PrefectBadResponse        11  502  5xx, or a body that is not the JSON expected
    │   └── StorageError              11  502  the storage backend failed
    ├── UpstreamTimeout               12  504  Prefect or storage did not answer in time
    ├── AuthError                     13  401  Prefect (or the gateway) refused the credentials
    └── MissingExtra                  14  501  an optional backend is not installed

Messages say what happened and what to do next. They never contain secrets and
never contain presentation (HTML, colours).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "ConfigError",
    "IdNotFound",
    "MalformedRecord",
    "MissingExtra",
    "NoPersistedResult",
    "NotFound",
    "PrefectBadResponse",
    "PrefectUnreachable",
    "Refused",
    "ResultExpired",
    "ResultMissing",
    "ResultgateError",
    "StorageError",
    "TooLarge",
    "UnsupportedSerializer",
    "UpstreamError",
    "UpstreamTimeout",
    "UsageError",
]


class ResultgateError(Exception):
    """Root of every error resultgate raises on purpose."""

    exit_code: ClassVar[int] = 1
    status: ClassVar[int] = 500
    #: a short, stable, machine-readable name used in the HTTP error body
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape: ``{"error": {code, status, message, hint, ...}}``."""
        body: dict[str, Any] = {"code": self.code, "status": self.status, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return {"error": body}


class UsageError(ResultgateError):
    exit_code = 2
    status = 400
    code = "bad-request"


class ConfigError(ResultgateError):
    exit_code = 3
    status = 500
    code = "config"


class NotFound(ResultgateError):
    exit_code = 4
    status = 404
    code = "not-found"


class IdNotFound(NotFound):
    code = "id-not-found"


class ResultMissing(NotFound):
    code = "result-missing"


class NoPersistedResult(ResultgateError):
    exit_code = 5
    status = 409
    code = "no-persisted-result"


class ResultExpired(ResultgateError):
    exit_code = 6
    status = 410
    code = "expired"


class TooLarge(ResultgateError):
    exit_code = 7
    status = 413
    code = "too-large"


class UnsupportedSerializer(ResultgateError):
    exit_code = 8
    status = 415
    code = "unsupported-serializer"


class MalformedRecord(ResultgateError):
    exit_code = 9
    status = 422
    code = "malformed-record"


class Refused(ResultgateError):
    exit_code = 10
    status = 403
    code = "refused"


class UpstreamError(ResultgateError):
    exit_code = 11
    status = 502
    code = "upstream"


class PrefectUnreachable(UpstreamError):
    code = "prefect-unreachable"


class PrefectBadResponse(UpstreamError):
    code = "prefect-bad-response"


class StorageError(UpstreamError):
    code = "storage"


class UpstreamTimeout(ResultgateError):
    exit_code = 12
    status = 504
    code = "timeout"


class AuthError(ResultgateError):
    exit_code = 13
    status = 401
    code = "unauthorized"


class MissingExtra(ResultgateError):
    exit_code = 14
    status = 501
    code = "missing-extra"
