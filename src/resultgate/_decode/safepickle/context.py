"""One decode: its budget, its placeholder types, and the builder contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from resultgate._decode.safepickle.placeholders import (
    _MAX_NAME,
    Placeholder,
    PlaceholderType,
    _instance,
    _make_placeholder_type,
    _short,
)
from resultgate._errors import ResultgateError, TooLarge
from resultgate._safety import SafetyCollector


class _Refuse(ValueError):
    """A builder refuses its arguments (the caller falls back to a placeholder)."""


class _Context:
    """State of one decode: the collector, the budget, the placeholder types."""

    def __init__(self, collector: SafetyCollector, size: int) -> None:
        self.collector = collector
        # builders may copy at most about twice what the input holds
        self.budget = 2 * size + 65_536
        # a class costs about a kilobyte: allow one per 64 bytes of input (and 1024 free)
        self.types_left = 1024 + size // 64
        self.types: dict[tuple[str, str], PlaceholderType] = {}
        self.builders: dict[str, _Builder] = {}
        self.code: list[tuple[str, Any]] = []
        self.made: list[PlaceholderType] = []

    def spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise TooLarge(
                "the pickle builds far more than its size holds (shared references copied "
                "over and over); refusing it",
                hint="this looks like a pickle bomb",
            )

    def placeholder_type(
        self, qualname: str, kind: str = "object", *, bases: tuple[Any, ...] = (), **extra: Any
    ) -> PlaceholderType:
        qualname = _short(qualname, _MAX_NAME)
        key = (qualname, kind)
        # by-value classes are never shared: each skeleton is its own class
        if kind in ("object", "exception", "function") and key in self.types:
            return self.types[key]
        self.types_left -= 1
        if self.types_left < 0:
            raise TooLarge("the pickle names too many distinct classes for its size; refusing it")
        made = _make_placeholder_type(self, qualname, kind, bases=bases, **extra)
        self.made.append(made)
        if kind in ("object", "exception", "function"):
            self.types[key] = made
        self.collector.note_placeholder(qualname, exception=made._rg_is_exception)
        return made

    def fallback(self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Placeholder:
        """What a builder returns for arguments it will not build from."""
        cls = self.placeholder_type(qualname)
        return _instance(cls, qualname, "object", args, kwargs)

    def note_function(self, obj: Placeholder) -> None:
        self.code.append(("function", obj))

    def finish(self) -> None:
        """Write what is only final at the end (function names) and let go."""
        for kind, obj in self.code:
            self.collector.note_code(kind, obj.qualname)
        self.code.clear()
        for made in self.made:
            made._rg_ctx = None
        self.made.clear()
        self.types.clear()
        self.builders.clear()


class _Builder:
    """An allowlisted global: calling it checks the arguments, then builds."""

    __slots__ = ("_ctx", "_fn", "qualname")

    def __init__(self, ctx: _Context, qualname: str, fn: _BuildFn) -> None:
        self._ctx = ctx
        self._fn = fn
        self.qualname = qualname

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._fn(self._ctx, args, kwargs)
        except (ResultgateError, RecursionError, MemoryError):
            raise
        except Exception:
            return self._ctx.fallback(self.qualname, args, kwargs)

    def __setstate__(self, state: Any) -> None:
        # BUILD with slot state would otherwise setattr our own fields
        raise _Refuse(f"cannot set state on {self.qualname}")

    def __repr__(self) -> str:
        return f"<{self.qualname}>"


_BuildFn = Callable[[_Context, tuple[Any, ...], dict[str, Any]], Any]


def _refuse(what: str) -> NoReturn:
    raise _Refuse(what)


def _no_kwargs(kwargs: dict[str, Any]) -> None:
    if kwargs:
        _refuse("keyword arguments")
