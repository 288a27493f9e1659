"""Placeholders: what the data named but we did not build, and the types that make them."""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from resultgate._decode.safepickle.context import _Context


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

# pickles of placeholders name it where it has always lived (the package re-exports it)
_rebuild.__module__ = "resultgate._decode.safepickle"

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
