"""The JSON form: Prefect's JSON serializer's shapes for any decoded value."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import math
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from resultgate._decode.safepickle import Placeholder, PlaceholderType
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._render.budget import _BIG_INT, _INT_BITS, _PLAIN, TRUNCATED, _Budget, _cut_str, _Stop

_DEPTH_MARK = "…(nested too deep)"


def qualname_of(value: Any) -> str:
    """``module.QualName`` of a value's type, or the name a placeholder stands for."""
    if isinstance(value, Placeholder):
        return str(value.qualname)
    if isinstance(value, PlaceholderType):  # a class the data named: its type is a class's type
        return "builtins.type"
    return _class_name(type(value))


def _class_name(cls: type) -> str:
    if isinstance(cls, PlaceholderType):
        return str(cls.qualname)
    return f"{cls.__module__}.{cls.__qualname__}"


def to_jsonable(value: Any, *, limits: Limits = DEFAULT_LIMITS, strict: bool) -> tuple[Any, bool]:
    """``(rendering, truncated)``: a JSON-ready form of ``value`` (see the module doc)."""
    budget = _Budget(limits, strict)
    if _plain_fits(value, budget):
        # already plain JSON within every cap: the value is its own rendering (no copy)
        return value, False
    root: list[Any] = []
    # a frame: (children to visit, where each goes, whether it is a list, depth of the children);
    # a list's children are values, a dict's are (key, value) pairs
    frames: list[tuple[Iterator[Any], Any, bool, int]] = [(iter((value,)), root, True, 0)]
    try:
        while frames:
            children, target, is_list, depth = frames[-1]
            indent = 2 * depth + 1  # a line and its indent when shown as indented text
            descended = False
            for entry in children:
                key, child = (None, entry) if is_list else entry
                kind = type(child)
                # the common leaves inline: this loop is the hot path of every rendering
                if (
                    kind in _PLAIN
                    or (kind is int and -_BIG_INT < child < _BIG_INT)
                    or (kind is float and child - child == 0)
                ):
                    budget.items += 1
                    budget.bytes += indent + 8
                    out = child
                elif kind is str and (strict or len(child) + indent + 2 <= budget.room()):
                    budget.items += 1
                    budget.bytes += indent + len(child) + 2
                    out = child
                else:
                    container: Any
                    budget.bytes += indent
                    if kind is list or kind is tuple:
                        budget.items += 1
                        budget.bytes += 2
                        out, container, grandchildren, grand_is_list = None, [], iter(child), True
                    else:
                        out, container, grandchildren, grand_is_list = _json_node(child, budget)
                    if container is not None and depth >= budget.max_depth:
                        budget.too_deep()
                        out, container = _DEPTH_MARK, None
                    if container is not None:
                        out = container
                        frames.append((grandchildren, container, grand_is_list, depth + 1))
                        descended = True
                if budget.items > budget.max_items or budget.bytes > budget.max_bytes:
                    budget.check()
                if is_list:
                    target.append(out)
                else:
                    target[key] = out
                if descended:
                    break
            if not descended:
                frames.pop()
    except _Stop:
        for _, target, is_list, _ in frames:
            if is_list:
                target.append(TRUNCATED)
            else:
                target["…"] = TRUNCATED
    return root[0] if root else TRUNCATED, budget.truncated


def _plain_fits(value: Any, budget: _Budget) -> bool:
    """True when ``value`` is plain JSON (exact dicts with str keys, lists, str, bool, None,
    ordinary ints, finite floats) that the walk below would render unchanged and within
    the caps. It counts items, bytes and depth exactly as the walk does, so it never
    accepts what the walk would refuse; anything else (a tuple, a tag, a placeholder, a
    cap reached) answers False and the walk decides. Leaves are counted in place; only
    containers go on the stack, which is what makes it several times faster than the walk.
    """
    max_items, max_bytes, max_depth = budget.max_items, budget.max_bytes, budget.max_depth
    items = nbytes = 0
    stack: list[tuple[Any, int]] = [([value], -1)]  # a pseudo-list holding the root
    while stack:
        container, depth = stack.pop()
        depth += 1  # the depth of the container's children
        indent = 2 * depth + 1
        children = container if type(container) is list else container.values()
        if type(container) is dict:
            for key in container:
                if type(key) is not str:
                    return False
        for child in children:
            kind = type(child)
            if kind is str:
                nbytes += indent + len(child) + 2
            elif kind is int:
                if not -_BIG_INT < child < _BIG_INT:
                    return False
                nbytes += indent + 8
            elif kind is float:
                if child - child != 0:
                    return False
                nbytes += indent + 8
            elif kind is bool or child is None:
                nbytes += indent + 8
            elif kind is list or kind is dict:
                if depth >= max_depth:
                    return False
                nbytes += indent + 2
                stack.append((child, depth))
            else:
                return False
            items += 1
        if items > max_items or nbytes > max_bytes:
            return False
    return True


#: (leaf, container, its children, whether they are list items); container None for a leaf
_Node = tuple[Any, Any, Iterator[Any], bool]
_NO_CHILDREN: Iterator[Any] = iter(())


def _leaf(value: Any, budget: _Budget, size: int) -> _Node:
    budget.item(size)
    return value, None, _NO_CHILDREN, True


