"""cloudpickle's by-value classes, enums and functions, as placeholder types and placeholders."""

from __future__ import annotations

from typing import Any

from resultgate._decode.safepickle.context import _BuildFn, _Context, _refuse
from resultgate._decode.safepickle.placeholders import (
    _MAX_NAME,
    Placeholder,
    PlaceholderType,
    _instance,
    _short,
)


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
