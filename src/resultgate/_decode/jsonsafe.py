"""Read JSON as Prefect's JSON serializer wrote it, without importing anything.

    >>> loads_json(b'{"when": {"__class__": "datetime.date", "data": "2024-02-29"}}')
    {'when': datetime.date(2024, 2, 29)}
    >>> loads_json(b'{"__class__": "mylib.Model", "data": {"a": 1}}')
    <placeholder mylib.Model kind=json-tag state={'a': 1}>

Prefect's object encoder writes what plain JSON cannot hold as
``{"__class__": "module.Name", "data": <jsonable>}`` (pydantic's
``to_jsonable_python`` form of the value) and exceptions as
``{"__exc_type__": "module.Name", "message": str(exc)}``. Prefect's decoder
imports those names; we build the value only for an allowlist of plain types
and return a :class:`~resultgate.Placeholder` for everything else.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime
import decimal
import fractions
import json
import os
import pathlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from resultgate._decode.safepickle import Placeholder, zone
from resultgate._errors import MalformedRecord
from resultgate._safety import SafetyCollector

__all__ = ["loads_json"]


# --------------------------------------------------------------------------- dates and times

_TZ = r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?)?"
_TIME = r"(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
_DATETIME_RE = re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]" + _TIME + ")?" + _TZ)
_TIME_RE = re.compile(_TIME + _TZ)
_DURATION_RE = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<H>\d+(?:\.\d+)?)H)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?"
)


def _tz(text: str | None) -> datetime.tzinfo | None:
    if not text:
        return None
    if text in ("Z", "z"):
        return datetime.timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    seconds = float(digits[4:] or 0)
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds))


def _micro(text: str | None) -> int:
    return int((text or "0")[:6].ljust(6, "0"))


def parse_datetime(text: str) -> datetime.datetime:
    """ISO 8601 as pydantic writes it (``2024-01-02T03:04:05Z``), also on Python 3.10."""
    match = _DATETIME_RE.fullmatch(text)
    if not match:
        raise ValueError(f"not an ISO datetime: {text[:40]!r}")
    g = match.group
    return datetime.datetime(
        int(g("y")),
        int(g("m")),
        int(g("d")),
        int(g("H") or 0),
        int(g("M") or 0),
        int(g("S") or 0),
        _micro(g("f")),
        tzinfo=_tz(g("tz")),
    )


def _date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _time(text: str) -> datetime.time:
    match = _TIME_RE.fullmatch(text)
    if not match:
        raise ValueError(f"not an ISO time: {text[:40]!r}")
    g = match.group
    return datetime.time(int(g("H")), int(g("M")), int(g("S") or 0), _micro(g("f")), tzinfo=_tz(g("tz")))


def _timedelta(data: Any) -> datetime.timedelta:
    if isinstance(data, int | float) and not isinstance(data, bool):
        return datetime.timedelta(seconds=data)
    if not isinstance(data, str) or len(data) > 100:
        raise ValueError("not a duration")
    match = _DURATION_RE.fullmatch(data)
    if not match or data.rstrip("-+") in ("P", "PT") or data.endswith("T"):
        raise ValueError(f"not an ISO duration: {data[:40]!r}")
    g = match.group
    value = datetime.timedelta(
        weeks=float(g("w") or 0),
        days=float(g("d") or 0),
        hours=float(g("H") or 0),
        minutes=float(g("M") or 0),
    )
    seconds = g("S") or "0"
    whole, _, frac = seconds.partition(".")
    value += datetime.timedelta(seconds=int(whole), microseconds=_micro(frac))
    return -value if g("sign") == "-" else value


# --------------------------------------------------------------------------- the allowlist


def _text(data: Any, limit: int = 1 << 30) -> str:
    if not isinstance(data, str) or len(data) > limit:
        raise ValueError("expected text")
    return data


def _bytes(data: Any) -> bytes:
    # pydantic writes bytes as their UTF-8 text; accept {"base64": ...} too
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if isinstance(data, dict) and set(data) == {"base64"} and isinstance(data["base64"], str):
        return base64.b64decode(data["base64"], validate=True)
    raise ValueError("expected text for bytes")


def _members(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise ValueError("expected a list")
    return data


_FRACTION_TEXT = re.compile(r"\s*[+-]?\d{1,4000}(/\d{1,4000})?\s*|\s*[+-]?\d{0,4000}\.\d{1,4000}\s*")


def _fraction(data: Any) -> fractions.Fraction:
    if isinstance(data, int) and not isinstance(data, bool):
        return fractions.Fraction(data)
    if isinstance(data, str) and _FRACTION_TEXT.fullmatch(data):
        return fractions.Fraction(data)
    raise ValueError("not a fraction")


def _decimal(data: Any) -> decimal.Decimal:
    if isinstance(data, str | int | float) and not isinstance(data, bool):
        return decimal.Decimal(data)
    raise ValueError("not a decimal")


def _complex(data: Any) -> complex:
    if isinstance(data, str) and len(data) < 200:
        return complex(data)
    if isinstance(data, list) and len(data) == 2:
        return complex(*data)
    raise ValueError("not a complex number")


def _path(cls: type[pathlib.PurePath]) -> Callable[[Any], Any]:
    def build(data: Any) -> Any:
        return cls(_text(data))

    return build


def _deque(data: Any) -> Any:
    return collections.deque(_members(data))


_BUILDERS: dict[str, Callable[[Any], Any]] = {
    "datetime.datetime": lambda d: parse_datetime(_text(d, 100)),
    "datetime.date": lambda d: _date(_text(d, 100)),
    "datetime.time": lambda d: _time(_text(d, 100)),
    "datetime.timedelta": _timedelta,
    "uuid.UUID": lambda d: uuid.UUID(_text(d, 100)),
    "decimal.Decimal": _decimal,
    "fractions.Fraction": _fraction,
    "builtins.complex": _complex,
    "builtins.set": lambda d: set(_members(d)),
    "builtins.frozenset": lambda d: frozenset(_members(d)),
    "builtins.tuple": lambda d: tuple(_members(d)),
    "builtins.bytes": _bytes,
    "builtins.bytearray": lambda d: bytearray(_bytes(d)),
    "collections.deque": _deque,
    "zoneinfo.ZoneInfo": zone,
}
for _module in ("pathlib", "pathlib._local"):
    _BUILDERS[f"{_module}.PurePosixPath"] = _path(pathlib.PurePosixPath)
    _BUILDERS[f"{_module}.PureWindowsPath"] = _path(pathlib.PureWindowsPath)
    _BUILDERS[f"{_module}.PurePath"] = _path(pathlib.PurePath)
    # a concrete path of the other OS cannot be made here: its pure flavour
    _BUILDERS[f"{_module}.PosixPath"] = _path(pathlib.PosixPath if os.name != "nt" else pathlib.PurePosixPath)
    _BUILDERS[f"{_module}.WindowsPath"] = _path(
        pathlib.WindowsPath if os.name == "nt" else pathlib.PureWindowsPath
    )
    _BUILDERS[f"{_module}.Path"] = _path(pathlib.Path)


# --------------------------------------------------------------------------- decoding


class _Hook:
    """The ``object_pairs_hook``: tagged objects become values or placeholders."""

    def __init__(self, collector: SafetyCollector) -> None:
        self.collector = collector

    def __call__(self, pairs: list[tuple[str, Any]]) -> Any:
        if len(pairs) == 2:
            (k1, v1), (k2, v2) = pairs
            if k1 == "data" and k2 == "__class__":
                k1, v1, k2, v2 = k2, v2, k1, v1
            if k1 == "__class__" and k2 == "data" and isinstance(v1, str):
                return self.tagged(v1, v2)
            if k1 == "message" and k2 == "__exc_type__":
                k1, v1, k2, v2 = k2, v2, k1, v1
            if k1 == "__exc_type__" and k2 == "message" and isinstance(v1, str):
                self.collector.note_named(v1)
                self.collector.note_placeholder(v1, exception=True)
                return Placeholder(v1, kind="exception", args=(v2,))
        return dict(pairs)

    def tagged(self, tag: str, data: Any) -> Any:
        self.collector.note_named(tag)
        build = _BUILDERS.get(tag)
        if build is not None:
            try:
                value = build(data)
            except (ValueError, TypeError, ArithmeticError, OverflowError, binascii.Error):
                pass  # odd data under a known tag: shown as the tag it is
            else:
                self.collector.note_built(tag)
                return value
        self.collector.note_placeholder(tag)
        return Placeholder(tag, kind="json-tag", state=data)


def loads_json(
    text: bytes | str,
    *,
    tagged: bool = True,
    collector: SafetyCollector | None = None,
) -> Any:
    """Parse JSON; with ``tagged`` apply Prefect's ``__class__`` / ``__exc_type__`` tags safely.

        >>> loads_json('{"__exc_type__": "builtins.ValueError", "message": "boom"}')
        <placeholder builtins.ValueError kind=exception('boom')>

    Raises :class:`MalformedRecord` for text that is not JSON (naming line and
    column), is not UTF-8, or nests too deeply.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedRecord(f"not JSON: the bytes are not UTF-8 (at byte {exc.start})") from None
    if not isinstance(text, str):
        raise MalformedRecord(f"expected JSON text, got {type(text).__name__}")
    hook = _Hook(collector if collector is not None else SafetyCollector()) if tagged else None
    try:
        return json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedRecord("not valid JSON here: it is nested too deeply") from None
    except ValueError as exc:
        # e.g. an integer longer than Python's int/str conversion limit
        raise MalformedRecord(f"not valid JSON here: {str(exc)[:200]}") from None
