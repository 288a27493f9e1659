"""The repr form: a readable Python-like repr; placeholders show as ``<placeholder ...>``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from resultgate._decode.safepickle import Placeholder, PlaceholderType
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._render.budget import _BIG_INT, _INT_BITS, _PLAIN, TRUNCATED, _Budget, _cut_str, _Stop
from resultgate._render.jsonable import _class_name, _converter, placeholder_data, qualname_of


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
