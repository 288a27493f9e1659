"""_render: JSON/text/repr forms, Prefect-JSON alignment, limits, depth and sharing guards."""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import enum
import json
import pathlib
import pickle
import time
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic_core import to_jsonable_python

from resultgate._decode.jsonsafe import loads_json
from resultgate._decode.safepickle import Placeholder, safe_loads
from resultgate._errors import TooLarge
from resultgate._limits import Limits
from resultgate._render import TRUNCATED, qualname_of, to_jsonable, to_repr, to_text

LIMITS = Limits()
UTC = dt.timezone.utc


def js(value: Any, limits: Limits = LIMITS) -> Any:
    rendering, truncated = to_jsonable(value, limits=limits, strict=True)
    assert truncated is False
    return rendering


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = 1


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = 1
        self.b = "two"


class AppError(Exception):
    pass


# --- plain values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 2**70, 1.5, "", "héllo", [], {}, [1, [2, [3]]], {"a": {"b": [None, 1.0]}}],
)
def test_native_json_is_itself(value: Any) -> None:
    assert js(value) == value
    assert json.loads(json.dumps(js(value))) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1, (2, 3)), [1, [2, 3]]),
        ({3, 1, 2}, {"__class__": "builtins.set", "data": [1, 2, 3]}),
        (frozenset({"b", "a"}), {"__class__": "builtins.frozenset", "data": ["a", "b"]}),
        (b"\x00\xffab", {"__class__": "builtins.bytes", "data": base64.b64encode(b"\x00\xffab").decode()}),
        (bytearray(b"xy"), {"__class__": "builtins.bytearray", "data": "eHk="}),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            {"__class__": "datetime.datetime", "data": "2024-01-02T03:04:05Z"},
        ),
        (
            dt.datetime(2024, 5, 17, 13, 45, 30, 123456, tzinfo=UTC),
            {"__class__": "datetime.datetime", "data": "2024-05-17T13:45:30.123456Z"},
        ),
        (dt.datetime(2024, 1, 1), {"__class__": "datetime.datetime", "data": "2024-01-01T00:00:00"}),
        (dt.date(2024, 2, 29), {"__class__": "datetime.date", "data": "2024-02-29"}),
        (dt.time(1, 2, 3, tzinfo=UTC), {"__class__": "datetime.time", "data": "01:02:03Z"}),
        (
            dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5),
            {"__class__": "datetime.timedelta", "data": "P1DT2H3M4.5S"},
        ),
        (uuid.UUID(int=1), {"__class__": "uuid.UUID", "data": "00000000-0000-0000-0000-000000000001"}),
        (Decimal("1.10"), {"__class__": "decimal.Decimal", "data": "1.10"}),
        (Fraction(1, 3), {"__class__": "fractions.Fraction", "data": "1/3"}),
        (pathlib.PurePosixPath("/a/b"), {"__class__": "pathlib.PurePosixPath", "data": "/a/b"}),
        (complex(1, -2), {"__class__": "builtins.complex", "data": [1.0, -2.0]}),
        (float("nan"), {"__class__": "builtins.float", "data": "nan"}),
        (float("-inf"), {"__class__": "builtins.float", "data": "-inf"}),
        (collections.OrderedDict(a=1), {"a": 1}),
        (collections.Counter("aab"), {"a": 2, "b": 1}),
        (collections.defaultdict(list, k=[1]), {"k": [1]}),
        ({1: "a", (2, 3): "b"}, {"__class__": "builtins.dict", "data": [[1, "a"], [[2, 3], "b"]]}),
    ],
)
def test_tagged_forms(value: Any, expected: Any) -> None:
    assert js(value) == expected


def test_unsortable_set_keeps_every_item() -> None:
    assert sorted(map(str, js({2, "a"})["data"])) == ["2", "a"]


@pytest.mark.parametrize(
    "value",
    [
        dt.timedelta(0),
        dt.timedelta(seconds=-1),
        dt.timedelta(days=-1, seconds=5),
        dt.timedelta(microseconds=10),
        dt.timedelta(hours=5),
        dt.timedelta(days=3, microseconds=500),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.time(23, 59),
        Decimal("-0.5"),
        Fraction(-7, 2),
        {1, 2, 3},
    ],
)
def test_data_matches_pydantic(value: Any) -> None:
    """Prefect's JSON encoder writes ``to_jsonable_python(value)`` as the data."""
    assert js(value)["data"] == to_jsonable_python(value)


def test_huge_int_does_not_hit_the_str_digits_limit() -> None:
    value = 1 << 60_000
    assert js(value) == {"__class__": "builtins.int", "data": hex(value)}
    assert "<int of 60001 bits>" in to_repr(value, limits=LIMITS, strict=True)[0]


