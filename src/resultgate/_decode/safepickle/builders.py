"""Builders for the allowlisted built-in types: check the arguments, then build."""

from __future__ import annotations

from typing import Any

from resultgate._decode.safepickle.context import _Context, _no_kwargs, _refuse

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
