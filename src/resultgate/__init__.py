"""resultgate: from a Prefect state or run id to the value it returned, safely.

    >>> import resultgate
    >>> result = resultgate.decode_record(open("result-file", "rb").read())
    >>> result.text()
    'hello world'

Nothing named in a pickle is imported or called: classes that are not plain data
come back as :class:`Placeholder` objects, and every decode has a safety report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resultgate._errors import (
    AuthError,
    ConfigError,
    IdNotFound,
    MalformedRecord,
    MissingExtra,
    NoPersistedResult,
    NotFound,
    PrefectBadResponse,
    PrefectUnreachable,
    Refused,
    ResultExpired,
    ResultgateError,
    ResultMissing,
    StorageError,
    TooLarge,
    UnsupportedSerializer,
    UpstreamError,
    UpstreamTimeout,
    UsageError,
)
from resultgate._limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from resultgate._decode.safepickle import Placeholder
    from resultgate._result import Result, decode_record
    from resultgate._safety import SafetyReport
    from resultgate._service import fetch_result

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "AuthError",
    "ConfigError",
    "IdNotFound",
    "Limits",
    "MalformedRecord",
    "MissingExtra",
    "NoPersistedResult",
    "NotFound",
    "Placeholder",
    "PrefectBadResponse",
    "PrefectUnreachable",
    "Refused",
    "Result",
    "ResultExpired",
    "ResultMissing",
    "ResultgateError",
    "SafetyReport",
    "StorageError",
    "TooLarge",
    "UnsupportedSerializer",
    "UpstreamError",
    "UpstreamTimeout",
    "UsageError",
    "__version__",
    "decode_record",
    "fetch_result",
]

# Heavier parts load on first use, so `import resultgate` stays light.
_LAZY = {
    "Placeholder": "resultgate._decode.safepickle",
    "Result": "resultgate._result",
    "decode_record": "resultgate._result",
    "SafetyReport": "resultgate._safety",
    "fetch_result": "resultgate._service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'resultgate' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
