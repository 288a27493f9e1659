"""Read a pickle without importing or running anything it names.

    >>> safe_loads(pickle.dumps({"a": [1, 2.5, "x"]}))
    {'a': [1, 2.5, 'x']}
    >>> safe_loads(cloudpickle.dumps(Point(1, 2)))     # a class of the user
    <placeholder __main__.Point state={'x': 1, 'y': 2}>

How: a subclass of the C ``pickle.Unpickler`` whose ``find_class`` never imports.
Plain data (str, bytes, int, float, list, dict, tuple, set...) is built by the C
code at ``pickle.loads`` speed. Every global the pickle names resolves to one of:

* a *builder* of ours for an allowlisted plain-data type (``datetime.datetime``,
  ``uuid.UUID``, ``decimal.Decimal``, ``pathlib.PurePosixPath``...): it checks its
  arguments, then builds the real value; odd arguments give a placeholder;
* a :class:`PlaceholderType`: a dynamically made ``type`` whose instances are
  :class:`Placeholder` objects recording what the pickle asked for (arguments,
  state, items). Calling a placeholder only makes another placeholder.

cloudpickle's by-value classes, enums and functions become placeholder types
and placeholders too. The :class:`~resultgate._safety.SafetyCollector` records
what was named, built, left as a placeholder, asked to be called, or stored as
code. Any failure is a :class:`MalformedRecord` or :class:`TooLarge`.

Why each guard exists (for maintainers):

* ``persistent_load`` is never defined, so persistent ids are refused by C.
* EXT opcodes are looked up in ``copyreg``'s registry and then go through
  ``find_class``; if this process registered extensions, the C cache could
  hand back a real object, so we refuse to decode in that case.
* Builders charge a budget proportional to the input, so a pickle cannot
  amplify itself (a memoised 1 MB string passed to ``list()`` 10,000 times).
* Hashing a tuple nested a million deep (a dict key) recurses in C without a
  check and would crash the process; large inputs are therefore decoded in a
  thread whose stack is sized from the input (see :func:`_run_with_big_stack`).

Not guarded here: a dict whose keys are big ints chosen to share one hash
builds in quadratic time inside C (20,000 keys, 380 kB: ~6 s), as it does
with ``pickle.loads``. Only running the decode in a process with a time limit
bounds that.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import collections
import copyreg
import datetime
import decimal
import fractions
import pathlib
import pickle
import re
import reprlib
import threading
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from resultgate._errors import MalformedRecord, ResultgateError, TooLarge
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._safety import SafetyCollector

__all__ = ["Placeholder", "PlaceholderType", "SafetyCollector", "global_name", "safe_loads"]


class _Refuse(ValueError):
    """A builder refuses its arguments (the caller falls back to a placeholder)."""


# --------------------------------------------------------------------------- placeholders


class _Repr(reprlib.Repr):
    """A bounded repr that never descends into placeholders (no recursion)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = 60
        self.maxother = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr_instance(self, x: Any, level: int) -> str:
        if isinstance(x, Placeholder):
            return f"<placeholder {_short(x.qualname)}>"
        if isinstance(x, PlaceholderType):
            return f"<placeholder class {_short(x.qualname)}>"
        try:
            return super().repr_instance(x, level)
        except Exception:
            return f"<{type(x).__name__}>"


