"""safe_loads on honest data: allowlisted values come back equal, the rest as placeholders."""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import pathlib
import pickle
import uuid
import zoneinfo
from typing import Any

import cloudpickle
import pytest

from resultgate._decode.safepickle import Placeholder, PlaceholderType, safe_loads
from resultgate._safety import SafetyCollector, SafetyReport
from support.cases import CASES_DIR

pytestmark = pytest.mark.timeout(60)

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Key:
    name: str


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Tags(list):  # type: ignore[type-arg]
    pass


class Attrs(dict):  # type: ignore[type-arg]
    pass


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a, self.b = 1, 2


def decode(data: bytes) -> tuple[Any, SafetyReport]:
    collector = SafetyCollector()
    value = safe_loads(data, collector=collector)
    return value, collector.report()


ALLOWLISTED: list[Any] = [
    None,
    True,
    -(10**40),
    1.5,
    "héllo",
    b"\x00\xffbytes",
    b"",
    bytearray(b"ba"),
    bytearray(),
    [1, [2, (3,)]],
    (),
    {"a": {1: None}},
    {1, 2},
    set(),
    frozenset({"x"}),
    frozenset(),
    2 - 3j,
    datetime.datetime(2024, 5, 17, 13, 45, 30, 123456, tzinfo=datetime.timezone.utc),
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"), fold=1),
    datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-5), "EST")),
    datetime.date(2024, 2, 29),
    datetime.time(23, 59, 59, 999999),
    datetime.time(1, 2, tzinfo=datetime.timezone.utc),
    datetime.timedelta(days=-3, seconds=5, microseconds=7),
    datetime.timezone.utc,
    zoneinfo.ZoneInfo("America/New_York"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    decimal.Decimal("-1.50E+10"),
    decimal.Decimal("NaN") if False else decimal.Decimal("Infinity"),
    fractions.Fraction(-3, 4),
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.deque([1, 2, 3], maxlen=5),
    collections.deque(),
    collections.Counter("abracadabra"),
    collections.defaultdict(list, {"k": [1]}),
    collections.defaultdict(None, {"k": 1}),
    pathlib.PurePosixPath("/srv/data/x.csv"),
    pathlib.PureWindowsPath(r"C:\data\x.csv"),
    pathlib.Path("relative/file.txt"),
    type(None),
    ...,
    NotImplemented,
    slice(1, None, 2),
]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple | collections.deque):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime.datetime | datetime.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold
    return bool(a == b)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", ALLOWLISTED, ids=lambda v: type(v).__name__)
