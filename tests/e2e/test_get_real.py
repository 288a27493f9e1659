"""`resultgate get` and `fetch_result` end to end: a real Prefect server, real flows
and tasks persisting results with every serializer, to default storage and to a
LocalFileSystem block; every kind of id; the CLI as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from resultgate import NoPersistedResult, Placeholder, fetch_result
from resultgate._config import Settings

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
RESULTGATE = Path(sys.executable).parent / "resultgate"
PAYLOAD = {"name": "every", "n": 3, "items": [1, 2.5, "three", None, True]}


@pytest.fixture(scope="module")
def runs(prefect_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    block_dir = tmp_path_factory.mktemp("rg-local-block")
    script = (HERE / "flows_every_serializer.py").read_text()
    prefect_server.env["RG_LOCAL_BLOCK_DIR"] = str(block_dir)
    try:
        out: dict[str, Any] = prefect_server.run_flow_script(script, timeout=240)
    finally:
        prefect_server.env.pop("RG_LOCAL_BLOCK_DIR", None)
    out["_block_dir"] = str(block_dir)
    return out


@pytest.fixture(scope="module")
def env(prefect_server: Any) -> dict[str, str]:
    return {
        "PREFECT_API_URL": prefect_server.api_url,
        "RESULTGATE_LOCAL_STORAGE_PATH": str(prefect_server.storage_path),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }


@pytest.fixture(scope="module")
def settings(env: dict[str, str]) -> Settings:
    return Settings.load(None, env)


def get(id: str, settings: Settings) -> Any:
    return fetch_result(id, settings=settings)


@pytest.mark.parametrize(
    "name", ["std_pickle", "lzma_pickle", "lzma_json", "zlib_json", "bz2_pickle", "gzip_json"]
)
def test_every_serializer_gives_the_value(runs: dict[str, Any], settings: Settings, name: str) -> None:
    result = get(runs[name]["state_id"], settings)
    assert result.value == PAYLOAD
    assert result.json() == PAYLOAD
    assert result.safety.carries_code is False


def test_the_original_question_by_every_id_kind(runs: dict[str, Any], settings: Settings) -> None:
    run = runs["default_str"]
    for id in (run["state_id"], run["flow_run_id"]):
        result = get(id, settings)
        assert result.value == "hello world"
        assert result.text() == "hello world"
        assert result.serializer["type"] == "pickle"
        assert result.state is not None
        assert result.state.type == "COMPLETED"


def test_rich_values_are_built_and_render_alike_from_json_and_pickle(
    runs: dict[str, Any], settings: Settings
) -> None:
    from_json = get(runs["json_rich"]["state_id"], settings)
    from_pickle = get(runs["pickle_rich"]["state_id"], settings)
    for result in (from_json, from_pickle):
        assert result.value["when"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        assert result.value["day"] == date(2024, 2, 29)
        assert result.value["id"] == UUID("12345678-1234-5678-1234-567812345678")
        assert result.value["amount"] == Decimal("1.10")
    assert from_json.json() == from_pickle.json()


def test_a_local_file_system_block(runs: dict[str, Any], settings: Settings) -> None:
    result = get(runs["in_block"]["state_id"], settings)
    assert result.value == "stored in a local-file-system block"
    assert result.reference is not None
    assert result.reference.storage_block_id is not None
    assert result.location is not None
    assert runs["_block_dir"] in result.location


def test_a_class_stored_by_value_is_a_placeholder(runs: dict[str, Any], settings: Settings) -> None:
    result = get(runs["by_value"]["state_id"], settings)
    assert isinstance(result.value, Placeholder)
    assert result.value.qualname.endswith("Point")
    assert result.safety.carries_code is True
    rendered = json.dumps(result.json())
    assert '"x": 1' in rendered
    assert '"y": 2' in rendered


def test_a_failed_flow_shows_its_exception(runs: dict[str, Any], settings: Settings) -> None:
    result = get(runs["failing"]["flow_run_id"], settings)
    assert result.state is not None
    assert result.state.type == "FAILED"
    assert isinstance(result.value, Placeholder)
    assert result.value.qualname == "builtins.ValueError"
    assert result.value.args == ("boom: e2e failure",)


def test_no_persisted_result_says_how_to_turn_it_on(runs: dict[str, Any], settings: Settings) -> None:
    with pytest.raises(NoPersistedResult) as info:
        get(runs["not_persisted"]["state_id"], settings)
    assert "persist_result" in str(info.value)


def test_tasks_by_run_id_and_by_state_id(runs: dict[str, Any], settings: Settings) -> None:
    tasks = runs["with_tasks"]["task_runs"]
    expected = {"t_add": 5, "t_json": {"n": 5, "double": 10}, "t_lzma": [0, 1, 2, 3, 4], "t_block": "TASKS"}
    for name, value in expected.items():
        for id in (tasks[name]["task_run_id"], tasks[name]["state_id"]):
            assert get(id, settings).value == value, (name, id)
    with pytest.raises(NoPersistedResult):
        get(tasks["t_off"]["task_run_id"], settings)
    flow_value = get(runs["with_tasks"]["flow_run_id"], settings).value
    assert flow_value == [5, {"n": 5, "double": 10}, [0, 1, 2, 3, 4], "TASKS", 7]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(RESULTGATE), *args], env=env, capture_output=True, timeout=60, check=False)


def test_cli_get_prints_exactly_the_string(runs: dict[str, Any], env: dict[str, str]) -> None:
    done = run_cli("get", runs["default_str"]["state_id"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().rstrip("\n") == "hello world"


def test_cli_get_json_pipes_to_jq(runs: dict[str, Any], env: dict[str, str]) -> None:
    done = run_cli("get", runs["lzma_json"]["flow_run_id"], "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == PAYLOAD


def test_cli_get_errors_are_one_line_with_their_exit_code(runs: dict[str, Any], env: dict[str, str]) -> None:
    done = run_cli("get", runs["not_persisted"]["flow_run_id"], env=env)
    assert done.returncode == NoPersistedResult.exit_code
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert "persist" in err
    unknown = run_cli("get", "00000000-0000-4000-8000-000000000000", env=env)
    assert unknown.returncode == 4
    assert "Traceback" not in unknown.stderr.decode()


def test_cli_export_writes_json_lines_for_every_run(
    runs: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "export.jsonl"
    done = run_cli("export", runs["with_tasks"]["flow_run_id"], "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 6
    assert lines[0]["kind"] == "flow_run"
    assert lines[0]["status"] == "ok"
    by_name = {line["run_name"].rsplit("-", 1)[0]: line for line in lines[1:]}
    assert by_name["t_add"]["value"] == 5
    assert by_name["t_block"]["value"] == "TASKS"
    assert by_name["t_off"]["status"] == "no-result"
    piped = run_cli("export", runs["with_tasks"]["flow_run_id"], env=env)
    assert piped.returncode == 0
    assert [json.loads(line)["status"] for line in piped.stdout.decode().splitlines()].count("ok") == 5
