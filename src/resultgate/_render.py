"""Turn a decoded value into JSON, text or a Python-like repr, within the limits.

The JSON form follows Prefect's JSON serializer, so a value that was pickled and
the same value written by ``result_serializer="json"`` render alike: native JSON
as is, tuples as lists, anything else ``{"__class__": "module.Name", "data": ...}``
and exceptions ``{"__exc_type__": ..., "message": ..., "args": [...]}``.

Every walk is iterative (a 200 000-deep value never raises RecursionError) and
counted: each visited value (a shared reference counts each time it is reached)
and the size of the output. ``strict=True`` raises :class:`TooLarge` past a cap;
``strict=False`` returns a preview cut with :data:`TRUNCATED` markers.

    >>> to_jsonable((1, {2}), limits=DEFAULT_LIMITS, strict=True)
    ([1, {'__class__': 'builtins.set', 'data': [2]}], False)
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from resultgate._decode.safepickle import Placeholder, PlaceholderType
from resultgate._errors import TooLarge
from resultgate._limits import DEFAULT_LIMITS, Limits

__all__ = ["TRUNCATED", "qualname_of", "to_jsonable", "to_repr", "to_text"]

#: the marker a preview puts where it cut something
TRUNCATED = "…(truncated)"
_DEPTH_MARK = "…(nested too deep)"
#: above this many bits an int is written in hex: Python refuses to print ints past 4300 digits
_INT_BITS = 14_000


class _Stop(Exception):
    """A preview ran out of room: unwind, keep what was built."""


class _Budget:
    """Counts items and output bytes; raises (strict) or stops (preview) past the caps."""

    def __init__(self, limits: Limits, strict: bool) -> None:
        self.strict = strict
        self.max_items = limits.max_render_items
        self.max_bytes = (
            limits.max_render_bytes if strict else min(limits.preview_bytes, limits.max_render_bytes)
        )
        self.max_depth = limits.max_depth
        self.items = 0
        self.bytes = 0
        self.truncated = False

    def item(self, size: int) -> None:
        self.items += 1
        self.bytes += size
        self.check()

    def check(self) -> None:
        if self.items > self.max_items:
            self._over(f"{self.max_items} values", "raise Limits.max_render_items")
        if self.bytes > self.max_bytes:
            self._over(f"{self.max_bytes} bytes", "raise Limits.max_render_bytes")

    def room(self) -> int:
        return max(self.max_bytes - self.bytes, 0)

    def too_deep(self) -> None:
        if self.strict:
            raise TooLarge(
                f"the value is nested deeper than {self.max_depth} levels and cannot be rendered",
                hint="use --format raw for the stored bytes",
            )
        self.truncated = True

    def _over(self, what: str, knob: str) -> None:
        self.truncated = True
        if self.strict:
            raise TooLarge(f"the rendering would exceed {what}", hint=f"use --format raw or {knob}")
        raise _Stop


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


# --- JSON ---------------------------------------------------------------------------------------


def to_jsonable(value: Any, *, limits: Limits = DEFAULT_LIMITS, strict: bool) -> tuple[Any, bool]:
    """``(rendering, truncated)``: a JSON-ready form of ``value`` (see the module doc)."""
    budget = _Budget(limits, strict)
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


_PLAIN = frozenset({bool, type(None)})
_BIG_INT = 1 << _INT_BITS
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


def _cut_str(text: str, budget: _Budget, extra: int = 2) -> str:
    """In a preview, as much of ``text`` as still fits, marked."""
    if budget.strict or len(text) + extra <= budget.room():
        return text
    budget.truncated = True
    return text[: max(budget.room() - len(TRUNCATED) - extra, 0)] + TRUNCATED


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


# --- text ---------------------------------------------------------------------------------------


def to_text(value: Any, *, limits: Limits = DEFAULT_LIMITS, strict: bool) -> tuple[str, bool]:
    """``(text, truncated)``: a str result as itself, anything else as indented JSON."""
    budget = _Budget(limits, strict)
    if isinstance(value, str):
        if len(value) <= budget.max_bytes:
            return value, False
        if strict:
            budget.item(len(value))
        return value[: budget.max_bytes] + TRUNCATED, True
    rendering, truncated = to_jsonable(value, limits=limits, strict=strict)
    return json.dumps(rendering, ensure_ascii=False, indent=2), truncated


# --- repr ---------------------------------------------------------------------------------------


def to_repr(value: Any, *, limits: Limits = DEFAULT_LIMITS, strict: bool) -> tuple[str, bool]:
    """``(text, truncated)``: a readable Python-like repr; placeholders show as ``<placeholder ...>``."""
    budget = _Budget(limits, strict)
    pieces: list[str] = []
    # a frame: (pieces and children still to emit, depth)
    frames: list[tuple[Iterator[str | _Child], int]] = [(iter([_Child(value)]), 0)]
    try:
        while frames:
            parts, depth = frames[-1]
            descended = False
            for nxt in parts:
                if isinstance(nxt, str):
                    budget.bytes += len(nxt)
                    pieces.append(nxt)
                    continue
                child = nxt.value
                kind = type(child)
                if (
                    kind in _PLAIN
                    or kind is float
                    or (kind is int and -_BIG_INT < child < _BIG_INT)
                    or (kind is str and (budget.strict or len(child) + 4 <= budget.room()))
                ):  # the common leaves inline: the hot path
                    text = repr(child)
                    budget.items += 1
                    budget.bytes += len(text)
                    if budget.items > budget.max_items or budget.bytes > budget.max_bytes:
                        budget.check()
                    pieces.append(text)
                    continue
                if (kind is dict or kind is list or kind is tuple) and depth < budget.max_depth:
                    flat = _flat_repr(child, budget)
                    if flat is not None:
                        pieces.append(flat)
                        continue
                text, parts_of_child = _repr_node(child, budget)
                if parts_of_child is not None and depth >= budget.max_depth:
                    budget.too_deep()
                    text, parts_of_child = "...", None
                if parts_of_child is None:
                    pieces.append(text)
                else:
                    frames.append((parts_of_child, depth + 1))
                    descended = True
                    break
            if not descended:
                frames.pop()
    except _Stop:
        pieces.append(TRUNCATED)
    return "".join(pieces), budget.truncated


_FLAT_MAX = 256


def _flat_repr(value: dict[Any, Any] | list[Any] | tuple[Any, ...], budget: _Budget) -> str | None:
    """The builtin repr of a small container of plain leaves (the common case, done in C), or None."""
    if len(value) > _FLAT_MAX:
        return None
    leaves: Iterable[Any] = itertools.chain.from_iterable(value.items()) if type(value) is dict else value
    count = 1
    for leaf in leaves:
        kind = type(leaf)
        if not (
            kind in _PLAIN or kind is str or kind is float or (kind is int and -_BIG_INT < leaf < _BIG_INT)
        ):
            return None
        count += 1
    text = repr(value)
    if not budget.strict and len(text) > budget.room():
        return None  # the item-by-item path cuts it where the room ends
    budget.items += count
    budget.bytes += len(text)
    budget.check()
    return text


class _Child:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _seq(open_: str, items: Any, close: str, single_comma: bool = False) -> Iterator[str | _Child]:
    yield open_
    count = 0
    for count, item in enumerate(items, 1):
        if count > 1:
            yield ", "
        yield _Child(item)
    if single_comma and count == 1:
        yield ","
    yield close


def _pairs(open_: str, pairs: Any, sep: str, close: str, key_repr: bool = True) -> Iterator[str | _Child]:
    yield open_
    for count, (key, item) in enumerate(pairs):
        if count:
            yield ", "
        if key_repr:
            yield _Child(key)
        else:
            yield str(key)
        yield sep
        yield _Child(item)
    yield close


def _repr_node(value: Any, budget: _Budget) -> tuple[str, Iterator[str | _Child] | None]:
    if isinstance(value, str):
        cut = _cut_str(value, budget, extra=4)
        text = repr(cut) if cut is value else repr(cut[: -len(TRUNCATED)]) + TRUNCATED
        budget.item(len(text))
        return text, None
    if isinstance(value, Placeholder):
        budget.item(len(value.qualname) + 16)
        return "", _placeholder_parts(value)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        budget.item(2)
        if isinstance(value, list):
            return "", _seq("[", value, "]")
        if isinstance(value, tuple):
            return "", _seq("(", value, ")", single_comma=True)
        if isinstance(value, dict):
            return "", _pairs("{", value.items(), ": ", "}")
        if not value:
            return f"{type(value).__name__}()", None
        if isinstance(value, frozenset):
            return "", _seq("frozenset({", value, "})")
        return "", _seq("{", value, "}")
    if isinstance(value, int) and type(value) is int and value.bit_length() > _INT_BITS:
        text = f"<int of {value.bit_length()} bits>"
    elif isinstance(value, (type(None), bool, int, float, complex, bytes, bytearray)) or _converter(value):
        text = repr(value)  # plain stdlib values the decoders built: their repr is safe
    elif isinstance(value, PlaceholderType):
        text = f"<placeholder class {value.qualname}>"
    elif isinstance(value, type):
        text = f"<class {_class_name(value)}>"
    else:
        text = f"<{qualname_of(value)}>"
    text = _cut_str(text, budget, extra=0)
    budget.item(len(text))
    return text, None


def _placeholder_parts(value: Placeholder) -> Iterator[str | _Child]:
    name = value.qualname
    if value.kind == "exception" and name.startswith("builtins."):
        yield from _seq(name.removeprefix("builtins.") + "(", value.args, ")")
        return
    if value.kind == "enum":
        yield f"<{name}.{getattr(value, 'enum_name', '?')}: "
        yield _Child(getattr(value, "enum_value", None))
        yield ">"
        return
    if value.kind in ("class", "function"):
        yield f"<placeholder {value.kind} {name}>"
        return
    yield f"<placeholder {name}"
    data = placeholder_data(value)
    if isinstance(data, dict) and all(isinstance(k, str) and k.isidentifier() for k in data):
        yield from _pairs("(", data.items(), "=", ")", key_repr=False)
    elif isinstance(data, list):
        yield from _seq("(", data, ")")
    else:
        yield from _seq("(", [data], ")")
    yield ">"