def test_allowlisted_values_round_trip(value: Any, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    out, report = decode(data)
    # the reference: pickle itself, on data we made (protocols < 4 drop datetime.fold)
    assert same(out, pickle.loads(data)), (out, value)
    assert out == value
    assert report.placeholders == ()
    assert not report.carries_code
    assert report.verdict.startswith("plain data")


@pytest.mark.parametrize("value", ALLOWLISTED, ids=lambda v: type(v).__name__)
def test_allowlisted_values_round_trip_cloudpickle(value: Any) -> None:
    out, report = decode(cloudpickle.dumps(value))
    assert same(out, value)
    assert report.placeholders == ()


def test_windows_path_on_posix_becomes_its_pure_flavour() -> None:
    # a PosixPath pickled on Linux and read on Windows (or the reverse) keeps its parts
    data = pickle.dumps(pathlib.PurePosixPath("/a/b"), protocol=2).replace(b"PurePosixPath", b"WindowsPath")
    data = data.replace(b"pathlib\nWindowsPath", b"pathlib\nWindowsPath")
    out = safe_loads(data)
    assert isinstance(out, pathlib.PureWindowsPath)
    assert out.parts == ("\\", "a", "b")


def test_plain_data_verdicts() -> None:
    assert decode(pickle.dumps([1, "a"]))[1].verdict == "plain data: only built-in types"
    _, report = decode(pickle.dumps([datetime.date(2024, 1, 1), uuid.UUID(int=1)], protocol=4))
    assert report.built == ("datetime.date", "uuid.UUID")
    assert report.verdict == "plain data: built-in types and datetime.date and uuid.UUID"


# --------------------------------------------------------------------------- placeholders


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_user_class_by_reference_is_a_placeholder_with_state(protocol: int) -> None:
    out, report = decode(pickle.dumps(Point(1, 2), protocol=protocol))
    assert isinstance(out, Placeholder)
    assert out.qualname == f"{Point.__module__}.Point"
    assert out.kind == "object"
    assert out.state == {"x": 1, "y": 2}
    assert report.placeholders[-1] == f"{Point.__module__}.Point"
    assert report.verdict == "data with 1 class shown as a placeholder; nothing was imported or run"


def test_placeholders_are_hashable_dict_keys() -> None:
    out = safe_loads(pickle.dumps({Key("a"): 1, Key("b"): 2}, protocol=5))
    assert sorted(k.state["name"] for k in out) == ["a", "b"]  # type: ignore[union-attr]
    assert len({*out, *out}) == 2


def test_list_and_dict_subclasses_record_items() -> None:
    tags = Tags([1, 2, 3])
    out = safe_loads(pickle.dumps(tags, protocol=2))
    assert isinstance(out, Placeholder)
    assert out.items == [1, 2, 3]
    attrs = Attrs(a=1)
    attrs.note = "n"  # type: ignore[attr-defined]
    out = safe_loads(pickle.dumps(attrs, protocol=4))
    assert out.setitems == [("a", 1)]
    assert out.state == {"note": "n"}


@pytest.mark.parametrize("protocol", [0, 1])
def test_list_subclass_protocol_0_1_keeps_the_base_value(protocol: int) -> None:
    out = safe_loads(pickle.dumps(Tags([1, 2]), protocol=protocol))
    assert isinstance(out, Placeholder)
    assert out.args == ([1, 2],) or out.items == [1, 2]


def test_slots_state() -> None:
    out = safe_loads(pickle.dumps(Slotted(), protocol=2))
    assert out.state == (None, {"a": 1, "b": 2})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_enum_by_reference(protocol: int) -> None:
    out, report = decode(pickle.dumps(Colour.GREEN, protocol=protocol))
    assert isinstance(out, Placeholder)
    assert out.qualname == f"{Colour.__module__}.Colour"
    assert out.args == ("green",)
    assert report.calls == (f"{Colour.__module__}.Colour",)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_failed_flow_exception(protocol: int) -> None:
    out, report = decode(pickle.dumps(ValueError("boom"), protocol=protocol))
    assert isinstance(out, Placeholder)
    assert (out.qualname, out.kind, out.args) == ("builtins.ValueError", "exception", ("boom",))
    assert not report.carries_code
    assert report.verdict == (
        "data with an exception (builtins.ValueError) shown as a placeholder; nothing was imported or run"
    )


def test_exception_with_attributes_and_oserror_args() -> None:
    exc = FileNotFoundError(2, "No such file")
    exc.context = "while reading"  # type: ignore[attr-defined]
    out = safe_loads(pickle.dumps(exc, protocol=4))
    assert out.kind == "exception"
    assert out.args == (2, "No such file")
    assert out.state == {"context": "while reading"}


def test_type_of_placeholder_knows_its_name() -> None:
    out = safe_loads(pickle.dumps(Point(1, 2), protocol=4))
    cls = type(out)
    assert isinstance(cls, PlaceholderType)
    assert cls.qualname == f"{Point.__module__}.Point"
    assert cls.kind == "object"
    assert repr(cls) == f"<placeholder class {Point.__module__}.Point>"


def test_calling_a_placeholder_makes_a_call_placeholder() -> None:
    out = safe_loads(pickle.dumps(Point(1, 2), protocol=4))
    called = out(3, k=4)
    assert isinstance(called, Placeholder)
    assert (called.kind, called.args, called.kwargs) == ("call", (3,), {"k": 4})


def test_placeholder_repr_is_bounded() -> None:
    big = Placeholder("m.Big", args=("x" * 1_000_000, list(range(10_000))), state={"k": "v" * 10_000})
    assert len(repr(big)) < 1000
    chain = Placeholder("m.Leaf")
    for _ in range(100_000):
        chain = Placeholder("m.Node", args=(chain,), state=[chain])
    text = repr(chain)
    assert text.startswith("<placeholder m.Node(<placeholder m.Node>)")
    assert len(text) < 1000


def test_named_globals_in_first_seen_order_with_counts() -> None:
    data = pickle.dumps([Point(1, 2), datetime.date(2024, 1, 1), Point(3, 4), ValueError("x")], protocol=0)
    collector = SafetyCollector()
    safe_loads(data, collector=collector)
    names = list(collector.named)
    assert names[0] == "copyreg._reconstructor"
    assert names.index(f"{Point.__module__}.Point") < names.index("datetime.date")
    assert names.index("datetime.date") < names.index("builtins.ValueError")
    assert all(count >= 1 for count in collector.named.values())
    report = collector.report()
    assert report.to_dict()["named"] == names
    assert set(report.to_dict()) == {
        "verdict",
        "named",
        "built",
        "placeholders",
        "calls",
        "code",
        "carries_code",
    }


# --------------------------------------------------------------------------- cloudpickle by value


def test_cloudpickle_instance_of_main_class(cloudpickled: dict[str, bytes]) -> None:
    out, report = decode(cloudpickled["instance"])
    assert isinstance(out, Placeholder)
    assert out.state == {"x": 1, "y": 2}
    cls = type(out)
    assert isinstance(cls, PlaceholderType)
    assert (cls.qualname, cls.kind, cls.by_value) == ("__main__.Point", "class", True)
    assert out.qualname == "__main__.Point"
    assert "class __main__.Point" in report.code
    assert "function __main__.Point.__init__" in report.code
    assert report.carries_code
    assert report.verdict.startswith("CARRIES CODE: 1 function stored by value and 1 class stored by value")


def test_cloudpickle_class_is_a_type(cloudpickled: dict[str, bytes]) -> None:
    out = safe_loads(cloudpickled["class"])
    assert isinstance(out, PlaceholderType)
    assert out.qualname == "__main__.Point"
    assert isinstance(out.state, tuple)
    assert "__init__" in out.state[0]


def test_cloudpickle_function(cloudpickled: dict[str, bytes]) -> None:
    out, report = decode(cloudpickled["function"])
    assert isinstance(out, Placeholder)
    assert (out.kind, out.qualname) == ("function", "__main__.add")
    assert "function __main__.add" in report.code
    assert "module os" in report.placeholders  # the module its globals use, never imported
    assert (
        report.verdict == "CARRIES CODE: 1 function stored by value; shown as placeholders, nothing was run"
    )


def test_cloudpickle_lambda(cloudpickled: dict[str, bytes]) -> None:
    out = safe_loads(cloudpickled["lambda"])
    assert (out.kind, out.qualname) == ("function", "__main__.<lambda>")


def test_cloudpickle_exception_subclass(cloudpickled: dict[str, bytes]) -> None:
    out, report = decode(cloudpickled["exception"])
    assert (out.qualname, out.kind, out.args) == ("__main__.FlowFailed", "exception", ("boom",))
    cls = type(out)
    assert isinstance(cls, PlaceholderType)
    assert cls.is_exception
    assert [b.qualname for b in cls.bases] == ["builtins.ValueError"]
    assert report.calls == ()


def test_cloudpickle_enum(cloudpickled: dict[str, bytes]) -> None:
    out = safe_loads(cloudpickled["enum"])
    assert (out.kind, out.qualname, out.enum_name, out.enum_value) == ("enum", "__main__.Color", "BLUE", 2)
    assert type(out).members == {"RED": 1, "BLUE": 2}
    many = safe_loads(cloudpickled["enum_list"])
    assert [m.enum_name for m in many] == ["RED", "BLUE", "RED"]
    assert many[0] is many[2]


def test_cloudpickle_mixed(cloudpickled: dict[str, bytes]) -> None:
    out = safe_loads(cloudpickled["mixed"])
    assert out["ok"] is True
    assert out["when"] is None
    assert out["points"][0].state == {"x": 0, "y": 0}


def test_enum_member_by_getattr_from_a_by_value_enum(cloudpickled: dict[str, bytes]) -> None:
    # protocols < 4 (and some Python versions) write members as getattr(EnumCls, name)
    enum_class = safe_loads(cloudpickled["enum"])
    cls = type(enum_class)
    assert cls.members is not None
    assert cls._member("RED").enum_value == 1


# --------------------------------------------------------------------------- the shared fixtures


def _pickle_cases() -> list[Any]:
    found = []
    for case_json in sorted(CASES_DIR.glob("*/case.json")):
        case = case_json.parent
        meta = json.loads(case_json.read_text())
        for result in meta["results"]:
            if result.get("file_format") != "raw-serializer-output" or not result.get("file"):
                continue
            payload = base64.b64decode((case / result["file"]).read_bytes())
            if not payload.startswith(b"\x80"):
                continue
            owner = result.get("owner", "flow")
            expected = (
                meta["expected"] if owner == "flow" else meta["expected_tasks"].get(owner.split(":", 1)[-1])
            )
            if expected:
                found.append(pytest.param(payload, expected, id=f"{case.name}:{owner}"))
    return found


@pytest.mark.parametrize(("payload", "expected"), _pickle_cases())
def test_real_prefect_pickles(payload: bytes, expected: dict[str, Any]) -> None:
    out, report = decode(payload)
    python_type = expected["python_type"]
    if isinstance(out, Placeholder):
        assert out.qualname == python_type
        assert out.kind == "exception"
        assert repr(out.args[0]) in expected["repr"]
    else:
        assert f"{type(out).__module__}.{type(out).__qualname__}" == python_type
        if "repr" in expected:
            assert repr(out) == expected["repr"]
        assert not report.carries_code


def test_real_prefect_pickles_were_found() -> None:
    assert len(_pickle_cases()) >= 5


def test_classes_as_values_have_a_global_name(cloudpickled: dict[str, bytes]) -> None:
    from resultgate._decode.safepickle import global_name

    out = safe_loads(pickle.dumps({"int": int, "uuid": uuid.UUID, "point": Point}, protocol=4))
    assert global_name(out["int"]) == "builtins.int"
    assert global_name(out["uuid"]) == "uuid.UUID"
    assert global_name(out["point"]) == f"{Point.__module__}.Point"
    assert global_name(safe_loads(cloudpickled["class"])) == "__main__.Point"
    assert global_name(out) is None
    assert global_name(safe_loads(pickle.dumps(type(None)))) is None  # the real NoneType


def test_placeholders_can_be_copied_and_pickled() -> None:
    import copy

    out = safe_loads(pickle.dumps({"p": Point(1, 2), "e": ValueError("x")}, protocol=5))
    again = pickle.loads(pickle.dumps(out))  # e.g. a cache that pickles results
    deep = copy.deepcopy(out)
    for copied in (again, deep):
        assert isinstance(copied["p"], Placeholder)
        assert (copied["p"].qualname, copied["p"].state) == (out["p"].qualname, {"x": 1, "y": 2})
        assert (copied["e"].kind, copied["e"].args) == ("exception", ("x",))
    # and reading that pickle back safely names our rebuild helper, nothing else
    collector = SafetyCollector()
    safe_loads(pickle.dumps(out), collector=collector)
    assert set(collector.named) == {"resultgate._decode.safepickle._rebuild"}


# --------------------------------------------------------------------------- the report's verdict


def test_verdict_for_code_and_calls() -> None:
    collector = SafetyCollector()
    collector.note_code("function", "__main__.f")
    collector.note_call("os.system")
    report = collector.report()
    assert report.carries_code
    assert report.verdict == (
        "CARRIES CODE: 1 function stored by value and a call of os.system; "
        "shown as placeholders, nothing was run"
    )
    assert report.code == ("function __main__.f",)


def test_verdict_for_placeholders_and_many_calls() -> None:
    collector = SafetyCollector()
    collector.note_placeholder("m.A")
    collector.note_placeholder("m.B")
    assert (
        collector.report().verdict == "data with 2 classes shown as placeholders; nothing was imported or run"
    )
    for name in ("a.f", "b.g", "c.h", "d.i"):
        collector.note_call(name)
    assert collector.report().verdict == (
        "CARRIES CODE: calls of a.f, b.g, c.h and 1 more; shown as placeholders, nothing was run"
    )


def test_report_keeps_first_seen_order_and_is_frozen() -> None:
    collector = SafetyCollector()
    for name in ("z.Z", "a.A", "z.Z"):
        collector.note_named(name)
        collector.note_placeholder(name)
    report = collector.report()
    assert report.named == ("z.Z", "a.A")
    assert collector.named == {"z.Z": 2, "a.A": 1}
    assert report.placeholders == ("z.Z", "a.A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.verdict = "x"  # type: ignore[misc]