def _json_node(value: Any, budget: _Budget) -> _Node:
    """``(leaf, None, ...)`` for a finished value, ``(_, container, children, is_list)`` to fill."""
    if value is None or value is True or value is False:
        return _leaf(value, budget, 5)
    if isinstance(value, str):
        text = _cut_str(value, budget)
        return _leaf(text, budget, len(text) + 2)
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        if type(value) is int and value.bit_length() > _INT_BITS:
            return _tagged("builtins.int", hex(value), budget)
        return _leaf(int(value), budget, 8)
    if isinstance(value, float):
        if math.isfinite(value):
            return _leaf(float(value), budget, 12)
        return _tagged("builtins.float", repr(value), budget)
    if isinstance(value, (list, tuple)):
        budget.item(2)
        return None, [], iter(value), True
    if isinstance(value, dict):
        budget.item(2)
        if all(type(k) is str for k in value):
            return None, {}, iter(value.items()), False
        pairs = [[k, v] for k, v in value.items()]
        return None, {"__class__": "builtins.dict"}, iter((("data", pairs),)), False
    if isinstance(value, Placeholder):
        return _placeholder_node(value, budget)
    return _stdlib_node(value, budget)


def _tagged(name: str, data: Any, budget: _Budget) -> _Node:
    budget.item(len(name) + 24)
    return None, {"__class__": name}, iter((("data", data),)), False


def _stdlib_node(value: Any, budget: _Budget) -> _Node:
    name = qualname_of(value)
    converter = _converter(value)
    if converter is not None:
        return _tagged(name, converter(value), budget)
    if isinstance(value, BaseException):
        return _exception_node(name, list(value.args), budget)
    if isinstance(value, (set, frozenset)):
        return _tagged(name, _sorted_if_possible(value), budget)
    if isinstance(value, enum.Enum):
        return _tagged(name, {"name": value.name, "value": value.value}, budget)
    if isinstance(value, type):
        return _tagged("builtins.type", _class_name(value), budget)
    # nothing the decoders build ends here; show the type, never call into the object
    return _tagged(name, f"<{name}>", budget)


def _converter(value: Any) -> Callable[[Any], Any] | None:
    for kind, convert in _CONVERTERS:
        if isinstance(value, kind):
            return convert
    return None


def _iso(value: dt.datetime | dt.time) -> str:
    text = value.isoformat()
    if text.endswith("+00:00"):  # pydantic writes UTC as "Z"; so does Prefect's JSON serializer
        text = text[:-6] + "Z"
    return text


def _duration(value: dt.timedelta) -> str:
    """ISO 8601 duration as pydantic writes it: ``P1DT2H3M4.5S``, negative as ``-P...``."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P"
    if value.days:
        text += f"{value.days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or value.microseconds or not (value.days or hours or minutes):
        frac = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        time += f"{seconds}{frac}S"
    return text + ("T" + time if time else "")


_CONVERTERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (dt.datetime, _iso),
    (dt.date, lambda v: v.isoformat()),
    (dt.time, _iso),
    (dt.timedelta, _duration),
    ((uuid.UUID, Decimal, Fraction, PurePath), str),
    ((bytes, bytearray, memoryview), lambda v: base64.b64encode(bytes(v)).decode("ascii")),
    (complex, lambda v: [v.real, v.imag]),
)


def _sorted_if_possible(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _exception_node(name: str, args: list[Any], budget: _Budget) -> _Node:
    budget.item(len(name) + 40)
    first = args[0] if args else ""
    message = first if isinstance(first, str) else _short_text(first)
    return None, {"__exc_type__": name, "message": message}, iter((("args", args),)), False


def _short_text(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    return f"<{qualname_of(value)}>"


def placeholder_data(value: Placeholder) -> Any:
    """What a placeholder holds, the way Prefect's JSON encoder would have shown the object."""
    state = value.state
    if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
        merged: dict[Any, Any] = {}
        for part in state:
            merged.update(part or {})
        state = merged
    if isinstance(state, dict) and isinstance(state.get("__dict__"), dict):
        state = state["__dict__"]  # pydantic v2 models pickle their fields under __dict__
    if state is not None:
        return state
    if value.setitems:
        return dict(value.setitems) if _hashable_keys(value.setitems) else [list(p) for p in value.setitems]
    if value.items:
        return list(value.items)
    if value.kwargs:
        return {**({"args": list(value.args)} if value.args else {}), **value.kwargs}
    if len(value.args) == 1:
        return value.args[0]
    return list(value.args)


def _hashable_keys(pairs: list[tuple[Any, Any]]) -> bool:
    return all(isinstance(k, str) for k, _ in pairs)


def _placeholder_node(value: Placeholder, budget: _Budget) -> _Node:
    if value.kind == "exception":
        return _exception_node(value.qualname, list(value.args), budget)
    if value.kind == "enum":
        data = {"name": getattr(value, "enum_name", None), "value": getattr(value, "enum_value", None)}
        return _tagged(value.qualname, data, budget)
    if value.kind == "class":
        return _tagged("builtins.type", value.qualname, budget)
    if value.kind == "function":
        return _tagged("builtins.function", value.qualname, budget)
    return _tagged(value.qualname, placeholder_data(value), budget)
