"""Builders for allowlisted standard-library types: zoneinfo, numbers, collections, pathlib, uuid, copyreg."""

from __future__ import annotations

import collections
import decimal
import fractions
import pathlib
import re
import uuid
from typing import Any

from resultgate._decode.safepickle.builders import _pairs, _sized
from resultgate._decode.safepickle.context import _Builder, _BuildFn, _Context, _no_kwargs, _Refuse, _refuse
from resultgate._decode.safepickle.placeholders import PlaceholderType, _placeholder_new

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