def test_qualname_of() -> None:
    assert qualname_of(1) == "builtins.int"
    assert qualname_of(dt.date(2020, 1, 1)) == "datetime.date"


# --- placeholders (made by the safe unpickler from pickles of this module's classes) ----------------


def from_pickle(value: Any) -> Any:
    return safe_loads(pickle.dumps(value, protocol=5))


def test_placeholder_object_renders_its_state() -> None:
    value = from_pickle(Point(1, 2))
    assert isinstance(value, Placeholder)
    assert js(value) == {"__class__": f"{__name__}.Point", "data": {"x": 1, "y": 2}}
    text, _ = to_repr(value, limits=LIMITS, strict=True)
    assert text == f"<placeholder {__name__}.Point(x=1, y=2)>"


def test_slotted_state_is_merged() -> None:
    assert js(from_pickle(Slotted())) == {"__class__": f"{__name__}.Slotted", "data": {"a": 1, "b": "two"}}


def test_pydantic_model_fields_are_unwrapped() -> None:
    import pydantic

    class Model(pydantic.BaseModel):
        a: int
        when: dt.date

    globals()["Model"] = Model
    Model.__qualname__ = "Model"
    value = from_pickle(Model(a=1, when=dt.date(2024, 1, 1)))
    assert js(value) == {
        "__class__": f"{__name__}.Model",
        "data": {"a": 1, "when": {"__class__": "datetime.date", "data": "2024-01-01"}},
    }


def test_exception_form() -> None:
    expected = {"__exc_type__": "builtins.ValueError", "message": "boom", "args": ["boom"]}
    assert js(from_pickle(ValueError("boom"))) == expected
    app_error = from_pickle(AppError("bad", 2))
    if app_error.kind == "exception":  # a user exception is only known as one if the pickle says so
        assert js(app_error) == {"__exc_type__": f"{__name__}.AppError", "message": "bad", "args": ["bad", 2]}
    assert js(from_pickle(KeyError())) == {"__exc_type__": "builtins.KeyError", "message": "", "args": []}
    assert to_repr(from_pickle(ValueError("boom")), limits=LIMITS, strict=True)[0] == "ValueError('boom')"


def test_enum_by_reference_is_its_value() -> None:
    # a plain pickle names the class and its value only
    assert js(from_pickle(Color.RED)) == {"__class__": f"{__name__}.Color", "data": 1}


def test_enum_by_value_has_name_and_value() -> None:
    import cloudpickle

    class Local(enum.Enum):  # not importable: cloudpickle writes it by value, members included
        GREEN = 2

    value = safe_loads(cloudpickle.dumps(Local.GREEN))
    assert value.kind == "enum"
    assert js(value)["data"] == {"name": "GREEN", "value": 2}
    assert to_repr(value, limits=LIMITS, strict=True)[0].endswith(".GREEN: 2>")


# --- pickled and JSON-serialized values render alike ----------------------------------------------

ALIKE = [
    {
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "u": uuid.UUID(int=7),
        "day": dt.date(2024, 2, 29),
    },
    [1, (2, 3), {"a": None}],
    {"d": Decimal("2.50"), "t": dt.timedelta(minutes=90)},
    ValueError("boom"),
]


@pytest.mark.parametrize("value", ALIKE)
def test_pickle_and_prefect_json_render_alike(value: Any) -> None:
    from prefect.serializers import JSONSerializer

    prefect_json = JSONSerializer().dumps(value)
    via_json = js(loads_json(prefect_json, tagged=True))
    via_pickle = js(from_pickle(value))
    if isinstance(value, BaseException):  # Prefect's JSON keeps only the message
        via_pickle.pop("args"), via_json.pop("args", None)
    assert via_pickle == via_json


# --- limits --------------------------------------------------------------------------------------


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def explosion(levels: int = 12, width: int = 10) -> list[Any]:
    value: list[Any] = ["leaf"]
    for _ in range(levels):
        value = [value] * width  # the same list, shared: 10**12 visits
    return value


@pytest.mark.parametrize("render", [to_jsonable, to_repr, to_text])
def test_200k_deep_strict_is_a_clean_error(render: Any) -> None:
    with pytest.raises(TooLarge, match="nested deeper than 400"):
        render(deep_list(200_000), limits=LIMITS, strict=True)


@pytest.mark.parametrize("render", [to_jsonable, to_repr, to_text])
def test_200k_deep_preview_is_cut(render: Any) -> None:
    rendering, truncated = render(deep_list(200_000), limits=LIMITS, strict=False)
    assert truncated is True
    assert "nested too deep" in json.dumps(rendering) or "..." in str(rendering)


