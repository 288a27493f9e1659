"""parse_state_data / check_expired over every captured state and the shapes not captured."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from resultgate._errors import MalformedRecord, NoPersistedResult, ResultExpired, UnsupportedSerializer
from resultgate._model import LiteralValue, Reference, StateInfo
from resultgate._refs import check_expired, parse_expiration, parse_state_data
from support.cases import CASES_DIR, all_cases, case


def _state(data: Any, type_: str = "COMPLETED", message: str | None = None, task: bool = False) -> StateInfo:
    return StateInfo.from_api(
        {
            "id": "11111111-2222-3333-4444-555555555555",
            "type": type_,
            "name": type_.title(),
            "message": message,
            "data": data,
            "state_details": {
                "flow_run_id": "aaaaaaaa-2222-3333-4444-555555555555",
                "task_run_id": "bbbbbbbb-2222-3333-4444-555555555555" if task else None,
            },
        }
    )


def _all_state_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*/state.json")) + sorted(CASES_DIR.glob("*/task_runs/*/state.json"))


@pytest.mark.parametrize("path", _all_state_files(), ids=lambda p: str(p.relative_to(CASES_DIR)))
def test_every_captured_state(path: Path) -> None:
    raw = json.loads(path.read_text())
    state = StateInfo.from_api(raw)
    data = raw["data"]
    if data is None:
        with pytest.raises(NoPersistedResult):
            parse_state_data(state)
        return
    got = parse_state_data(state)
    if data.get("type") == "literal":
        assert got == LiteralValue(data["value"])
        return
    assert isinstance(got, Reference)
    assert got.storage_key == data["storage_key"]
    assert got.storage_block_id == data["storage_block_id"]
    if "type" in data:
        assert got.era == "prefect2"
        assert got.serializer == {"type": data["serializer_type"]}
    else:
        assert got.era == "prefect3"
        assert got.serializer == data["serializer"]
        assert got.prefect_version == "3.9.1"
    check_expired(got)  # none of the captures expires


def test_refs_agree_with_case_metadata() -> None:
    """case.json says which storage key each owner's result has: the parsed flow ref agrees."""
    checked = 0
    for c in all_cases():
        flow = next((r for r in c.meta["results"] if r["owner"] == "flow"), None)
        ref = None
        data = c.state["data"]
        if data and data.get("type") != "literal":
            ref = parse_state_data(StateInfo.from_api(c.state))
        if flow and ref is not None and flow.get("storage_key"):
            assert isinstance(ref, Reference)
            assert ref.storage_key == flow["storage_key"]
            checked += 1
    assert checked >= 15


def test_p3_task_state_serializer_is_trimmed() -> None:
    raw = case("p3_tasks_default").json("task_runs/as_json/state.json")
    ref = parse_state_data(StateInfo.from_api(raw))
    assert isinstance(ref, Reference)
    assert ref.serializer == {"type": "json"}
    assert ref.storage_block_id is None
    assert ref.storage_key.startswith("/home/alice/.prefect/storage/")


def test_p2_literal_none_task() -> None:
    raw = case("p2_literal_results").json("task_runs/nothing/state.json")
    assert parse_state_data(StateInfo.from_api(raw)) == LiteralValue(None)


@pytest.mark.parametrize("name", ["p2_persist_false", "p3_persist_false"])
def test_persist_false_says_how_to_turn_it_on(name: str) -> None:
    with pytest.raises(NoPersistedResult) as info:
        parse_state_data(StateInfo.from_api(case(name).state))
    err = info.value
    assert "has no persisted result" in err.message
    assert err.hint is not None
    assert "persist_result=True" in err.hint
    assert "PREFECT_RESULTS_PERSIST_BY_DEFAULT=true" in err.hint


@pytest.mark.parametrize("type_", ["FAILED", "CRASHED"])
def test_failed_state_without_result_carries_its_message(type_: str) -> None:
    msg = "Flow run encountered an exception: ValueError: boom"
    with pytest.raises(NoPersistedResult) as info:
        parse_state_data(_state(None, type_, msg))
    assert msg in info.value.message
    assert type_ in info.value.message


def test_failed_fixture_state_with_result_is_a_reference() -> None:
    ref = parse_state_data(StateInfo.from_api(case("p3_failed_flow").state))
    assert isinstance(ref, Reference)


def test_running_state_says_not_finished() -> None:
    with pytest.raises(NoPersistedResult, match="not finished"):
        parse_state_data(_state(None, "RUNNING"))


