"""Hostile pickles: each must give a placeholder or a typed error, and run nothing.

Payloads are assembled opcode by opcode (or pickled from objects whose
``__reduce__`` names a dangerous callable); they are never loaded with pickle.
A marker file in tmp_path proves that no command ran.
"""

from __future__ import annotations

import builtins
import copyreg
import os
import pickle
import resource
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from resultgate import MalformedRecord, ResultgateError, TooLarge
from resultgate._decode.jsonsafe import loads_json
from resultgate._decode.safepickle import Placeholder, PlaceholderType, safe_loads
from resultgate._safety import SafetyCollector

pytestmark = pytest.mark.timeout(30)


# --------------------------------------------------------------------------- a tiny assembler


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def glob0(module: str, name: str) -> bytes:
    """GLOBAL (protocols 0-3): ``c module \\n name \\n``."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(text: str) -> bytes:
    """BINUNICODE."""
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def glob4(module: str, name: str) -> bytes:
    """STACK_GLOBAL (protocol 4+)."""
    return ustr(module) + ustr(name) + b"\x93"


TUPLE1, TUPLE2, REDUCE, STOP, MARK, TUPLE, EMPTY_DICT, SETITEM = (
    b"\x85",
    b"\x86",
    b"R",
    b".",
    b"(",
    b"t",
    b"}",
    b"s",
)


def call(fn: bytes, *args: bytes) -> bytes:
    """``fn(*args)`` via MARK ... TUPLE REDUCE."""
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def cmd(marker: Path) -> str:
    return f"touch {marker}"


def decode(data: bytes) -> tuple[Any, SafetyCollector]:
    collector = SafetyCollector()
    return safe_loads(data, collector=collector), collector


class Reducing:
    """Pickles as ``fn(*args)``; never unpickled by pickle in these tests."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.fn, self.args


def assert_inert(value: Any, marker: Path) -> None:
    assert not marker.exists(), "a command ran"
    assert isinstance(value, Placeholder | PlaceholderType)


# --------------------------------------------------------------------------- code-running globals


@pytest.mark.parametrize("module", ["os", "posix", "nt"])
def test_os_system_by_global_protocol0(module: str, marker: Path) -> None:
    data = call(glob0(module, "system"), b"V" + cmd(marker).encode() + b"\n") + STOP
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.qualname == f"{module}.system"
    assert value.args == (cmd(marker),)
    assert collector.report().calls == (f"{module}.system",)
    assert collector.report().carries_code


@pytest.mark.parametrize("protocol", range(6))
def test_posix_system_pickled_by_pickle(protocol: int, marker: Path) -> None:
    data = pickle.dumps(Reducing(os.system, cmd(marker)), protocol=protocol)
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.qualname == f"{os.system.__module__}.system"
    assert "CARRIES CODE" in collector.report().verdict


@pytest.mark.parametrize(
    "fn",
    [subprocess.Popen, subprocess.check_output, subprocess.run, subprocess.call],
    ids=lambda f: f.__name__,
)
def test_subprocess(fn: Any, marker: Path) -> None:
    value, collector = decode(pickle.dumps(Reducing(fn, ["touch", str(marker)]), protocol=4))
    assert_inert(value, marker)
    assert value.args == (["touch", str(marker)],)
    assert collector.report().calls == (f"subprocess.{fn.__name__}",)


@pytest.mark.parametrize("name", ["eval", "exec"])
def test_builtins_eval_exec(name: str, marker: Path) -> None:
    source = f"open({str(marker)!r}, 'w').close()"
    value, collector = decode(pickle.dumps(Reducing(getattr(builtins, name), source), protocol=2))
    assert_inert(value, marker)
    assert value.qualname == f"builtins.{name}"
    assert f"a call of builtins.{name}" in collector.report().verdict


def test_builtins_import(marker: Path) -> None:
    value, collector = decode(pickle.dumps(Reducing(__import__, "antigravity"), protocol=3))
    assert isinstance(value, Placeholder)
    assert value.qualname == "antigravity"  # the module it named, shown, never imported
    assert "antigravity" not in sys.modules
    assert "builtins.__import__" in collector.calls


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_getattr_import_chain(protocol: int, marker: Path) -> None:
    """``getattr(__import__('os'), 'system')('touch marker')``."""
    g = glob0 if protocol < 4 else glob4
    head = proto(protocol) if protocol >= 2 else b""
    s = ustr if protocol else (lambda t: b"V" + t.encode() + b"\n")
    os_module = call(g("builtins", "__import__"), s("os"))
    system = call(g("builtins", "getattr"), os_module, s("system"))
    data = head + call(system, s(cmd(marker))) + STOP
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.kind == "object"
    assert value.qualname == "os.system"
    assert value.args == (cmd(marker),)
    report = collector.report()
    assert report.calls == ("builtins.__import__", "os.system")
    assert report.verdict.startswith("CARRIES CODE: calls of builtins.__import__ and os.system")


