"""The one seam where storage exceptions become resultgate errors.

``FileNotFoundError`` → :class:`ResultMissing`; a permission error → :class:`Refused`
(local: this machine's OS said no) or :class:`StorageError` (remote: the store's
credentials said no); anything that names itself a timeout → :class:`UpstreamTimeout`;
every other exception (OSError, botocore, azure, google) → :class:`StorageError`.

Messages carry the display path and the exception's type, and its text only after
every secret of the location's options is blanked out; when a secret had to be
blanked the upstream exception is not chained either (its text would carry it).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from resultgate._errors import (
    Refused,
    ResultgateError,
    ResultMissing,
    StorageError,
    UpstreamTimeout,
)
from resultgate._storage._policy import Location

__all__ = ["is_timeout", "reraise", "scrub", "secrets_of", "translate"]


def secrets_of(options: Mapping[str, Any]) -> Iterator[str]:
    """Every string in ``options`` that could be a secret (long enough to matter)."""
    for value in options.values():
        if isinstance(value, str) and len(value) >= 4:
            yield value
            if ";" in value:  # connection strings: their parts too
                yield from (p.split("=", 1)[1] for p in value.split(";") if "=" in p and len(p) > 8)
        elif isinstance(value, Mapping):
            yield from secrets_of(value)


def scrub(text: str, options: Mapping[str, Any]) -> str:
    for secret in sorted(set(secrets_of(options)), key=len, reverse=True):
        if secret and not secret.startswith(("http://", "https://")):
            text = text.replace(secret, "***")
    return text


def is_timeout(exc: BaseException) -> bool:
    """True for TimeoutError and botocore/aiohttp/azure/google timeouts (by class name,
    so no backend is imported to ask)."""
    if isinstance(exc, TimeoutError):
        return True
    names = [c.__name__.lower() for c in type(exc).__mro__]
    return any("timeout" in n or n == "deadlineexceeded" for n in names)


def translate(exc: BaseException, loc: Location) -> ResultgateError:
    """The resultgate error for ``exc`` raised while reading ``loc``.

    Use :func:`reraise` in an ``except`` block; it chains only clean exceptions.
    """
    if isinstance(exc, ResultgateError):
        return exc
    raw = str(exc)
    text = scrub(raw, loc.options)[:500]
    leaked = text != raw[:500]
    err: ResultgateError
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        err = ResultMissing(f"no result file at {loc.display}", hint=_missing_hint(loc))
    elif isinstance(exc, PermissionError):
        if loc.protocol == "file":
            err = Refused(
                f"this machine refused to read {loc.display}: permission denied",
                hint="run as a user that can read the result storage",
            )
        else:
            err = StorageError(
                f"the storage refused access to {loc.display}: {type(exc).__name__}",
                hint="check the credentials in the storage block or the storage options",
            )
    elif is_timeout(exc):
        err = UpstreamTimeout(f"reading {loc.display} timed out ({type(exc).__name__})")
    else:
        detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        err = StorageError(f"reading {loc.display} failed: {detail}")
    if leaked:
        err.details["scrubbed"] = True
    return err


def reraise(exc: BaseException, loc: Location) -> NoReturn:
    """Raise :func:`translate` of ``exc``, chained to it unless its text held a secret."""
    err = translate(exc, loc)
    if err is exc:
        raise err
    if not err.details.get("scrubbed"):
        raise err from exc
    try:
        raise err from None
    finally:
        err.__context__ = None  # not even the implicit context may keep the secret


def _missing_hint(loc: Location) -> str:
    if loc.protocol == "file":
        parent = posixpath.dirname(loc.path)
        return (
            "the key may be a path on the machine that ran the flow; if the results are "
            f"elsewhere here, map them with --map {parent}=DIR (and check that the result "
            "was persisted and not deleted)"
        )
    return "check the bucket, the folder and the credentials of the storage block (was it deleted?)"
