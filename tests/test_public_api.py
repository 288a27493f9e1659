"""The public face: ``resultgate.__all__`` is complete and every name in it resolves."""

from __future__ import annotations

import importlib
import types

import pytest

import resultgate
from resultgate import _errors


@pytest.mark.parametrize("name", resultgate.__all__)
def test_every_name_resolves(name: str) -> None:
    assert getattr(resultgate, name) is not None


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in resultgate.__all__ if n != "__version__"]
    assert len(set(resultgate.__all__)) == len(resultgate.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))


def test_every_error_class_is_public() -> None:
    errors = {
        name
        for name, value in vars(_errors).items()
        if isinstance(value, type) and issubclass(value, _errors.ResultgateError)
    }
    assert errors <= set(resultgate.__all__)


def test_every_lazy_name_is_listed() -> None:
    assert set(resultgate._LAZY) <= set(resultgate.__all__)


def test_every_public_module_level_name_is_listed() -> None:
    helpers = {"annotations", "TYPE_CHECKING", "Any"}
    public = {
        n
        for n, v in vars(resultgate).items()
        if not n.startswith("_") and n not in helpers and not isinstance(v, types.ModuleType)
    }
    assert public <= set(resultgate.__all__)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        resultgate.nope  # noqa: B018


def test_lazy_names_come_from_their_modules() -> None:
    result_module = importlib.import_module("resultgate._result")
    assert resultgate.decode_record is result_module.decode_record
    assert resultgate.Result is result_module.Result


def test_decode_record_from_the_public_face() -> None:
    result = resultgate.decode_record(b"gAVLKi4=\n", "pickle")
    assert (result.value, result.value_type, result.format) == (42, "builtins.int", "raw")
    assert result.text() == "42"