def test_depth_cut_keeps_json_dumpable() -> None:
    rendering, _ = to_jsonable(deep_list(200_000), limits=LIMITS, strict=False)
    depth = 0
    while isinstance(rendering, list) and rendering:
        rendering, depth = rendering[0], depth + 1
    assert depth == LIMITS.max_depth
    assert rendering == "…(nested too deep)"


@pytest.mark.parametrize("render", [to_jsonable, to_repr, to_text])
def test_shared_reference_explosion_strict(render: Any) -> None:
    start = time.perf_counter()
    with pytest.raises(TooLarge, match="would exceed"):
        render(explosion(), limits=Limits(max_render_items=100_000), strict=True)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("render", [to_jsonable, to_repr, to_text])
def test_shared_reference_explosion_preview(render: Any) -> None:
    start = time.perf_counter()
    rendering, truncated = render(explosion(), limits=Limits(preview_bytes=10_000), strict=False)
    assert truncated is True
    assert TRUNCATED in json.dumps(rendering, ensure_ascii=False)
    assert len(json.dumps(rendering)) < 40_000
    assert time.perf_counter() - start < 5


def test_strict_bytes_cap() -> None:
    with pytest.raises(TooLarge, match="1000 bytes"):
        to_jsonable(["x" * 2000], limits=Limits(max_render_bytes=1000), strict=True)


def test_preview_cuts_a_long_string() -> None:
    rendering, truncated = to_jsonable(
        {"s": "x" * 1_000_000}, limits=Limits(preview_bytes=1000), strict=False
    )
    assert truncated is True
    assert rendering["s"].endswith(TRUNCATED)
    assert 500 < len(rendering["s"]) <= 1000


def test_preview_of_small_value_is_whole() -> None:
    assert to_jsonable({"a": [1, 2]}, limits=LIMITS, strict=False) == ({"a": [1, 2]}, False)


# --- text and repr -------------------------------------------------------------------------------


def test_text_of_str_is_itself() -> None:
    assert to_text("hello\nworld", limits=LIMITS, strict=True) == ("hello\nworld", False)


def test_text_of_other_is_indented_json() -> None:
    text, truncated = to_text({"a": (1, 2)}, limits=LIMITS, strict=True)
    assert truncated is False
    assert json.loads(text) == {"a": [1, 2]}
    assert "\n  " in text


def test_text_of_huge_str() -> None:
    with pytest.raises(TooLarge):
        to_text("x" * 2000, limits=Limits(max_render_bytes=1000), strict=True)
    text, truncated = to_text("x" * 2000, limits=Limits(preview_bytes=100), strict=False)
    assert truncated is True
    assert text.endswith(TRUNCATED)


@pytest.mark.parametrize(
    "value",
    [
        None,
        [1, "a", (2,), ()],
        {"k": {1.5, 2.5}},
        {"a": frozenset({1})},
        set(),
        b"\x00",
        dt.datetime(2024, 1, 2, tzinfo=UTC),
        uuid.UUID(int=3),
        (1, [2, {"x": None}]),
    ],
)
def test_repr_of_plain_values_is_python_repr(value: Any) -> None:
    assert to_repr(value, limits=LIMITS, strict=True) == (repr(value), False)


def test_repr_of_many_rows_matches_and_previews_are_cut() -> None:
    rows = [{"id": i, "name": f"row-{i}", "ok": i % 2 == 0, "score": i * 0.5} for i in range(5000)]
    assert to_repr(rows, limits=LIMITS, strict=True) == (repr(rows), False)
    text, truncated = to_repr(rows, limits=Limits(preview_bytes=1000), strict=False)
    assert truncated is True
    assert text.endswith(TRUNCATED)
    assert text.startswith(repr(rows)[:900])
    assert len(text) < 1200
    with pytest.raises(TooLarge):
        to_repr(rows, limits=Limits(max_render_items=10_000), strict=True)


def test_code_stored_by_value_renders_as_small_tags() -> None:
    import cloudpickle

    class Local:  # not importable: cloudpickle stores the class (and the lambda) by value
        pass

    value = safe_loads(cloudpickle.dumps({"cls": Local, "fn": lambda q: q}))
    rendering = js(value)
    assert rendering["cls"]["__class__"] == "builtins.type"
    assert rendering["cls"]["data"].endswith("Local")
    assert rendering["fn"]["__class__"] == "builtins.function"
    assert rendering["fn"]["data"].endswith("<lambda>")
    assert qualname_of(value["cls"]) == "builtins.type"
    text, _ = to_repr(value, limits=LIMITS, strict=True)
    assert "<placeholder class " in text
    assert "<placeholder function " in text
