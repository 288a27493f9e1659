"""Property: any value built from supported plain types, pickled by pickle (protocols
0-5) or cloudpickle, decodes with safe_loads to an equal value and no placeholders."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import math
import pathlib
import pickle
import uuid
import zoneinfo
from typing import Any

import cloudpickle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resultgate._decode.safepickle import safe_loads
from resultgate._safety import SafetyCollector

pytestmark = pytest.mark.timeout(300)

_ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")

fixed_offsets = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)).map(
        lambda d: datetime.timedelta(minutes=d // datetime.timedelta(minutes=1))
    ),
)
zones = st.sampled_from(_ZONES).map(zoneinfo.ZoneInfo)
timezones = st.one_of(st.none(), st.just(datetime.timezone.utc), fixed_offsets, zones)

finite_floats = st.floats(allow_nan=False)

hashable_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    finite_floats,
    st.text(max_size=30),
    st.binary(max_size=30),
    st.datetimes(timezones=timezones),
    st.dates(),
    st.times(timezones=st.one_of(st.none(), st.just(datetime.timezone.utc), fixed_offsets)),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.fractions(max_denominator=10**6),
    st.complex_numbers(allow_nan=False),
    st.builds(pathlib.PurePosixPath, st.text(alphabet="abc/._-", max_size=20)),
)

hashables = st.recursive(
    hashable_scalars,
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=4)),
    max_leaves=6,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(hashables, inner, max_size=5),
        st.sets(hashables, max_size=5),
        st.dictionaries(st.text(max_size=10), inner, max_size=5).map(collections.OrderedDict),
        st.lists(inner, max_size=5).map(collections.deque),
        st.tuples(st.lists(inner, max_size=5), st.integers(0, 10)).map(lambda t: collections.deque(*t)),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=5).map(collections.Counter),
        st.dictionaries(st.text(max_size=5), st.lists(st.integers(), max_size=3), max_size=4).map(
            lambda d: collections.defaultdict(list, d)
        ),
        st.binary(max_size=50).map(bytearray),
    )


values = st.recursive(hashables, _containers, max_leaves=25)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (== alone would let 1 == 1.0 == True pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if list(a) != list(b) and not isinstance(a, collections.Counter):
            return False
        return all(k in b and same(a[k], b[k]) for k in a) and len(a) == len(b)
    if isinstance(a, list | tuple | collections.deque):
        if isinstance(a, collections.deque) and a.maxlen != b.maxlen:
            return False
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, set | frozenset):
        return a == b
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime.datetime | datetime.time):
        return a == b and a.tzinfo == b.tzinfo
    if isinstance(a, decimal.Decimal):
        return a.as_tuple() == b.as_tuple()
    return bool(a == b)


def check(data: bytes, value: Any, reference: Any) -> None:
    collector = SafetyCollector()
    out = safe_loads(data, collector=collector)
    assert same(out, reference), (out, reference)
    assert out == value
    report = collector.report()
    assert report.placeholders == ()
    assert not report.carries_code
    assert report.calls == ()


_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(value=values)
def test_pickle_all_protocols(value: Any) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(value, protocol=protocol)
        # pickle itself is the reference on data we made (protocols < 4 lose datetime.fold)
        check(data, value, pickle.loads(data))


@_settings
@given(value=values)
def test_cloudpickle(value: Any) -> None:
    data = cloudpickle.dumps(value)
    check(data, value, pickle.loads(data))


@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.decimals(allow_nan=False), st.fractions(), st.uuids(), st.timedeltas()))
def test_scalars_equal_the_original_exactly(value: Any) -> None:
    # no reference unpickler here: the value itself
    for protocol in (0, 2, 5):
        assert same(safe_loads(pickle.dumps(value, protocol=protocol)), value)


def test_uuid_subclass_and_fields_survive() -> None:
    value = uuid.uuid4()
    out = safe_loads(pickle.dumps(value, protocol=2))
    assert type(out) is uuid.UUID
    assert (out.int, out.is_safe, str(out)) == (value.int, value.is_safe, str(value))


def test_fraction_text_form_of_older_pythons() -> None:
    # Python < 3.12 wrote Fraction as (str,) in some versions: both forms build
    data = b"\x80\x02cfractions\nFraction\nX\x03\x00\x00\x003/4\x85R."
    assert safe_loads(data) == fractions.Fraction(3, 4)
