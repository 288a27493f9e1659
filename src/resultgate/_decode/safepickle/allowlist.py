"""What a global the pickle names resolves to: one of our builders, a value, or nothing."""

from __future__ import annotations

import _compat_pickle
import builtins
import datetime
import pathlib
from typing import Any

from resultgate._decode.safepickle.builders import (
    _b_bool,
    _b_bytearray,
    _b_bytes,
    _b_codecs_encode,
    _b_complex,
    _b_dict,
    _b_float,
    _b_frozenset,
    _b_int,
    _b_list,
    _b_set,
    _b_slice,
    _b_str,
    _b_tuple,
    _b_type,
)
from resultgate._decode.safepickle.cloudpickle import _CLOUDPICKLE, _CLOUDPICKLE_MODULES
from resultgate._decode.safepickle.context import _Builder, _BuildFn, _Context, _no_kwargs, _refuse
from resultgate._decode.safepickle.placeholders import Placeholder, PlaceholderType
from resultgate._decode.safepickle.stdlib import (
    _b_counter,
    _b_decimal,
    _b_defaultdict,
    _b_deque,
    _b_fraction,
    _b_newobj,
    _b_newobj_ex,
    _b_ordereddict,
    _b_reconstructor,
    _b_safeuuid,
    _b_zoneinfo,
    _b_zoneinfo_unpickle,
    _path_builder,
    _UUIDFactory,
)


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
