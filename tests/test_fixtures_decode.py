"""Every fixture result file (flow and tasks, Prefect 2 and 3) decodes to the value its case records.

The comparator below reads case.json ``expected`` entries: ``json`` when ``json_lossless``,
else per ``$type`` against our Prefect-style rendering. test_cli_decode.py reuses it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from resultgate import decode_record
from support.cases import Case, result_files


def assert_matches(rendering: Any, expected: dict[str, Any]) -> None:
    """``expected`` is a case.json ``expected`` / ``expected_tasks[...]`` entry."""
    if expected.get("json_lossless"):
        assert rendering == expected["json"]
    else:
        assert matches(rendering, expected["json"]), (rendering, expected["json"])


def matches(got: Any, want: Any) -> bool:
    if isinstance(want, dict) and "$type" in want:
        return _TYPED[want["$type"]](got, want)
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(matches(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(matches, got, want))
    return bool(got == want and type(got) is type(want))


def _tag(got: Any, name: str) -> Any:
    if not (isinstance(got, dict) and got.get("__class__") == name and "data" in got):
        raise AssertionError(f"expected a {name} tag, got {got!r}")
    return got["data"]


def _datetime(got: Any, want: dict[str, Any]) -> bool:
    data = _tag(got, "datetime.datetime")
    return dt.datetime.fromisoformat(data.replace("Z", "+00:00")) == dt.datetime.fromisoformat(want["iso"])


def _unordered(got: list[Any], want: list[Any]) -> bool:
    remaining = list(got)
    for item in want:
        hit = next((i for i, g in enumerate(remaining) if matches(g, item)), None)
        if hit is None:
            return False
        remaining.pop(hit)
    return not remaining


def _exception(got: Any, want: dict[str, Any]) -> bool:
    return (
        isinstance(got, dict)
        and got.get("__exc_type__") == want["class"]
        and matches(got.get("args"), want["args"])
        and (got.get("message") == want["str"] or len(want["args"]) != 1)
    )


_TYPED: dict[str, Any] = {
    "bytes": lambda got, want: _tag(got, "builtins.bytes") == want["base64"],
    "datetime": _datetime,
    "date": lambda got, want: _tag(got, "datetime.date") == want["iso"],
    "uuid": lambda got, want: _tag(got, "uuid.UUID") == want["value"],
    "decimal": lambda got, want: _tag(got, "decimal.Decimal") == want["value"],
    "tuple": lambda got, want: matches(got, want["items"]),
    "set": lambda got, want: _unordered(_tag(got, "builtins.set"), want["items"]),
    "frozenset": lambda got, want: _unordered(_tag(got, "builtins.frozenset"), want["items"]),
    "dict": lambda got, want: _unordered(_tag(got, "builtins.dict"), want["items"]),
    "complex": lambda got, want: _tag(got, "builtins.complex") == [want["real"], want["imag"]],
    "float": lambda got, want: _tag(got, "builtins.float") == want["repr"],
    "exception": _exception,
    "pydantic": lambda got, want: matches(_tag(got, want["class"]), want["data"]),
    "object": lambda got, want: matches(_tag(got, want["class"]), want["attributes"]),
    "function": lambda got, want: (
        got == {"__class__": "builtins.function", "data": f"{want['module']}.{want['qualname']}"}
    ),
}


# --- the cases -----------------------------------------------------------------------------------

FILES = result_files()
IDS = [f"{c.name}:{r['owner']}" for c, r in FILES]


def state_file(case: Case, owner: str) -> Path:
    if owner == "flow":
        return case.dir / "state.json"
    return case.dir / "task_runs" / owner.split(":", 1)[1] / "state.json"


def state_serializer(case: Case, owner: str) -> dict[str, Any] | None:
    data = json.loads(state_file(case, owner).read_text())["data"]
    if "serializer" in data:
        return data["serializer"]
    return {"type": data["serializer_type"]}


def test_every_case_has_files() -> None:
    assert len(FILES) >= 28
    assert {c.name for c, _ in FILES} >= {"p3_tasks_default", "p2_tasks_default", "p3_compressed_pickle"}


@pytest.mark.parametrize(("case", "entry"), FILES, ids=IDS)
def test_decodes_with_the_state_serializer(case: Case, entry: dict[str, Any]) -> None:
    owner = entry["owner"]
    result = decode_record(case.file_bytes(entry["file"]), state_serializer(case, owner))
    expected = case.expected(owner)
    assert_matches(result.json(), expected)
    assert result.serializer_guessed is False
    if entry["serializer_in_file"] is not None:
        # the file's own, complete serializer wins over a truncated task state's
        assert result.serializer == {**result.serializer, **entry["serializer_in_file"]}
    if "pickle" in result.serializer["type"]:
        assert result.value_type == expected["python_type"]


@pytest.mark.parametrize(("case", "entry"), FILES, ids=IDS)
def test_decodes_by_detection_alone(case: Case, entry: dict[str, Any]) -> None:
    result = decode_record(case.file_bytes(entry["file"]))
    assert_matches(result.json(), case.expected(entry["owner"]))
    assert result.serializer_guessed is (entry["serializer_in_file"] is None)


@pytest.mark.parametrize(("case", "entry"), FILES, ids=IDS)
def test_preview_and_repr_work(case: Case, entry: dict[str, Any]) -> None:
    result = decode_record(case.file_bytes(entry["file"]), state_serializer(case, entry["owner"]))
    preview, truncated = result.preview()
    assert truncated is False
    assert preview == result.json()
    assert result.repr().strip()
    assert result.safety.to_dict()["carries_code"] is False
