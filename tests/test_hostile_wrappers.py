"""Hostile inputs in every wrapper: nothing runs, nothing is imported, errors are clean and typed.

Each test that could be fooled into running code checks a marker file that the
payload would create if anything ran.
"""

from __future__ import annotations

import base64
import bz2
import functools
import gzip
import json
import lzma
import os
import pickle
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resultgate import Placeholder, decode_record
from resultgate._errors import MalformedRecord, ResultgateError, TooLarge, UnsupportedSerializer
from resultgate._limits import Limits
from resultgate.cli import main

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lzma": lzma.compress,
    "bz2": bz2.compress,
    "zlib": zlib.compress,
    "gzip": gzip.compress,
}


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "RAN"
    yield path
    assert not path.exists(), "the payload ran"


def evil_pickle(marker: Path) -> bytes:
    """A pickle whose loading would run ``os.system`` (and, nested, ``builtins.exec``)."""

    class Exec:
        def __reduce__(self) -> tuple[Any, ...]:
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    class System:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"a": System(), "b": [Exec()]}, protocol=5)


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def wrappers(core: bytes) -> dict[str, tuple[bytes, Any]]:
    """The same base64 pickle inside every wrapper Prefect writes: (file bytes, serializer to pass)."""
    payload = b64(core).decode()
    cloud = {"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": None}
    out: dict[str, tuple[bytes, Any]] = {
        "raw": (payload.encode(), "pickle"),
        "raw-detected": (payload.encode(), None),
        "binary": (core, "pickle"),
        "prefect3-record": (
            json.dumps({"metadata": {"storage_key": "/x", "serializer": cloud}, "result": payload}).encode(),
            None,
        ),
        "prefect2-blob": (
            json.dumps({"serializer": cloud, "data": payload, "prefect_version": "2.20.27"}).encode(),
            None,
        ),
        "datadocument": (json.dumps({"encoding": "cloudpickle", "blob": payload}).encode(), None),
    }
    for lib, compress in COMPRESS.items():
        compressed = b64(compress(payload.encode()))
        out[f"compressed-{lib}"] = (compressed, {"type": "compressed/pickle", "compressionlib": lib})
        out[f"compressed-{lib}-detected"] = (compressed, None)
        record = {
            "metadata": {"serializer": {"type": "compressed/pickle", "compressionlib": lib}},
            "result": compressed.decode(),
        }
        out[f"prefect3-record-{lib}"] = (json.dumps(record).encode(), None)
    return out


WRAPPER_NAMES = list(wrappers(b"\x80\x05N.").keys())


@pytest.mark.parametrize("wrapper", WRAPPER_NAMES)
def test_malicious_pickle_in_every_wrapper(wrapper: str, marker: Path) -> None:
    data, serializer = wrappers(evil_pickle(marker))[wrapper]
    try:
        result = decode_record(data, serializer)
    except ResultgateError:
        return  # refused cleanly is fine too
    assert isinstance(result.value, dict)
    assert isinstance(result.value["a"], Placeholder)
    named = json.dumps(result.safety.to_dict())
    assert "system" in named
    assert "exec" in named
    assert result.safety.verdict != ""
    result.json()
    result.repr()


@pytest.mark.parametrize("wrapper", ["raw-detected", "prefect2-blob", "compressed-gzip"])
def test_malicious_pickle_through_the_cli(wrapper: str, marker: Path, tmp_path: Path) -> None:
    data, _ = wrappers(evil_pickle(marker))[wrapper]
    path = tmp_path / "result"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["decode", str(path), "--explain", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "system" in result.stderr


# --- library names with import side effects ----------------------------------------------------


@pytest.fixture
def evil_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = "rg_evil_side_effects"
    marker = tmp_path / "IMPORTED"
    (tmp_path / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "def loads(*a, **k): return 'evil'\n"
        "def decompress(*a, **k): return b'evil'\n"
        "def decoder(*a, **k): return 'evil'\n"
        "class Thing:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    assert name not in sys.modules, "the module was imported"
    assert not marker.exists(), "the module was imported"


def pickle_file(value: Any = 1) -> bytes:
    return b64(pickle.dumps(value))


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("picklelib", lambda evil: ({"type": "pickle", "picklelib": evil}, pickle_file())),
        ("jsonlib", lambda evil: ({"type": "json", "jsonlib": evil}, b"[1]")),
        ("object_decoder", lambda evil: ({"type": "json", "object_decoder": f"{evil}.decoder"}, b"[1]")),
        (
            "compressionlib",
            lambda evil: (
                {"type": "compressed/pickle", "compressionlib": evil},
                b64(lzma.compress(pickle_file())),
            ),
        ),
        (
            "inner picklelib",
            lambda evil: (
                {"type": "compressed", "serializer": {"type": "pickle", "picklelib": evil}},
                b64(lzma.compress(pickle_file())),
            ),
        ),
        ("type", lambda evil: ({"type": evil}, pickle_file())),
    ],
)
@pytest.mark.parametrize("where", ["given", "in-record", "in-blob"])
def test_serializer_names_are_never_imported(evil_module: str, field: str, make: Any, where: str) -> None:
    spec, payload = make(evil_module)
    if where == "given":
        data, serializer = payload, spec
    elif where == "in-record":
        data = json.dumps({"metadata": {"serializer": spec}, "result": payload.decode()}).encode()
        serializer = None
    else:
        data = json.dumps({"serializer": spec, "data": payload.decode(), "prefect_version": "2"}).encode()
        serializer = None
    with pytest.raises(UnsupportedSerializer) as info:
        decode_record(data, serializer)
    assert evil_module in info.value.message


