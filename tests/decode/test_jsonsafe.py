"""loads_json: Prefect's tagged JSON, built only for allowlisted types."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import pathlib
import sys
import uuid
from typing import Any

import pytest

from resultgate import MalformedRecord
from resultgate._decode.jsonsafe import loads_json, parse_datetime
from resultgate._decode.safepickle import Placeholder
from resultgate._safety import SafetyCollector
from support.cases import CASES_DIR

pytestmark = pytest.mark.timeout(30)

UTC = datetime.timezone.utc


def tag(name: str, data: Any) -> str:
    return json.dumps({"__class__": name, "data": data})


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("datetime.datetime", "2024-01-02T03:04:05Z", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "datetime.datetime",
            "2024-01-02T03:04:05.120000Z",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
        ),
        ("datetime.datetime", "2024-01-02T03:04:05", datetime.datetime(2024, 1, 2, 3, 4, 5)),
        (
            "datetime.datetime",
            "2024-01-02T03:04:05+02:00",
            datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        ),
        ("datetime.date", "2024-02-29", datetime.date(2024, 2, 29)),
        ("datetime.time", "01:02:03.000005", datetime.time(1, 2, 3, 5)),
        ("datetime.time", "01:02:03Z", datetime.time(1, 2, 3, tzinfo=UTC)),
        ("datetime.timedelta", "P1DT1H1M1.000005S", datetime.timedelta(days=1, seconds=3661, microseconds=5)),
        ("datetime.timedelta", "-PT5S", datetime.timedelta(seconds=-5)),
        ("datetime.timedelta", "P2W", datetime.timedelta(weeks=2)),
        ("datetime.timedelta", 90.5, datetime.timedelta(seconds=90.5)),
        (
            "uuid.UUID",
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("decimal.Decimal", "1.50", decimal.Decimal("1.50")),
        ("fractions.Fraction", "3/4", fractions.Fraction(3, 4)),
        ("builtins.complex", "1+2j", 1 + 2j),
        ("builtins.set", [1, 2], {1, 2}),
        ("builtins.frozenset", ["a"], frozenset({"a"})),
        ("builtins.bytes", "ab", b"ab"),
        ("builtins.bytearray", "ab", bytearray(b"ab")),
        ("collections.deque", [1, 2], collections.deque([1, 2])),
        ("pathlib.PosixPath", "/a/b", pathlib.PosixPath("/a/b")),
        ("pathlib._local.PosixPath", "/a/b", pathlib.PosixPath("/a/b")),
        ("pathlib.PurePosixPath", "/a/b", pathlib.PurePosixPath("/a/b")),
        ("pathlib.WindowsPath", "C:\\x", pathlib.PureWindowsPath("C:\\x")),
    ],
)
def test_allowlisted_tags_build_real_values(name: str, data: Any, expected: Any) -> None:
    collector = SafetyCollector()
    out = loads_json(tag(name, data), collector=collector)
    assert out == expected
    assert type(out) is type(expected)
    if isinstance(expected, datetime.datetime | datetime.time):
        assert out.tzinfo == expected.tzinfo
    assert collector.report().built == (name,)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("mylib.Model", {"a": 1}),
        ("prefect.results.Thing", [1, 2]),
        ("io.BufferedReader", "<Prefect IOStream Placeholder: ...>"),
        ("os.system", "rm -rf /"),
        ("builtins.eval", "1+1"),
        ("datetime.datetime", "not a date"),  # a known tag with odd data stays a tag
        ("uuid.UUID", 12),
        ("builtins.set", [[1]]),  # unhashable members
        ("fractions.Fraction", "1e99999999"),
        ("zoneinfo.ZoneInfo", "../../etc/passwd"),
        ("datetime.timedelta", "P"),
    ],
)
def test_other_tags_are_placeholders(name: str, data: Any) -> None:
    collector = SafetyCollector()
    out = loads_json(tag(name, data), collector=collector)
    assert isinstance(out, Placeholder)
    assert (out.kind, out.qualname, out.state) == ("json-tag", name, data)
    report = collector.report()
    assert report.placeholders == (name,)
    assert report.named == (name,)
    assert not report.carries_code


def test_exception_tag() -> None:
    collector = SafetyCollector()
    out = loads_json('{"__exc_type__": "builtins.ValueError", "message": "boom"}', collector=collector)
    assert isinstance(out, Placeholder)
    assert (out.kind, out.qualname, out.args) == ("exception", "builtins.ValueError", ("boom",))
    assert collector.report().verdict.startswith("data with an exception (builtins.ValueError)")


@pytest.mark.parametrize(
    "text",
    [
        '{"__class__": "datetime.date", "data": "2024-01-01", "extra": 1}',
        '{"__class__": "datetime.date"}',
        '{"__class__": 12, "data": "2024-01-01"}',
        '{"__exc_type__": "builtins.ValueError", "message": "x", "args": []}',
        '{"__exc_type__": null, "message": "x"}',
    ],
)
def test_near_misses_stay_plain_dicts(text: str) -> None:
    assert loads_json(text) == json.loads(text)


def test_key_order_does_not_matter() -> None:
    assert loads_json('{"data": "2024-01-01", "__class__": "datetime.date"}') == datetime.date(2024, 1, 1)


def test_nested_tags_and_untagged() -> None:
    text = json.dumps({"rows": [{"when": {"__class__": "datetime.date", "data": "2024-01-01"}}]})
    assert loads_json(text) == {"rows": [{"when": datetime.date(2024, 1, 1)}]}
    assert loads_json(text, tagged=False) == json.loads(text)


def test_bytes_input_with_bom_and_nan() -> None:
    out = loads_json(b"\xef\xbb\xbf[1, NaN]")
    assert out[0] == 1
    assert out[1] != out[1]


def test_parse_datetime_without_fromisoformat() -> None:
    # Python 3.10's fromisoformat rejects "Z"; our parser does not need it
    assert parse_datetime("2024-01-02T03:04:05Z") == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime("2024-01-02 03:04") == datetime.datetime(2024, 1, 2, 3, 4)
    with pytest.raises(ValueError, match="not an ISO datetime"):
        parse_datetime("2024-01-02T03")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": 1,\n "b": }', "line 2 column 7"),
        ("", "line 1 column 1"),
        ("[1, 2", "line 1 column 6"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ("1" * 5000, "limit|digits"),
    ],
)
def test_invalid_json(text: str | bytes, match: str) -> None:
    with pytest.raises(MalformedRecord, match=match):
        loads_json(text)


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deep_nesting_is_malformed_not_recursion(depth: int) -> None:
    if depth < sys.getrecursionlimit():
        pytest.skip("not deeper than the recursion limit")
    with pytest.raises(MalformedRecord, match="nested too deeply"):
        loads_json("[" * depth + "]" * depth)


def test_prefect_fixture_with_datetime_and_uuid() -> None:
    path = next((CASES_DIR / "p3_json_datetime_uuid" / "result").iterdir())
    collector = SafetyCollector()
    out = loads_json(path.read_bytes(), collector=collector)
    assert out == {
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "day": datetime.date(2024, 2, 29),
        "plain": "text",
    }
    assert collector.report().built == ("datetime.datetime", "uuid.UUID", "datetime.date")
