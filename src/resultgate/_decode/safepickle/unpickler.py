"""The C unpickler with a ``find_class`` that never imports, and ``safe_loads`` around it."""

from __future__ import annotations

import copyreg
import pickle
import threading
from typing import Any

from resultgate._decode.safepickle.allowlist import _builtin_exception, _fix_name, _resolve_builder
from resultgate._decode.safepickle.context import _Context, _Refuse
from resultgate._decode.safepickle.placeholders import _short
from resultgate._errors import MalformedRecord, ResultgateError, TooLarge
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._safety import SafetyCollector


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