_REPR = _Repr()


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Placeholder:
    """An object the data named but we did not build.

    ``qualname`` is the name as the data gave it (``"__main__.Point"``); ``args``
    and ``kwargs`` what it was called or ``__new__``-ed with; ``state`` what BUILD
    gave it; ``items`` and ``setitems`` what was appended / set on it. ``kind`` is
    one of ``"object"``, ``"call"`` (a placeholder was called), ``"class"``,
    ``"function"`` (code by value), ``"exception"``, ``"enum"`` (then
    ``enum_name`` / ``enum_value``) or ``"json-tag"``.

    Placeholders hash by identity, never run anything, and their repr is bounded.
    """

    __slots__ = (
        "__weakref__",
        "args",
        "enum_name",
        "enum_value",
        "items",
        "kind",
        "kwargs",
        "qualname",
        "setitems",
        "state",
    )

    qualname: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: Any
    items: list[Any]
    setitems: list[tuple[Any, Any]]
    kind: str
    enum_name: str | None
    enum_value: Any

    #: the decode this placeholder belongs to (set on the dynamic subclasses)
    _rg_ctx: ClassVar[_Context | None] = None

    def __init__(
        self,
        qualname: str,
        *,
        kind: str = "object",
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        state: Any = None,
        items: list[Any] | None = None,
        setitems: list[tuple[Any, Any]] | None = None,
        enum_name: str | None = None,
        enum_value: Any = None,
    ) -> None:
        _fill(self, qualname, kind, args, kwargs)
        self.state = state
        self.items = items if items is not None else []
        self.setitems = setitems if setitems is not None else []
        self.enum_name = enum_name
        self.enum_value = enum_value

    # what the C unpickler calls on an object it did not build itself
    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        if not isinstance(items, list | tuple):
            raise TypeError("placeholder.extend takes a list")
        ctx = self._rg_ctx
        if ctx is not None:
            ctx.spend(len(items))
        self.items.extend(items)

    def add(self, item: Any) -> None:
        self.items.append(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setitems.append((key, value))

    def __call__(self, *args: Any, **kwargs: Any) -> Placeholder:
        """Calling a placeholder records the call; nothing runs."""
        ctx = self._rg_ctx
        if ctx is not None:
            ctx.collector.note_call(self.qualname)
        return _instance(type(self), self.qualname, "call", args, kwargs)

    def __repr__(self) -> str:
        try:
            return self._repr()
        except Exception:
            return f"<placeholder {_short(self.qualname)}>"

    def _repr(self) -> str:
        parts = [f"<placeholder {_short(self.qualname)}"]
        if self.kind not in ("object",):
            parts.append(f" kind={self.kind}")
        if self.kind == "enum":
            parts.append(f" {_short(str(self.enum_name))}={_REPR.repr(self.enum_value)}")
        if self.args or self.kwargs:
            shown = [_REPR.repr(a) for a in self.args[:6]]
            if len(self.args) > 6:
                shown.append("...")
            shown.extend(f"{_short(str(k), 40)}={_REPR.repr(v)}" for k, v in list(self.kwargs.items())[:6])
            parts.append("(" + ", ".join(shown) + ")")
        if self.state is not None:
            parts.append(f" state={_REPR.repr(self.state)}")
        if self.items:
            parts.append(f" items={len(self.items)}")
        if self.setitems:
            parts.append(f" setitems={len(self.setitems)}")
        return "".join(parts) + ">"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy / deepcopy / pickling a decoded result: a plain Placeholder with the same record
        return _rebuild, (
            self.qualname,
            self.kind,
            self.args,
            self.kwargs,
            self.state,
            self.items,
            self.setitems,
            self.enum_name,
            self.enum_value,
        )


def _rebuild(
    qualname: str,
    kind: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    state: Any,
    items: list[Any],
    setitems: list[tuple[Any, Any]],
    enum_name: str | None,
    enum_value: Any,
) -> Placeholder:
    return Placeholder(
        qualname,
        kind=kind,
        args=args,
        kwargs=kwargs,
        state=state,
        items=items,
        setitems=setitems,
        enum_name=enum_name,
        enum_value=enum_value,
    )


#: names are cut to this length: a memoised long name reused in getattr chains
#: or skeleton classes would otherwise cost its length once per use
_MAX_NAME = 300


def _fill(obj: Placeholder, qualname: str, kind: str, args: Any, kwargs: Any) -> None:
    obj.qualname = _short(qualname, _MAX_NAME)
    obj.kind = kind
    obj.args = tuple(args)
    obj.kwargs = dict(kwargs) if kwargs else {}


def _instance(cls: Any, qualname: str, kind: str, args: Any = (), kwargs: Any = None) -> Placeholder:
    """A new placeholder of ``cls`` without calling anything the data named."""
    obj: Placeholder = object.__new__(cls)
    _fill(obj, qualname, kind, args, kwargs)
    obj.state = None
    obj.items = []
    obj.setitems = []
    obj.enum_name = None
    obj.enum_value = None
    return obj


def _placeholder_new(cls: PlaceholderType, *args: Any, **kwargs: Any) -> Placeholder:
    # NEWOBJ / NEWOBJ_EX / copyreg: ``cls.__new__(cls, *args)`` makes an object
    ctx = cls._rg_ctx
    if ctx is not None:
        ctx.spend(len(args) + len(kwargs))
    return _instance(cls, cls._rg_qualname, cls._rg_instance_kind, args, kwargs)


class PlaceholderType(type):
    """The type of a global we did not import (``find_class`` returns one).

    ``qualname`` is the name the data gave; ``kind`` is ``"object"`` for a
    global named by reference, ``"exception"`` for a built-in exception class,
    ``"class"`` / ``"enum"`` for a class stored by value (cloudpickle), and
    ``"function"`` for the types of code objects. ``bases`` (by-value classes),
    ``state`` (what ``_class_setstate`` gave) and ``members`` (by-value enums:
    name -> value) describe it. Calling it, or its ``__new__``, makes a
    :class:`Placeholder`; an enum's ``EnumCls(value)`` makes a kind ``"enum"``
    placeholder with ``enum_name`` / ``enum_value``.
    """

    _rg_qualname: str
    _rg_kind: str
    _rg_instance_kind: str
    _rg_bases: tuple[Any, ...]
    _rg_state: Any
    _rg_members: dict[str, Any] | None
    _rg_member_cache: dict[str, Placeholder]
    _rg_value_index: dict[tuple[type, Any], str]
    _rg_is_exception: bool
    _rg_ctx: _Context | None

    @property
    def qualname(cls) -> str:
        return cls._rg_qualname

    @property
    def kind(cls) -> str:
        return cls._rg_kind

    @property
    def bases(cls) -> tuple[Any, ...]:
        return cls._rg_bases

    @property
    def state(cls) -> Any:
        return cls._rg_state

    @property
    def members(cls) -> dict[str, Any] | None:
        return cls._rg_members

    @property
    def is_exception(cls) -> bool:
        return cls._rg_is_exception

    @property
    def by_value(cls) -> bool:
        return cls._rg_kind in ("class", "enum")

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = cls._rg_ctx
        if ctx is not None:
            ctx.spend(len(args) + len(kwargs))
        if cls._rg_members is not None and len(args) == 1 and not kwargs:
            member = cls._member_by_value(args[0])
            if member is not None:
                return member
        qualname = cls._rg_qualname
        kind = cls._rg_instance_kind
        if cls._rg_kind == "object" and ctx is not None:
            ctx.collector.note_call(qualname)
            if qualname in _IMPORTERS and args and isinstance(args[0], str):
                # ``__import__('os')``: name the module, so ``getattr(..., 'system')``
                # reads ``os.system`` in the report
                qualname = _short(args[0], 200)
                ctx.collector.note_placeholder(qualname)
        if cls._rg_kind == "function" and ctx is not None:
            ctx.collector.note_code("code", cls._rg_qualname)
        return _instance(cls, qualname, kind, args, kwargs)

    def _member_by_value(cls, value: Any) -> Placeholder | None:
        # an index, so 10k members x 10k look-ups is not 10^8 comparisons
        index = cls._rg_value_index
        if not index and cls._rg_members:
            for member_name, member_value in (cls._rg_members or {}).items():
                try:
                    index.setdefault((type(member_value), member_value), member_name)
                except TypeError:
                    continue  # unhashable member values are never matched
        try:
            found = index.get((type(value), value))
        except TypeError:
            return None
        return cls._member(found) if found is not None else None

    def _member(cls, name: str) -> Placeholder:
        cache = cls._rg_member_cache
        if name not in cache:
            members = cls._rg_members or {}
            obj = _instance(cls, cls._rg_qualname, "enum")
            obj.enum_name = name
            obj.enum_value = members.get(name)
            cache[name] = obj
        return cache[name]

    def __repr__(cls) -> str:
        what = {"class": "class (by value)", "enum": "enum (by value)"}.get(cls._rg_kind, "class")
        return f"<placeholder {what} {_short(cls._rg_qualname)}>"


_IMPORTERS = frozenset({"builtins.__import__", "importlib.import_module", "importlib.__import__"})


def _type_name(qualname: str) -> str:
    last = qualname.rpartition(".")[2]
    return last if last.isidentifier() and len(last) <= 100 else "Placeholder"


def _make_placeholder_type(
    ctx: _Context | None,
    qualname: str,
    kind: str,
    *,
    bases: tuple[Any, ...] = (),
    members: dict[str, Any] | None = None,
    is_exception: bool = False,
) -> PlaceholderType:
    if kind == "exception" or is_exception:
        instance_kind = "exception"
    elif kind == "function":
        instance_kind = "function"
    else:
        instance_kind = "object"
    module, _, name = qualname.rpartition(".")
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": module,
        "__qualname__": name if name else qualname,
        "__new__": _placeholder_new,
        "_rg_qualname": qualname,
        "_rg_kind": kind,
        "_rg_instance_kind": instance_kind,
        "_rg_bases": bases,
        "_rg_state": None,
        "_rg_members": members,
        "_rg_member_cache": {},
        "_rg_value_index": {},
        "_rg_is_exception": is_exception or kind == "exception",
        "_rg_ctx": ctx,
    }
    return PlaceholderType(_type_name(qualname), (Placeholder,), namespace)