def test_object_encoder_is_accepted_but_never_imported(evil_module: str) -> None:
    spec = {"type": "json", "object_encoder": f"{evil_module}.decoder"}
    assert decode_record(b'{"a": 1}', spec).value == {"a": 1}


def test_json_class_tags_are_never_imported(evil_module: str) -> None:
    data = json.dumps(
        {
            "thing": {"__class__": f"{evil_module}.Thing", "data": {"x": 1}},
            "err": {"__exc_type__": f"{evil_module}.Thing", "message": "boom"},
        }
    ).encode()
    result = decode_record(data, "json")
    rendering = result.json()
    assert rendering["thing"] == {"__class__": f"{evil_module}.Thing", "data": {"x": 1}}
    assert rendering["err"]["__exc_type__"] == f"{evil_module}.Thing"
    assert rendering["err"]["message"] == "boom"


def test_pickle_globals_are_never_imported(evil_module: str) -> None:
    # GLOBAL rg_evil_side_effects Thing, EMPTY_TUPLE, NEWOBJ, STOP
    core = b"\x80\x02c" + evil_module.encode() + b"\nThing\n)\x81."
    result = decode_record(b64(core), "pickle")
    assert isinstance(result.value, Placeholder)
    assert result.value_type == f"{evil_module}.Thing"


# --- decompression bombs ---------------------------------------------------------------------------

TEN_GB = 10 << 30
CHUNK = 64 << 20