def test_placeholder_instance_called(marker: Path) -> None:
    """A placeholder made by a call, then called itself: kind "call", still inert."""
    inner = call(glob0("os", "popen"), ustr("ls"))  # os.popen('ls')
    read = call(glob0("builtins", "getattr"), inner, ustr("read"))
    data = proto(2) + call(read) + STOP
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.qualname == "os.popen.read"
    assert "os.popen" in collector.calls


def test_protocol0_inst(marker: Path) -> None:
    data = b"(V" + cmd(marker).encode() + b"\nios\nsystem\n."
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.args == (cmd(marker),)
    assert "os.system" in collector.calls


def test_protocol0_obj(marker: Path) -> None:
    data = b"(cos\nsystem\nV" + cmd(marker).encode() + b"\no."
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.args == (cmd(marker),)
    assert "os.system" in collector.calls


def test_newobj_of_dangerous_class(marker: Path) -> None:
    # subprocess.Popen.__new__(Popen, ['touch', ...]) makes an object but calls nothing
    data = (
        proto(2) + glob0("subprocess", "Popen") + ustr("touch") + ustr(str(marker)) + TUPLE2 + b"\x81" + STOP
    )
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.args == ("touch", str(marker))
    assert collector.calls == set()


@pytest.mark.parametrize("name", ["system.__call__", "path.os.system", "__builtins__.eval"])
def test_stack_global_with_nested_names(name: str, marker: Path) -> None:
    data = proto(4) + call(glob4("os", name), ustr(cmd(marker))) + STOP
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.qualname == f"os.{name}"
    assert f"os.{name}" in collector.calls


def test_malicious_core_inside_innocent_dict(marker: Path) -> None:
    payload = {"status": "ok", "rows": [1, 2, {"x": Reducing(os.system, cmd(marker))}]}
    value, collector = decode(pickle.dumps(payload, protocol=5))
    assert not marker.exists()
    assert value["status"] == "ok"
    assert value["rows"][:2] == [1, 2]
    inner = value["rows"][2]["x"]
    assert isinstance(inner, Placeholder)
    assert inner.qualname.endswith(".system")
    assert collector.report().carries_code


def test_reconstructor_of_dangerous_class(marker: Path) -> None:
    # protocol 0/1 shape: copyreg._reconstructor(cls, object, None) then BUILD
    data = (
        call(glob0("copy_reg", "_reconstructor"), glob0("os", "system"), glob0("__builtin__", "object"), b"N")
        + b"(dV"
        + cmd(marker).encode()
        + b"\nI1\nsb."
    )
    value, collector = decode(data)
    assert_inert(value, marker)
    assert value.qualname == "os.system"
    assert value.state == {cmd(marker): 1}
    assert collector.calls == set()  # made, not called


def test_copyreg_add_extension_is_not_called() -> None:
    data = proto(2) + call(glob0("copyreg", "add_extension"), ustr("os"), ustr("system"), b"K\x01") + STOP
    value, collector = decode(data)
    assert isinstance(value, Placeholder)
    assert copyreg._inverted_registry == {}  # type: ignore[attr-defined]
    assert "copyreg.add_extension" in collector.calls


def test_getattr_never_returns_a_real_attribute() -> None:
    # getattr(object, '__subclasses__')() is the classic escape to os._wrap_close
    subclasses = call(glob0("builtins", "getattr"), glob0("builtins", "object"), ustr("__subclasses__"))
    data = proto(2) + call(subclasses) + STOP
    value, _ = decode(data)
    assert isinstance(value, Placeholder)
    assert value.qualname == "builtins.object.__subclasses__"
    # and on plain data: getattr((1, 2), '__class__') is not the tuple type
    data = proto(2) + call(glob0("builtins", "getattr"), b"K\x01K\x02\x86", ustr("__class__")) + STOP
    value, _ = decode(data)
    assert isinstance(value, PlaceholderType)
    assert value is not tuple


# --------------------------------------------------------------------------- opcodes refused


@pytest.mark.parametrize(
    "data",
    [b"\x80\x02P1\n.", b"\x80\x02K\x01Q.", b"(P1\nt."],
    ids=["PERSID", "BINPERSID", "PERSID-in-tuple"],
)
def test_persistent_ids_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedRecord, match="persistent"):
        safe_loads(data)