# --------------------------------------------------------------------------- one decode


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


# --------------------------------------------------------------------------- builders

_SMALL_SCALARS = (int, float, bool, type(None))
_ITERABLES = (list, tuple, set, frozenset)


def _sized(ctx: _Context, value: Any, kinds: tuple[type, ...] = _ITERABLES) -> Any:
    if not isinstance(value, kinds):
        _refuse(f"{type(value).__name__} is not allowed here")
    sized: Any = value
    ctx.spend(len(sized))
    return sized


def _b_set(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    return set(_sized(ctx, args[0])) if args else set()


def _b_frozenset(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    return frozenset(_sized(ctx, args[0])) if args else frozenset()


def _b_list(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    return list(_sized(ctx, args[0])) if args else []


def _b_tuple(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    return tuple(_sized(ctx, args[0])) if args else ()


def _pairs(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
    if len(args) > 1:
        _refuse("too many arguments")
    pairs: list[tuple[Any, Any]] = []
    if args:
        source = args[0]
        if isinstance(source, dict):
            ctx.spend(len(source))
            pairs.extend(source.items())
        elif isinstance(source, list | tuple):
            ctx.spend(len(source))
            for pair in source:
                if not isinstance(pair, tuple | list) or len(pair) != 2:
                    _refuse("not a list of pairs")
                pairs.append((pair[0], pair[1]))
        else:
            _refuse("not a mapping")
    ctx.spend(len(kwargs))
    pairs.extend(kwargs.items())
    return pairs


def _b_dict(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return dict(_pairs(ctx, args, kwargs))


_TEXT_ENCODINGS = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "utf-8", "utf8", "ascii"})


def _bytes_from(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    _no_kwargs(kwargs)
    if not args:
        return b""
    source = args[0]
    if isinstance(source, bytes | bytearray):
        if len(args) > 1:
            _refuse("extra arguments")
        ctx.spend(len(source))
        return bytes(source)
    if isinstance(source, str):
        if len(args) < 2 or not isinstance(args[1], str) or args[1].lower() not in _TEXT_ENCODINGS:
            _refuse("str without a known encoding")
        ctx.spend(len(source))
        errors = args[2] if len(args) > 2 and isinstance(args[2], str) else "strict"
        if errors not in ("strict", "ignore", "replace"):
            _refuse("unknown error handler")
        return source.encode(args[1], errors)
    if isinstance(source, list | tuple):
        # bytes([1, 2, 3]); never bytes(10**12)
        ctx.spend(len(source))
        if not all(type(b) is int and 0 <= b < 256 for b in source):
            _refuse("not a list of byte values")
        return bytes(source)
    _refuse(f"bytes from {type(source).__name__}")


def _b_bytes(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _bytes_from(ctx, args, kwargs)


def _b_bytearray(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return bytearray(_bytes_from(ctx, args, kwargs))


def _b_codecs_encode(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # protocol 0-2 write bytes as _codecs.encode(str, 'latin1')
    if len(args) == 2 and args[1] == "latin1" and type(args[0]) is str and not kwargs:
        ctx.spend(len(args[0]))
        return args[0].encode("latin1")  # the common case, kept short
    _no_kwargs(kwargs)
    if not args or not isinstance(args[0], str):
        _refuse("encode takes a str")
    encoding = args[1] if len(args) > 1 else "utf-8"
    return _bytes_from(ctx, (args[0], encoding, *args[2:3]), {})


def _b_str(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if not args:
        return ""
    source = args[0]
    if len(args) == 1:
        if isinstance(source, str):
            return str(source)
        if isinstance(source, _SMALL_SCALARS) and not (
            isinstance(source, int) and source.bit_length() > 4096
        ):
            return str(source)
        _refuse(f"str of {type(source).__name__}")
    if isinstance(source, bytes | bytearray) and isinstance(args[1], str):
        if args[1].lower() not in _TEXT_ENCODINGS:
            _refuse("unknown encoding")
        errors = args[2] if len(args) > 2 and isinstance(args[2], str) else "strict"
        if errors not in ("strict", "ignore", "replace", "surrogateescape", "backslashreplace"):
            _refuse("unknown error handler")
        ctx.spend(len(source))
        return str(source, args[1], errors)
    _refuse("str arguments")


def _b_int(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if not args:
        return 0
    source = args[0]
    if len(args) == 1 and isinstance(source, int | float):
        return int(source)
    if isinstance(source, str | bytes | bytearray):
        ctx.spend(len(source))
        if len(args) == 1:
            return int(source)
        if len(args) == 2 and type(args[1]) is int:
            return int(source, args[1])
    _refuse("int arguments")


def _b_float(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if not args:
        return 0.0
    if len(args) == 1 and isinstance(args[0], int | float | str | bytes):
        if isinstance(args[0], str | bytes):
            ctx.spend(len(args[0]))
        return float(args[0])
    _refuse("float arguments")


def _b_bool(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if not args:
        return False
    if len(args) == 1 and isinstance(args[0], _SMALL_SCALARS | str | bytes | list | tuple | dict):
        return bool(args[0])
    _refuse("bool arguments")


def _b_complex(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) == 1 and isinstance(args[0], str):
        ctx.spend(len(args[0]))
        return complex(args[0])
    if len(args) <= 2 and all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
        return complex(*args)
    _refuse("complex arguments")


def _b_slice(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if 1 <= len(args) <= 3 and all(a is None or type(a) is int for a in args):
        return slice(*args)
    _refuse("slice arguments")


_SINGLETON_TYPES: dict[Any, type] = {
    None: type(None),
    NotImplemented: type(NotImplemented),
    Ellipsis: type(Ellipsis),
}


def _b_type(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # pickle writes type(None) as ``builtins.type`` REDUCE (None,)
    _no_kwargs(kwargs)
    if len(args) == 1 and any(args[0] is s for s in _SINGLETON_TYPES):
        return _SINGLETON_TYPES[args[0]]
    _refuse("type() only of None, NotImplemented or Ellipsis")


def _b_getattr(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``getattr(obj, name)`` as protocols < 4 write nested names.

    Never returns a real attribute: only an enum member of a by-value enum, one
    of our own builders (``ZoneInfo._unpickle``), or a placeholder type.
    """
    _no_kwargs(kwargs)
    if len(args) not in (2, 3) or not isinstance(args[1], str):
        _refuse("getattr arguments")
    obj, name = args[0], args[1]
    if isinstance(obj, PlaceholderType):
        if obj._rg_members is not None and name in obj._rg_members:
            return obj._member(name)
        return ctx.placeholder_type(f"{obj._rg_qualname}.{name}")
    if isinstance(obj, Placeholder):
        return ctx.placeholder_type(f"{obj.qualname}.{name}")
    if obj is _UUIDFactory:
        return ctx.placeholder_type(f"uuid.UUID.{name}")
    if isinstance(obj, _Builder):
        nested = _resolve_builder(
            ctx, obj.qualname.rpartition(".")[0], f"{obj.qualname.rpartition('.')[2]}.{name}"
        )
        if nested is not None:
            return nested
        return ctx.placeholder_type(f"{obj.qualname}.{name}")
    owner = obj if isinstance(obj, type) else type(obj)
    return ctx.placeholder_type(f"{owner.__module__}.{owner.__qualname__}.{name}")


# datetime --------------------------------------------------------------------------


_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]{1,64}(?:/[A-Za-z0-9_+\-]{1,64}){0,4}")


def zone(key: Any) -> Any:
    """A ``zoneinfo.ZoneInfo`` for a checked key (``Europe/Paris``), or refuse."""
    if not isinstance(key, str) or not _ZONE_KEY.fullmatch(key) or ".." in key:
        _refuse("time zone key")
    import zoneinfo  # stdlib; imported only when a time zone is met

    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _Refuse(f"unknown time zone {key!r}") from exc


def _b_zoneinfo_unpickle(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) != 2 or args[1] not in (0, 1):
        _refuse("ZoneInfo._unpickle arguments")
    return zone(args[0])


def _b_zoneinfo(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) != 1:
        _refuse("ZoneInfo arguments")
    return zone(args[0])


# numbers -------------------------------------------------------------------------

_MAX_BITS = 1 << 16  # Fraction() runs gcd: keep its operands small
_FRACTION_TEXT = re.compile(r"\s*[+-]?(\d+(/\d+)?|\d*\.\d+|\d+\.)([eE][+-]?\d{1,4})?\s*")


def _b_decimal(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) != 1:
        _refuse("Decimal arguments")
    value = args[0]
    if isinstance(value, str):
        ctx.spend(len(value))
        return decimal.Decimal(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return decimal.Decimal(value)
    if isinstance(value, tuple) and len(value) == 3:
        sign, digits, exponent = value
        if sign not in (0, 1) or not isinstance(digits, tuple) or not isinstance(exponent, int | str):
            _refuse("Decimal tuple")
        ctx.spend(len(digits))
        if not all(type(d) is int and 0 <= d <= 9 for d in digits):
            _refuse("Decimal digits")
        as_tuple: Any = (sign, digits, exponent)
        return decimal.Decimal(as_tuple)
    _refuse("Decimal arguments")


def _b_fraction(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) == 1 and isinstance(args[0], str):
        # Fraction('1e99999999') would compute 10**99999999
        if len(args[0]) > 4096 or not _FRACTION_TEXT.fullmatch(args[0]):
            _refuse("Fraction text")
        return fractions.Fraction(args[0])
    if 1 <= len(args) <= 2 and all(type(a) is int for a in args):
        if any(a.bit_length() > _MAX_BITS for a in args) or (len(args) == 2 and args[1] == 0):
            _refuse("Fraction operands")
        return fractions.Fraction(*args)
    _refuse("Fraction arguments")


# collections ---------------------------------------------------------------------


def _b_ordereddict(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return collections.OrderedDict(_pairs(ctx, args, kwargs))


def _b_counter(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return collections.Counter(dict(_pairs(ctx, args, kwargs)))


def _b_deque(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) > 2:
        _refuse("deque arguments")
    items = _sized(ctx, args[0]) if args else ()
    maxlen = args[1] if len(args) > 1 else None
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        _refuse("deque maxlen")
    return collections.deque(items, maxlen)


# what a defaultdict may use to make missing values (the real type)
_FACTORIES: dict[str, Any] = {
    "builtins.list": list,
    "builtins.dict": dict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.tuple": tuple,
    "builtins.int": int,
    "builtins.float": float,
    "builtins.str": str,
    "builtins.bytes": bytes,
    "builtins.bool": bool,
    "builtins.complex": complex,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "collections.deque": collections.deque,
    "collections.defaultdict": collections.defaultdict,
    "decimal.Decimal": decimal.Decimal,
    "fractions.Fraction": fractions.Fraction,
}


def _b_defaultdict(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    factory: Any = None
    if args:
        given = args[0]
        if given is not None:
            if not isinstance(given, _Builder) or given.qualname not in _FACTORIES:
                _refuse("defaultdict factory is not allowlisted")
            factory = _FACTORIES[given.qualname]
    return collections.defaultdict(factory, _pairs(ctx, args[1:], kwargs))


# pathlib -------------------------------------------------------------------------


def _path_builder(pure: type[pathlib.PurePath], concrete: type[pathlib.PurePath] | None) -> _BuildFn:
    def build(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _no_kwargs(kwargs)
        ctx.spend(len(args))
        if not all(isinstance(a, str) for a in args):
            _refuse("path parts must be str")
        if concrete is not None:
            try:
                return concrete(*args)
            except NotImplementedError:
                pass  # WindowsPath on POSIX (or the reverse): the pure flavour
        return pure(*args)

    return build


# uuid ----------------------------------------------------------------------------


class _PendingUUID(uuid.UUID):
    """A ``uuid.UUID`` made by NEWOBJ, waiting for BUILD; becomes a real UUID."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not set(state) <= {"int", "is_safe"}:
            raise _Refuse("uuid.UUID state is not {'int': ...}")
        value = state.get("int")
        if type(value) is not int or not 0 <= value < 1 << 128:
            raise _Refuse("uuid.UUID state holds no 128-bit int")
        is_safe = state.get("is_safe")
        if is_safe not in (0, -1, None):
            raise _Refuse("uuid.UUID is_safe is not -1, 0 or None")
        object.__setattr__(self, "int", value)
        object.__setattr__(self, "is_safe", uuid.SafeUUID(is_safe))
        object.__setattr__(self, "__class__", uuid.UUID)

    def __repr__(self) -> str:
        return "<uuid.UUID without state>"

    __str__ = __repr__


class _Frozen(type):
    """A class no pickle can change (BUILD's slot state would ``setattr`` on it)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise _Refuse(f"cannot set {name!r} on {cls.__name__}")

    def __delattr__(cls, name: str) -> None:
        raise _Refuse(f"cannot delete {name!r} from {cls.__name__}")


class _UUIDFactory(metaclass=_Frozen):
    """``uuid.UUID`` as a pickle names it: NEWOBJ makes a :class:`_PendingUUID`."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            return object.__new__(_PendingUUID)
        hex_value = args[0] if len(args) == 1 and not kwargs else kwargs.get("hex")
        if isinstance(hex_value, str) and len(hex_value) <= 64 and len(args) + len(kwargs) == 1:
            return uuid.UUID(hex_value)
        raise _Refuse("uuid.UUID arguments")


def _b_safeuuid(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) == 1 and args[0] in (0, -1, None):
        return uuid.SafeUUID(args[0])
    _refuse("SafeUUID value")


# copyreg -------------------------------------------------------------------------


def _new_of(ctx: _Context, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``cls.__new__(cls, *args)`` for the kinds of ``cls`` we hand out."""
    if isinstance(cls, PlaceholderType):
        return _placeholder_new(cls, *args, **kwargs)
    if cls is _UUIDFactory:
        return _UUIDFactory.__new__(_UUIDFactory, *args, **kwargs)
    if isinstance(cls, _Builder):
        return cls(*args, **kwargs)
    if cls is object and not args and not kwargs:
        return object()
    _refuse("cannot make an object of that class")


def _b_reconstructor(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # protocols 0-1: copyreg._reconstructor(cls, base, state)
    _no_kwargs(kwargs)
    if len(args) != 3:
        _refuse("_reconstructor arguments")
    cls, base, state = args
    if base is object:
        return _new_of(ctx, cls, (), {})
    if isinstance(cls, PlaceholderType):
        # a subclass of a built-in (dict, list, int...): keep the base's value
        return _placeholder_new(cls, state)
    _refuse("_reconstructor of a built-in subclass")


def _b_newobj(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if not args:
        _refuse("__newobj__ without a class")
    return _new_of(ctx, args[0], args[1:], {})


def _b_newobj_ex(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _no_kwargs(kwargs)
    if len(args) != 3 or not isinstance(args[1], tuple) or not isinstance(args[2], dict):
        _refuse("__newobj_ex__ arguments")
    if not all(isinstance(k, str) for k in args[2]):
        _refuse("__newobj_ex__ keywords")
    return _new_of(ctx, args[0], args[1], args[2])


# cloudpickle ---------------------------------------------------------------------


def _is_exception_class(value: Any) -> bool:
    return isinstance(value, PlaceholderType) and value._rg_is_exception


def _b_make_skeleton_class(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # _make_skeleton_class(type_constructor, name, bases, type_kwargs, tracker_id, extra)
    name = args[1] if len(args) > 1 and isinstance(args[1], str) else "?"
    bases = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    type_kwargs = args[3] if len(args) > 3 and isinstance(args[3], dict) else {}
    module = type_kwargs.get("__module__")
    qualname = f"{module}.{name}" if isinstance(module, str) else name
    made = ctx.placeholder_type(
        qualname, "class", bases=bases, is_exception=any(_is_exception_class(b) for b in bases)
    )
    ctx.code.append(("class", made))
    return made


def _b_make_skeleton_enum(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # _make_skeleton_enum(bases, name, qualname, members, module, tracker_id, extra)
    bases = args[0] if args and isinstance(args[0], tuple) else ()
    qual = args[2] if len(args) > 2 and isinstance(args[2], str) else "?"
    members = args[3] if len(args) > 3 and isinstance(args[3], dict) else {}
    module = args[4] if len(args) > 4 and isinstance(args[4], str) else None
    qualname = f"{module}.{qual}" if module else qual
    ctx.spend(len(members))
    names = {str(k): v for k, v in members.items()}
    made = ctx.placeholder_type(qualname, "enum", bases=bases, members=names)
    ctx.code.append(("class", made))
    return made


def _b_class_setstate(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 2 or not isinstance(args[0], PlaceholderType):
        _refuse("_class_setstate of something we did not make")
    cls, state = args
    cls._rg_state = state
    return cls


def _b_make_function(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # _make_function(code, globals, name, argdefs, closure)
    name = args[2] if len(args) > 2 and isinstance(args[2], str) else "?"
    base_globals = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    module = base_globals.get("__name__")
    qualname = f"{module}.{name}" if isinstance(module, str) else name
    cls = ctx.placeholder_type("types.FunctionType", "function")
    obj = _instance(cls, qualname, "function", args, kwargs)
    ctx.note_function(obj)
    return obj


def _b_function_setstate(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 2 or not isinstance(args[0], Placeholder):
        _refuse("_function_setstate of something we did not make")
    obj, state = args
    obj.state = state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        slots = state[1]
        qual, module = slots.get("__qualname__"), slots.get("__module__")
        if isinstance(qual, str):
            obj.qualname = _short(f"{module}.{qual}" if isinstance(module, str) else qual, _MAX_NAME)
    return obj


def _b_builtin_type(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    name = args[0] if len(args) == 1 and isinstance(args[0], str) else "?"
    return ctx.placeholder_type(f"types.{name}", "function")


def _b_subimport(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # a module a by-value function uses: named, never imported
    name = args[0] if args and isinstance(args[0], str) else "?"
    cls = ctx.placeholder_type(f"module {_short(name, 200)}")
    return _instance(cls, name, "object", args)


def _b_make_cell(ctx: _Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    cls = ctx.placeholder_type("types.CellType")
    return _instance(cls, "types.CellType", "object", args)


# --------------------------------------------------------------------------- the tables

_BUILDERS: dict[tuple[str, str], _BuildFn] = {
    ("builtins", "set"): _b_set,
    ("builtins", "frozenset"): _b_frozenset,
    ("builtins", "list"): _b_list,
    ("builtins", "tuple"): _b_tuple,
    ("builtins", "dict"): _b_dict,
    ("builtins", "bytes"): _b_bytes,
    ("builtins", "bytearray"): _b_bytearray,
    ("builtins", "str"): _b_str,
    ("builtins", "int"): _b_int,
    ("builtins", "float"): _b_float,
    ("builtins", "bool"): _b_bool,
    ("builtins", "complex"): _b_complex,
    ("builtins", "slice"): _b_slice,
    ("builtins", "type"): _b_type,
    ("builtins", "getattr"): _b_getattr,
    ("_codecs", "encode"): _b_codecs_encode,
    ("codecs", "encode"): _b_codecs_encode,
    ("zoneinfo", "ZoneInfo"): _b_zoneinfo,
    ("zoneinfo", "ZoneInfo._unpickle"): _b_zoneinfo_unpickle,
    ("zoneinfo._zoneinfo", "ZoneInfo"): _b_zoneinfo,
    ("zoneinfo._zoneinfo", "ZoneInfo._unpickle"): _b_zoneinfo_unpickle,
    ("decimal", "Decimal"): _b_decimal,
    ("_decimal", "Decimal"): _b_decimal,
    ("_pydecimal", "Decimal"): _b_decimal,
    ("fractions", "Fraction"): _b_fraction,
    ("collections", "OrderedDict"): _b_ordereddict,
    ("collections", "Counter"): _b_counter,
    ("collections", "deque"): _b_deque,
    ("collections", "defaultdict"): _b_defaultdict,
    ("uuid", "SafeUUID"): _b_safeuuid,
    ("copyreg", "_reconstructor"): _b_reconstructor,
    ("copyreg", "__newobj__"): _b_newobj,
    ("copyreg", "__newobj_ex__"): _b_newobj_ex,
}

for _module in ("pathlib", "pathlib._local"):
    for _pure, _concrete in (
        (pathlib.PurePosixPath, None),
        (pathlib.PureWindowsPath, None),
        (pathlib.PurePosixPath, pathlib.PosixPath),
        (pathlib.PureWindowsPath, pathlib.WindowsPath),
    ):
        _name = (_concrete or _pure).__name__
        _BUILDERS[(_module, _name)] = _path_builder(_pure, _concrete)
    _BUILDERS[(_module, "PurePath")] = _path_builder(pathlib.PurePath, None)
    _BUILDERS[(_module, "Path")] = _path_builder(pathlib.PurePath, pathlib.Path)

_CLOUDPICKLE_MODULES = frozenset({"cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast", "cloudpickle"})
_CLOUDPICKLE: dict[str, _BuildFn] = {
    "_make_skeleton_class": _b_make_skeleton_class,
    "_make_skeleton_enum": _b_make_skeleton_enum,
    "_class_setstate": _b_class_setstate,
    "_enum_setstate": _b_class_setstate,
    "_make_function": _b_make_function,
    "_function_setstate": _b_function_setstate,
    "_builtin_type": _b_builtin_type,
    "subimport": _b_subimport,
    "dynamic_subimport": _b_subimport,
    "_make_cell": _b_make_cell,
    "_make_empty_cell": _b_make_cell,
}

#: globals that are values, not callables
_VALUES: dict[tuple[str, str], Any] = {
    ("builtins", "Ellipsis"): Ellipsis,
    ("builtins", "NotImplemented"): NotImplemented,
    ("builtins", "object"): object,
    # The datetime types are C types whose constructors check every argument
    # (ranges, a real tzinfo, the 10-byte pickle state) and build fixed-size
    # values: handing out the real types keeps datetime-heavy results at
    # pickle.loads speed. They are immutable, so BUILD cannot change them.
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "date"): datetime.date,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
}


def _fix_name(module: str, name: str) -> tuple[str, str]:
    """Python 2 names (``__builtin__.set``, ``copy_reg``) as protocols 0-2 may write them."""
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        return mapped
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _resolve_builder(ctx: _Context, module: str, name: str) -> Any:
    """Our own object for an allowlisted (module, name), else None."""
    key = (module, name)
    if key in _VALUES:
        return _VALUES[key]
    if key == ("uuid", "UUID"):
        return _UUIDFactory
    fn = _BUILDERS.get(key)
    if fn is None and module in _CLOUDPICKLE_MODULES:
        fn = _CLOUDPICKLE.get(name)
    if fn is None:
        return None
    qualname = f"{module}.{name}"
    builder = ctx.builders.get(qualname)
    if builder is None:
        builder = ctx.builders[qualname] = _Builder(ctx, qualname, fn)
    return builder


def global_name(value: Any) -> str | None:
    """The ``module.Name`` a decoded value stands for when it is a class, not an object.

    A pickle can hold a class itself (``{"kind": int}``, or a by-value class from
    cloudpickle). Those come back as a :class:`PlaceholderType` or as one of our
    builders, never as the real class; renderers show them by this name:

        >>> global_name(safe_loads(pickle.dumps(int)))
        'builtins.int'
        >>> global_name(42) is None
        True
    """
    if isinstance(value, PlaceholderType):
        return value.qualname
    if isinstance(value, _Builder):
        return value.qualname
    if value is _UUIDFactory:
        return "uuid.UUID"
    return None


def _builtin_exception(module: str, name: str) -> bool:
    if module != "builtins":
        return False
    # a look-up in the builtins module's dict: nothing is imported or called
    found = vars(builtins).get(name)
    return isinstance(found, type) and issubclass(found, BaseException)


# --------------------------------------------------------------------------- the unpickler


class _SafeUnpickler(pickle.Unpickler):
    """The C unpickler with a ``find_class`` that never imports."""

    def __init__(self, source: _Source, ctx: _Context) -> None:
        # _Source hands out memoryviews, which the C unpickler accepts as it does bytes
        super().__init__(source)  # type: ignore[arg-type]
        self._ctx = ctx

    def find_class(self, module: str, name: str) -> Any:
        ctx = self._ctx
        module, name = _fix_name(module, name)
        qualname = f"{module}.{name}"
        ctx.collector.note_named(qualname)
        found = _resolve_builder(ctx, module, name)
        if found is not None:
            ctx.collector.note_built(qualname)
            return found
        if _builtin_exception(module, name):
            return ctx.placeholder_type(qualname, "exception")
        return ctx.placeholder_type(qualname)


class _Source:
    """A zero-copy file over the input for the C unpickler.

    ``peek`` hands over the whole rest at once, so the C code reads from our
    buffer as ``pickle.loads`` does (no per-opcode ``read`` calls for unframed
    protocols 0-2, no copy of large strings). A read past the end returns what
    is left, so a declared length beyond the input is "truncated", not an
    allocation.
    """

    __slots__ = ("_data", "_pos", "_view")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._view = memoryview(data)
        self._pos = 0

    def peek(self, size: int = 0) -> memoryview:
        return self._view[self._pos :]

    def read(self, size: int = -1) -> memoryview:
        start = self._pos
        end = len(self._data) if size is None or size < 0 else min(len(self._data), start + size)
        self._pos = end
        return self._view[start:end]

    def readinto(self, buffer: Any) -> int:
        start = self._pos
        n = min(len(buffer), len(self._data) - start)
        buffer[:n] = self._view[start : start + n]
        self._pos = start + n
        return n

    def readline(self, size: int = -1) -> memoryview:
        start = self._pos
        end = self._data.find(b"\n", start)
        end = len(self._data) if end < 0 else end + 1
        self._pos = end
        return self._view[start:end]


# --------------------------------------------------------------------------- entry point

#: inputs up to this size are decoded on the caller's stack: tuples in them nest
#: at most this deep, and hashing that needs under 1 MiB of C stack (even a
#: worker thread's)
_INLINE_BYTES = 8 * 1024
#: C stack one level of nested-tuple hashing may need (measured ~50 on x86-64)
_STACK_PER_LEVEL = 128
_STACK_LOCK = threading.Lock()


def safe_loads(
    data: bytes,
    *,
    limits: Limits = DEFAULT_LIMITS,
    collector: SafetyCollector | None = None,
) -> Any:
    """Unpickle ``data`` without importing or calling anything it names.

        >>> safe_loads(pickle.dumps([1, "a", {"b": 2.5}]))
        [1, 'a', {'b': 2.5}]

    Classes we do not allowlist come back as :class:`Placeholder` objects;
    ``collector`` (if given) records what the pickle named and did. Raises
    :class:`MalformedRecord` for anything that is not a valid pickle and
    :class:`TooLarge` for sizes beyond the input or the limits.
    """
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise MalformedRecord(f"expected the bytes of a pickle, got {type(data).__name__}")
    if not data:
        raise MalformedRecord("not a pickle: the data is empty")
    if len(data) > limits.max_decompressed_bytes:
        raise TooLarge(
            f"the pickle is {len(data)} bytes, over the limit of {limits.max_decompressed_bytes}",
            hint="raise max_decompressed_bytes if you trust it",
        )
    if copyreg._inverted_registry or copyreg._extension_cache:  # type: ignore[attr-defined]
        # the C unpickler would consult a process-wide cache of real objects
        raise MalformedRecord(
            "refusing to unpickle: this process registered copyreg extension codes",
            hint="decode in a process that does not call copyreg.add_extension",
        )
    ctx = _Context(collector if collector is not None else SafetyCollector(), len(data))
    try:
        if len(data) <= _INLINE_BYTES:
            return _load(data, ctx)
        return _run_with_big_stack(data, ctx)
    finally:
        ctx.finish()


def _load(data: bytes, ctx: _Context) -> Any:
    try:
        return _SafeUnpickler(_Source(data), ctx).load()
    except ResultgateError:
        raise
    except _Refuse as exc:
        raise MalformedRecord(f"not a valid pickle: {exc}") from None
    except MemoryError:
        raise TooLarge("the pickle declares a value larger than memory allows") from None
    except OverflowError as exc:
        text = _message(exc)
        if "exceeds" in text or "size" in text:  # a declared length (BINBYTES8 ...)
            raise TooLarge(f"the pickle declares a value too large to build: {text}") from None
        raise MalformedRecord(f"not a valid pickle: a number out of range: {text}") from None
    except RecursionError:
        raise MalformedRecord("not a valid pickle: it is nested too deeply") from None
    except EOFError:
        raise MalformedRecord("pickle data is truncated (it ends before its STOP opcode)") from None
    except pickle.UnpicklingError as exc:
        text = _message(exc)
        if "truncated" in text:
            raise MalformedRecord("pickle data is truncated") from None
        raise MalformedRecord(f"not a pickle: {text}") from None
    except Exception as exc:
        raise MalformedRecord(f"not a valid pickle: {type(exc).__name__}: {_message(exc)}") from None


def _message(exc: BaseException) -> str:
    """A bounded text for an exception whose message may hold pickle data."""
    if isinstance(exc, KeyError | LookupError) and not isinstance(exc, UnicodeError):
        return type(exc).__name__
    try:
        text = str(exc)
    except Exception:
        return type(exc).__name__
    return _short(text, 200)


def _tuple_depth_bound(data: bytes) -> int:
    """An upper bound on how deep tuples in ``data`` can nest.

    Every level needs a TUPLE1/2/3 opcode, or a MARK and a TUPLE; counting those
    bytes anywhere in the input over-counts, which is safe.
    """
    short = data.count(b"\x85") + data.count(b"\x86") + data.count(b"\x87")
    return short + min(data.count(b"t"), data.count(b"("))


def _run_with_big_stack(data: bytes, ctx: _Context) -> Any:
    """Decode on a thread whose C stack can hash the deepest tuple ``data`` can hold.

    Hashing a nested tuple (a dict key, a set member) recurses in C with no
    depth check; a one-megabyte pickle can nest a million deep and crash the
    process. Each nesting level takes at least one opcode byte, so ``len(data)``
    bounds the depth. Thread stacks are reserved, not committed: only the pages
    a deep hash actually touches are used. If the system will not reserve that
    much, a tighter bound is counted from the bytes and tried once more.
    """
    try:
        return _run_on_stack(data, ctx, len(data))
    except _NoStack:
        pass
    try:
        return _run_on_stack(data, ctx, _tuple_depth_bound(data))
    except _NoStack as exc:
        raise TooLarge(
            "not enough memory to reserve a stack for decoding this pickle safely",
            hint="its tuples may nest too deeply to hash",
        ) from exc.__cause__


class _NoStack(Exception):
    """The thread (with its stack) could not be started."""


def _run_on_stack(data: bytes, ctx: _Context, levels: int) -> Any:
    size = levels * _STACK_PER_LEVEL + 16 * 1024 * 1024
    size = (size + 0xFFFF) & ~0xFFFF
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, _load(data, ctx)))
        except BaseException as exc:  # carried to the caller's thread
            outcome.append((False, exc))

    with _STACK_LOCK:
        try:
            previous = threading.stack_size(size)
        except (ValueError, OverflowError) as exc:
            raise _NoStack from exc
        try:
            worker = threading.Thread(target=work, name="resultgate-unpickle", daemon=True)
            worker.start()
        except (RuntimeError, MemoryError) as exc:
            raise _NoStack from exc
        finally:
            threading.stack_size(previous)
    worker.join()
    ok, value = outcome[0]
    if ok:
        return value
    raise value