def zlib_family_bomb(wbits: int) -> bytes:
    """A deflate stream of 10 GB of zeros, made cheaply: full flushes make every 64 MB block alike."""
    co = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"\x00" * CHUNK
    first = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    return first + block * (TEN_GB // CHUNK - 1)  # never finished: a reader must stop at its cap


def stream_bomb(compress: Callable[[bytes], bytes]) -> bytes:
    return compress(b"\x00" * CHUNK) * (TEN_GB // CHUNK)  # concatenated streams, 10 GB in all


@functools.cache
def bomb_payload(lib: str) -> bytes:
    return b64(BOMBS[lib]())


BOMBS: dict[str, Callable[[], bytes]] = {
    "zlib": lambda: zlib_family_bomb(15),
    "gzip": lambda: zlib_family_bomb(31),
    "bz2": lambda: stream_bomb(bz2.compress),
    "lzma": lambda: stream_bomb(lambda d: lzma.compress(d, preset=0)),
}


@pytest.mark.parametrize("kind", ["compressed/pickle", "compressed/json", None])
@pytest.mark.parametrize("lib", sorted(BOMBS))
def test_decompression_bomb_stops_at_the_cap(lib: str, kind: str | None) -> None:
    payload = bomb_payload(lib)
    assert len(payload) < 20 << 20  # "a few MB" for 10 GB
    cap = 32 << 20
    spec = {"type": kind, "compressionlib": lib} if kind else None
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(TooLarge, match=f"larger than {cap} bytes"):
            decode_record(payload, spec, limits=Limits(max_decompressed_bytes=cap))
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 10
    assert peak < 4 * cap + 3 * len(payload)


def test_bomb_in_a_record_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "bomb"
    record = {
        "metadata": {"serializer": {"type": "compressed/pickle", "compressionlib": "bz2"}},
        "result": b64(stream_bomb(bz2.compress)).decode(),
    }
    path.write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["decode", str(path), "--max-decompressed", "16M"])
    assert result.exit_code == TooLarge.exit_code
    assert result.stderr.startswith("resultgate: error: decompressed result is larger than 16777216 bytes")
    assert "Traceback" not in result.stderr


# --- damaged, truncated, empty, garbage ------------------------------------------------------------

GOOD = b64(pickle.dumps({"k": list(range(100))}, protocol=5))


@pytest.mark.parametrize(
    ("data", "serializer"),
    [
        (GOOD[: len(GOOD) // 2], "pickle"),  # truncated base64 (bad padding)
        (b64(pickle.dumps(list(range(100)))[:-20]), "pickle"),  # valid base64, truncated pickle
        (b"this is not base64 at all!", "pickle"),
        (b"", "pickle"),
        (b"", None),
        (b"   \n", None),
        (os.urandom(4096), None),
        (b"\x80\x05" + os.urandom(200), "pickle"),
        (b'{"a": [1, 2', "json"),
        (b"\xff\xfe{}", "json"),
        (b64(lzma.compress(GOOD))[:-40], "compressed/pickle"),
        (b64(b"not compressed"), "compressed/pickle"),
        (b64(gzip.compress(b"not a pickle")), {"type": "compressed/pickle", "compressionlib": "gzip"}),
        (json.dumps({"metadata": {"serializer": {"type": "pickle"}}, "result": "%%%"}).encode(), None),
        (json.dumps({"serializer": {"type": "pickle"}, "data": "gAVLKi4"}).encode(), None),
    ],
)
def test_damaged_inputs_are_clean_typed_errors(data: bytes, serializer: Any) -> None:
    with pytest.raises((MalformedRecord, TooLarge)):
        decode_record(data, serializer)


@pytest.mark.parametrize("data", [b"", os.urandom(1000), b"gAVLKi4", b"\x80\x05\x95"])
def test_damaged_inputs_through_the_cli(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "damaged"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["decode", str(path)])
    assert result.exit_code == MalformedRecord.exit_code
    assert result.stderr.startswith("resultgate: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- renderings that explode or nest too deep -----------------------------------------------------


def shared_explosion_pickle(levels: int = 30) -> bytes:
    value: list[Any] = ["leaf"]
    for _ in range(levels):
        value = [value, value]  # 2**30 leaves when walked, a few hundred bytes pickled
    return pickle.dumps(value, protocol=5)


def test_shared_reference_explosion() -> None:
    data = b64(shared_explosion_pickle())
    assert len(data) < 2000
    limits = Limits(max_render_items=200_000)
    result = decode_record(data, "pickle", limits=limits)
    start = time.perf_counter()
    with pytest.raises(TooLarge, match="rendering would exceed"):
        result.json()
    with pytest.raises(TooLarge):
        result.text()
    with pytest.raises(TooLarge):
        result.repr()
    preview, truncated = result.preview()
    assert truncated is True
    assert len(json.dumps(preview)) <= 2 * limits.preview_bytes
    assert time.perf_counter() - start < 10


@pytest.mark.slow
def test_shared_reference_explosion_through_the_cli(tmp_path: Path) -> None:
    # the CLI renders with the default caps: it walks max_render_items (5 million) values, then stops
    path = tmp_path / "explosion"
    path.write_bytes(b64(shared_explosion_pickle()))
    cli = CliRunner().invoke(main, ["decode", str(path), "--format", "json"])
    assert cli.exit_code == TooLarge.exit_code
    assert "Traceback" not in cli.stderr


DEPTH = 200_000


def deep_pickle() -> bytes:
    # EMPTY_LIST x N, then APPEND x N-1: a list nested N deep, built without recursion
    return b"\x80\x04" + b"]" * DEPTH + b"a" * (DEPTH - 1) + b"."


def deep_json() -> bytes:
    return b"[" * DEPTH + b"]" * DEPTH


@pytest.mark.parametrize(("make", "serializer"), [(deep_pickle, "pickle"), (deep_json, "json")])
def test_200k_deep_through_decode_and_render(make: Callable[[], bytes], serializer: str) -> None:
    data = make()
    if serializer == "pickle":
        data = b64(data)
    try:
        result = decode_record(data, serializer)
    except MalformedRecord:
        return  # refusing the depth while decoding is a clean answer too
    with pytest.raises(TooLarge, match="nested deeper"):
        result.json()
    with pytest.raises(TooLarge, match="nested deeper"):
        result.repr()
    preview, truncated = result.preview()
    assert truncated is True
    json.dumps(preview)


@pytest.mark.parametrize(("make", "serializer"), [(deep_pickle, "pickle"), (deep_json, "json")])
def test_200k_deep_through_the_cli(tmp_path: Path, make: Callable[[], bytes], serializer: str) -> None:
    path = tmp_path / "deep"
    path.write_bytes(b64(make()) if serializer == "pickle" else make())
    result = CliRunner().invoke(main, ["decode", str(path), "-s", serializer])
    assert result.exit_code in (TooLarge.exit_code, MalformedRecord.exit_code)
    assert result.stderr.startswith("resultgate: error: ")
    assert "Traceback" not in result.stderr