@pytest.mark.parametrize(
    "data", [b"\x80\x02\x82\x01.", b"\x80\x02\x83\x01\x00.", b"\x80\x02\x84\x01\x00\x00\x00."]
)
def test_ext_codes_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedRecord, match="extension"):
        safe_loads(data)


def test_registered_extension_makes_decoding_refuse() -> None:
    copyreg.add_extension("os", "system", 0x7FFF_FFF0)
    try:
        with pytest.raises(MalformedRecord, match="extension"):
            safe_loads(b"\x80\x02\x84\xf0\xff\xff\x7fV/bin/true\n\x85R.")
    finally:
        copyreg.remove_extension("os", "system", 0x7FFF_FFF0)
    assert safe_loads(pickle.dumps([1])) == [1]


def test_out_of_band_buffers_are_refused() -> None:
    with pytest.raises(MalformedRecord, match="out-of-band"):
        safe_loads(b"\x80\x05\x97.")


# --------------------------------------------------------------------------- imports


def test_module_with_import_side_effects_is_never_imported(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"rg_side_effect_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            open({str(marker)!r}, "w").close()
            class Thing:
                pass
            def hook(*a):
                open({str(marker)!r}, "w").close()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for data in (
        proto(2) + call(glob0(name, "hook"), ustr("x")) + STOP,
        proto(4) + glob4(name, "Thing") + b")\x81" + STOP,
        glob0(name, "Thing") + STOP,
    ):
        value, collector = decode(data)
        assert isinstance(value, Placeholder | PlaceholderType)
        assert not marker.exists()
        assert name not in sys.modules
        assert next(iter(collector.named)).startswith(name)


# --------------------------------------------------------------------------- sizes and shapes


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def test_200k_deep_list_decodes_without_recursion() -> None:
    n = 200_000
    data = proto(2) + b"]" * n + b"a" * (n - 1) + STOP
    start = time.perf_counter()
    value = safe_loads(data)
    assert time.perf_counter() - start < 5
    assert _depth(value) == n - 1


def test_deep_tuple_as_dict_key_does_not_crash_the_process() -> None:
    # hashing a tuple nested 1M deep recurses in C without a check: with
    # pickle.loads this segfaults; run in a subprocess so a regression is a
    # failed test, not a dead test session
    code = textwrap.dedent(
        """
        from resultgate._decode.safepickle import safe_loads
        n = 1_000_000
        value = safe_loads(b"\\x80\\x04}N" + b"\\x85" * n + b"K\\x01s.")
        print(len(value))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"


def test_200k_deep_json_is_malformed() -> None:
    with pytest.raises(MalformedRecord, match="nested too deeply"):
        loads_json("[" * 200_000 + "]" * 200_000)
    with pytest.raises(MalformedRecord, match="nested too deeply"):
        loads_json('{"a":' * 200_000 + "1" + "}" * 200_000)


def test_shared_reference_explosion_is_fast_and_shared() -> None:
    value: list[Any] = []
    for _ in range(30):
        value = [value, value]
    data = pickle.dumps(value, protocol=4)
    assert len(data) < 1000
    start = time.perf_counter()
    out = safe_loads(data)
    assert time.perf_counter() - start < 1
    for _ in range(30):
        assert out[0] is out[1]  # 2**30 leaves by path, 31 lists in memory
        out = out[0]
    assert out == []


def test_builder_amplification_is_refused() -> None:
    # a memoised list of 100k items handed to list() 5,000 times would build 500M items
    body = b"(" + b"N" * 100_000 + b"l" + b"q\x00"  # BINPUT 0
    body += glob0("builtins", "list") + b"q\x01" + b"0"  # the builder in memo 1, popped
    body += b"(" + (b"h\x01h\x00\x85R" * 5_000) + b"l"  # [list(s), list(s), ...]
    with pytest.raises(TooLarge, match="far more than its size"):
        safe_loads(proto(2) + body + STOP)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("opcode", "size_format"),
    [
        (b"\x8d", "<Q"),  # BINUNICODE8
        (b"\x8e", "<Q"),  # BINBYTES8
        (b"\x96", "<Q"),  # BYTEARRAY8
        (b"\x95", "<Q"),  # FRAME
        (b"B", "<I"),  # BINBYTES
        (b"X", "<I"),  # BINUNICODE
    ],
    ids=["BINUNICODE8", "BINBYTES8", "BYTEARRAY8", "FRAME", "BINBYTES", "BINUNICODE"],
)
@pytest.mark.parametrize("declared", [2**62, 2**40, 2**31 - 1], ids=["2^62", "2^40", "2^31"])
def test_declared_size_beyond_input(opcode: bytes, size_format: str, declared: int) -> None:
    declared = min(declared, 2 ** (8 * struct.calcsize(size_format)) - 1)
    data = proto(5) + opcode + struct.pack(size_format, declared) + b"abc" + STOP
    before = _maxrss_mb()
    with pytest.raises((MalformedRecord, TooLarge)) as info:
        safe_loads(data)
    assert _maxrss_mb() - before < 200  # nothing of that size was touched
    assert "truncated" in str(info.value) or isinstance(info.value, TooLarge)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"\x80", "truncated"),
        (b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00", "truncated"),
        (pickle.dumps({"a": list(range(100))})[:-7], "truncated"),
        (b"hello world", "not a pickle"),
        (b"\x00\x01\x02\x03", "not a pickle"),
        (b"\x80\x09K\x01.", "protocol"),
        (b"<html>oops</html>", "not a pickle"),
        (b"\x80\x02}]K\x01s.", "not a valid pickle: TypeError"),  # unhashable key
        (b"\x80\x02a.", "not a pickle|not a valid pickle"),  # APPEND on an empty stack
    ],
)
def test_garbage_truncated_empty(data: bytes, match: str) -> None:
    with pytest.raises(MalformedRecord, match=match):
        safe_loads(data)


def test_non_bytes_input() -> None:
    with pytest.raises(MalformedRecord, match="expected the bytes"):
        safe_loads("not bytes")  # type: ignore[arg-type]


def test_input_over_the_limit() -> None:
    from resultgate import Limits

    with pytest.raises(TooLarge):
        safe_loads(pickle.dumps("x" * 1000), limits=Limits(max_decompressed_bytes=100))


# --------------------------------------------------------------------------- builders refuse odd arguments


@pytest.mark.parametrize(
    ("global_", "args"),
    [
        (("builtins", "bytearray"), b"\x8a\x05\x00\x10\xa5\xd4\xe8"),  # bytearray(10**12)
        (("builtins", "bytes"), b"\x8a\x05\x00\x10\xa5\xd4\xe8"),  # bytes(10**12)
        (("__builtin__", "bytes"), b"J\x00\xca\x9a\x3b"),  # bytes(10**9)
        (("fractions", "Fraction"), ustr("1e99999999")),
        (("fractions", "Fraction"), ustr("1/0")),
        (("builtins", "range"), b"\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40"),
        (("zoneinfo", "ZoneInfo"), ustr("../../../../etc/passwd")),
        (("builtins", "str"), glob0("os", "environ")),
        (("builtins", "int"), ustr("1" * 10_000)),
        (("collections", "deque"), glob0("os", "environ")),
        (("builtins", "type"), ustr("Evil")),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_builder_with_odd_arguments_gives_placeholder(global_: tuple[str, str], args: bytes) -> None:
    data = proto(2) + call(glob0(*global_), args) + STOP
    before = _maxrss_mb()
    start = time.perf_counter()
    value, _ = decode(data)
    assert time.perf_counter() - start < 2
    assert _maxrss_mb() - before < 200
    assert isinstance(value, Placeholder)
    assert value.kind == "object"


@pytest.mark.parametrize(
    ("global_", "args"),
    [
        (("datetime", "datetime"), ustr("x")),
        (("datetime", "datetime"), b"C\x0a" + b"\xff" * 10),  # a 10-byte state out of range
        (("datetime", "datetime"), b"C\x0a" + b"\x07\xe8\x01\x01" + b"\x00" * 6 + glob0("os", "system")),
        (("datetime", "timedelta"), b"\x8a\x05\x00\x10\xa5\xd4\xe8"),  # 10**12 days
        (("datetime", "date"), glob0("os", "system")),
    ],
    ids=["datetime-str", "datetime-state", "datetime-tzinfo", "timedelta-days", "date-placeholder"],
)
def test_datetime_types_check_their_arguments(global_: tuple[str, str], args: bytes) -> None:
    # the real C datetime types are handed out (they check everything themselves)
    data = proto(2) + call(glob0(*global_), args) + STOP
    with pytest.raises(MalformedRecord, match="not a valid pickle"):
        safe_loads(data)


def test_defaultdict_with_a_placeholder_factory_is_a_placeholder(marker: Path) -> None:
    data = proto(2) + call(glob0("collections", "defaultdict"), glob0("os", "system")) + STOP
    value, _ = decode(data)
    assert isinstance(value, Placeholder)
    assert value.qualname == "collections.defaultdict"


def test_uuid_with_hostile_state_is_malformed() -> None:
    data = (
        proto(2) + glob0("uuid", "UUID") + b")\x81" + b"}" + ustr("int") + ustr("not an int") + b"sb" + STOP
    )
    with pytest.raises(MalformedRecord, match="uuid"):
        safe_loads(data)


def test_build_on_a_built_value_is_malformed() -> None:
    # BUILD on a real dict: the C unpickler would set attributes: refused
    data = proto(2) + b"}" + b"}" + ustr("__class__") + ustr("x") + b"sb" + STOP
    with pytest.raises(MalformedRecord):
        safe_loads(data)


def test_too_many_distinct_classes() -> None:
    body = b"(" + b"".join(glob0("m", f"C{i}") for i in range(20_000)) + b"l"
    data = proto(2) + body + STOP
    assert len(data) < 20_000 * 12  # so the per-size allowance is what refuses it
    with pytest.raises(TooLarge, match="too many distinct classes"):
        safe_loads(data)


def test_errors_are_resultgate_errors_only() -> None:
    # a sweep of single-byte mutations of a real pickle: never anything else
    good = pickle.dumps({"a": [1, 2.5, "x", b"y", (1, 2)], "b": {1, 2}}, protocol=2)
    refused = 0
    for i in range(len(good)):
        for flip in (0x00, 0xFF, 0x2E, 0x52):
            data = good[:i] + bytes([flip]) + good[i + 1 :]
            try:
                safe_loads(data)
            except ResultgateError:  # anything else fails the test
                refused += 1
    assert refused > len(good)  # most mutations break it, and each one was a typed error


@pytest.mark.parametrize(
    ("module", "name"), [("builtins", "list"), ("uuid", "UUID"), ("collections", "deque")]
)
def test_build_slot_state_cannot_change_our_builders(module: str, name: str) -> None:
    # BUILD (None, {"__new__": ..., "_fn": ...}) would setattr on the object BUILD is given
    slot_state = (
        b"N}"
        + ustr("__new__")
        + glob0("os", "system")
        + b"s"
        + ustr("_fn")
        + glob0("os", "system")
        + b"s\x86"
    )
    data = proto(2) + glob0(module, name) + slot_state + b"b" + STOP
    with pytest.raises(MalformedRecord):
        safe_loads(data)
    # and the next decode is not affected
    value = uuid_value = __import__("uuid").UUID(int=7)
    assert safe_loads(pickle.dumps([value, [1]], protocol=2)) == [uuid_value, [1]]
    assert safe_loads(proto(2) + call(glob0("builtins", "list"), b"]K\x01a") + STOP) == [1]


def test_by_value_enum_lookups_are_indexed() -> None:
    members = b"}" + b"".join(ustr(f"M{i}") + b"J" + struct.pack("<i", i) + b"s" for i in range(20_000))
    skeleton = call(
        glob4("cloudpickle.cloudpickle", "_make_skeleton_enum"),
        b")",  # bases
        ustr("Big"),
        ustr("Big"),
        members,
        ustr("__main__"),
        ustr("tracker"),
        b"N",
    )
    lookups = b"(" + b"".join(b"h\x00J" + struct.pack("<i", i) + b"\x85R" for i in range(0, 20_000, 2)) + b"l"
    data = proto(4) + skeleton + b"q\x00" + b"0" + lookups + STOP
    start = time.perf_counter()
    value = safe_loads(data)
    assert time.perf_counter() - start < 3
    assert len(value) == 10_000
    assert [m.enum_name for m in value[:3]] == ["M0", "M2", "M4"]


def test_long_memoised_names_do_not_multiply() -> None:
    # a 100 kB name, memoised, reused by 2,000 getattr calls and skeleton classes
    body = ustr("n" * 100_000) + b"q\x00" + b"0"
    body += glob0("m", "Root") + b"q\x01" + b"0"
    body += b"(" + b"".join(call(glob0("builtins", "getattr"), b"h\x01", b"h\x00") for _ in range(1_000))
    skeleton = glob0("cloudpickle.cloudpickle", "_make_skeleton_class")
    body += b"".join(
        call(skeleton, glob0("builtins", "type"), b"h\x00", b")", b"}", b"N", b"N") for _ in range(1_000)
    )
    body += b"l"
    before = _maxrss_mb()
    value, collector = decode(proto(2) + body + STOP)
    assert _maxrss_mb() - before < 100
    assert len(value) == 2_000
    assert all(len(v.qualname) <= 300 for v in value)
    assert all(len(name) <= 300 for name in collector.placeholders)