def test_task_state_named_as_task() -> None:
    with pytest.raises(NoPersistedResult, match="task run state"):
        parse_state_data(_state(None, task=True))


def test_unknown_and_unpersisted() -> None:
    assert parse_state_data(_state({"type": "unknown", "value": None})) == LiteralValue(None)
    with pytest.raises(NoPersistedResult):
        parse_state_data(_state({"type": "unpersisted"}))


def test_prefect_30_reference_with_expiration() -> None:
    data = {
        "type": "reference",
        "serializer_type": "json",
        "storage_key": "/abs/path/k",
        "storage_block_id": None,
        "expiration": "2020-01-01T00:00:00Z",
        "serialize_to_none": False,
    }
    ref = parse_state_data(_state(data))
    assert ref == Reference("prefect2", "/abs/path/k", None, {"type": "json"}, "2020-01-01T00:00:00Z")
    with pytest.raises(ResultExpired) as info:
        check_expired(ref, datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert info.value.status == 410


def test_expiration_future_and_edge() -> None:
    base = datetime(2026, 12, 5, 19, 44, 38, 908527, tzinfo=timezone.utc)
    data = {
        "storage_key": "k",
        "expiration": "2026-12-05T19:44:38.908527Z",
        "serializer": {"type": "pickle"},
        "prefect_version": "3.9.1",
        "storage_block_id": None,
    }
    ref = parse_state_data(_state(data))
    check_expired(ref, base - timedelta(seconds=1))
    with pytest.raises(ResultExpired):
        check_expired(ref, base)
    with pytest.raises(ResultExpired):
        check_expired(ref, (base + timedelta(days=1)).replace(tzinfo=None))  # naive = UTC
    check_expired(ref, base - timedelta(days=400))


def test_expiration_parsing() -> None:
    assert parse_expiration("2026-12-05T19:44:38.9085271Z") == datetime(
        2026, 12, 5, 19, 44, 38, 908527, tzinfo=timezone.utc
    )
    assert parse_expiration("2026-12-05T19:44:38+01:00") is not None
    assert parse_expiration("not a date") is None
    # unparseable expiration never blocks a read
    check_expired(Reference("prefect3", "k", None, None, "garbage"))
    check_expired(LiteralValue(1))


def test_legacy_data_document() -> None:
    blob = json.dumps({"key": "abc123", "filesystem_document_id": "f6dcebdf-08f8-41e5-99c4-15b0a3ee7ed7"})
    ref = parse_state_data(_state({"encoding": "result", "blob": blob}))
    assert ref == Reference("legacy", "abc123", "f6dcebdf-08f8-41e5-99c4-15b0a3ee7ed7", None)
    assert parse_state_data(_state({"encoding": "json", "blob": '{"a": [1, 2]}'})) == LiteralValue(
        {"a": [1, 2]}
    )
    assert parse_state_data(_state({"encoding": "text", "blob": "hi"})) == LiteralValue("hi")
    with pytest.raises(UnsupportedSerializer, match="cloudpickle"):
        parse_state_data(_state({"encoding": "cloudpickle", "blob": "gAWVAA=="}))
    with pytest.raises(MalformedRecord):
        parse_state_data(_state({"encoding": "result", "blob": "not json"}))
    with pytest.raises(MalformedRecord):
        parse_state_data(_state({"encoding": "result", "blob": "{}"}))


@pytest.mark.parametrize(
    "data",
    [
        [1, 2],
        "text",
        {"type": "mystery"},
        {"something": 1},
        {"storage_key": None, "serializer": {"type": "pickle"}},
        {"type": "reference", "serializer_type": "pickle", "storage_key": ""},
    ],
)
def test_malformed_shapes(data: Any) -> None:
    with pytest.raises(MalformedRecord):
        parse_state_data(_state(data))


def test_serializer_as_string_and_missing() -> None:
    ref = parse_state_data(_state({"storage_key": "k", "serializer": "json"}))
    assert isinstance(ref, Reference)
    assert ref.serializer == {"type": "json"}
    ref = parse_state_data(_state({"storage_key": "k"}))
    assert isinstance(ref, Reference)
    assert ref.serializer is None


def test_no_result_names_the_state_and_its_runs() -> None:
    from support.cases import case

    state = StateInfo.from_api(case("p3_persist_false").state)
    with pytest.raises(NoPersistedResult) as info:
        parse_state_data(state)
    details = info.value.to_dict()["error"]["details"]
    assert details["state_id"] == state.id
    assert details["flow_run_id"] == case("p3_persist_false").meta["flow_run_id"]
    assert details["task_run_id"] is None
