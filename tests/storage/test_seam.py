"""The storage error seam, driven through fsspec's in-process ``memory://`` file system.

Whatever the backend raises, callers see a resultgate error, never the upstream one.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from storage_helpers import SECRET, make_block

from resultgate._errors import (
    Refused,
    ResultgateError,
    ResultMissing,
    StorageError,
    TooLarge,
    UpstreamTimeout,
)
from resultgate._model import Reference
from resultgate._storage import StoragePolicy, iter_bytes, locate, read_bytes, size

MEM = StoragePolicy(allowed_protocols=frozenset({"memory"}))


@pytest.fixture
def mem() -> Iterator[MemoryFileSystem]:
    fs = fsspec.filesystem("memory")
    fs.pipe("/bkt/folder/abc", b"payload bytes")
    yield fs
    fs.rm("/bkt", recursive=True)


def _loc(key: str = "abc", policy: StoragePolicy = MEM) -> Any:
    block = make_block("remote-file-system", {"basepath": "memory://bkt/folder", "settings": {}})
    return locate(Reference("prefect3", key, "bid", None), block, policy)


def test_memory_protocol_reads_when_the_operator_allows_it(mem: MemoryFileSystem) -> None:
    loc = _loc()
    assert read_bytes(loc, MEM) == b"payload bytes"
    assert size(loc, MEM) == 13
    assert b"".join(iter_bytes(loc, MEM, chunk_size=4)) == b"payload bytes"
    with pytest.raises(TooLarge):
        read_bytes(loc, MEM, max_bytes=12)


def test_memory_protocol_is_refused_by_default(mem: MemoryFileSystem) -> None:
    with pytest.raises(Refused, match="memory:// protocol is not allowed"):
        _loc(policy=StoragePolicy())
    with pytest.raises(Refused):  # a location made under one policy is checked again under another
        read_bytes(_loc(), StoragePolicy())


def test_missing_object(mem: MemoryFileSystem) -> None:
    with pytest.raises(ResultMissing, match="memory://bkt/folder/nope"):
        read_bytes(_loc("nope"), MEM)


class ReadTimeoutError(Exception):
    """Named like botocore's: the seam recognises timeouts by class name."""


class DeadlineExceeded(Exception):
    """Named like google.api_core's."""


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotFoundError(2, "gone"), ResultMissing),
        (PermissionError(13, "AccessDenied"), StorageError),
        (TimeoutError("slow"), UpstreamTimeout),
        (asyncio.TimeoutError(), UpstreamTimeout),
        (ReadTimeoutError("Read timeout on endpoint URL"), UpstreamTimeout),
        (DeadlineExceeded("504"), UpstreamTimeout),
        (OSError(5, "I/O error"), StorageError),
        (ValueError("bad"), StorageError),
        (RuntimeError("backend bug"), StorageError),
        (KeyError("x"), StorageError),
        (ConnectionResetError(104, "reset"), StorageError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
@pytest.mark.parametrize("where", ["_open", "size"])
def test_every_upstream_exception_is_translated(
    mem: MemoryFileSystem, monkeypatch: pytest.MonkeyPatch, exc: Exception, expected: type, where: str
) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise exc

    monkeypatch.setattr(MemoryFileSystem, where, boom)
    loc = _loc()
    calls: list[Callable[[], object]] = [lambda: read_bytes(loc, MEM, max_bytes=100), lambda: size(loc, MEM)]
    if where == "_open":
        calls = [lambda: read_bytes(loc, MEM), lambda: iter_bytes(loc, MEM)]
    for call in calls:
        with pytest.raises(ResultgateError) as info:
            call()
        assert type(info.value) is expected
        assert info.value.__cause__ is exc


def test_an_error_while_streaming_is_translated(
    mem: MemoryFileSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = iter_bytes(_loc(), MEM, chunk_size=4)
    assert next(chunks) == b"payl"

    def boom(self: Any, *a: Any) -> bytes:
        raise OSError(5, "connection dropped")

    monkeypatch.setattr(type(chunks.gi_frame.f_locals["f"]), "read", boom)  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match="connection dropped"):
        next(chunks)


def test_an_upstream_message_with_a_secret_is_scrubbed(
    mem: MemoryFileSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = StoragePolicy(
        allowed_protocols=frozenset({"memory"}), storage_options={"memory://": {"password": SECRET}}
    )

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError(f"login failed for password={SECRET}")

    monkeypatch.setattr(MemoryFileSystem, "_open", boom)
    loc = _loc(policy=policy)
    assert loc.options == {"password": SECRET}
    with pytest.raises(StorageError) as info:
        read_bytes(loc, policy)
    text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value))
    assert SECRET not in text
    assert "password=***" in info.value.message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
