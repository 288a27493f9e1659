"""Every captured case, Prefect 2 and 3, through the whole service: the API answers
are the captured JSON (served by a fake transport), storage is the case folder
(reached through a path map, as a user would map another machine's paths)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from resultgate import NoPersistedResult
from resultgate._config import Settings
from resultgate._plan import Response
from resultgate._service import ResultService
from support.cases import Case, all_cases
from test_fixtures_decode import assert_matches

CASES = all_cases()


class CapturedPrefect:
    """A :class:`SyncTransport` answering from one case's captured API responses."""

    def __init__(self, case: Case) -> None:
        self.routes: dict[str, bytes] = {}
        self.calls: list[str] = []
        state = case.json("state.json")
        self.routes[f"/flow_run_states/{state['id']}"] = (case.dir / "state.json").read_bytes()
        self.routes[f"/flow_runs/{case.meta['flow_run_id']}"] = (case.dir / "flow_run.json").read_bytes()
        self.task_runs: list[Any] = []
        for task_dir in (
            sorted((case.dir / "task_runs").glob("*")) if (case.dir / "task_runs").exists() else []
        ):
            task_state = json.loads((task_dir / "state.json").read_text())
            task_run = json.loads((task_dir / "task_run.json").read_text())
            self.routes[f"/task_run_states/{task_state['id']}"] = (task_dir / "state.json").read_bytes()
            self.routes[f"/task_runs/{task_run['id']}"] = (task_dir / "task_run.json").read_bytes()
            self.task_runs.append(task_run)
        for doc in (
            (case.dir / "block_documents").glob("*.json") if (case.dir / "block_documents").exists() else []
        ):
            self.routes[f"/block_documents/{doc.stem}"] = doc.read_bytes()

    def __call__(self, method: str, url: str, headers: Any, body: bytes | None, timeout: float) -> Response:
        path = re.sub(r"^http://prefect\.test/api", "", url).split("?", 1)[0]
        self.calls.append(f"{method} {path}")
        if method == "POST" and path == "/task_runs/filter":
            offset = json.loads(body or b"{}").get("offset", 0)
            page = self.task_runs if offset == 0 else []
            return Response(200, {"content-type": "application/json"}, json.dumps(page).encode())
        content = self.routes.get(path)
        if content is None:
            return Response(404, {"content-type": "application/json"}, b'{"detail":"Not found"}')
        return Response(200, {"content-type": "application/json"}, content)


def service_for(case: Case, tmp_path: Path) -> ResultService:
    """Map every folder the case's results were written to onto the case's result folder."""
    targets = {str(Path(r["original_location"]).parent): str(case.dir / "result") for r in case.results()}
    for doc in (
        (case.dir / "block_documents").glob("*.json") if (case.dir / "block_documents").exists() else []
    ):
        basepath = json.loads(doc.read_text())["data"].get("basepath")
        if basepath:
            targets[basepath] = str(case.dir / "result")
    env = {
        "PREFECT_API_URL": "http://prefect.test/api",
        "RESULTGATE_PATH_MAP": ";".join(f"{src}={dst}" for src, dst in targets.items()),
        "RESULTGATE_LOCAL_STORAGE_PATH": str(tmp_path),
        "RESULTGATE_RESULT_WAIT": "0",
    }
    return ResultService(Settings.load(None, env), transport=CapturedPrefect(case))


def owners(case: Case) -> list[tuple[str, str, str | None]]:
    """(owner, state id, run id) for the flow and every task."""
    out = [("flow", case.json("state.json")["id"], case.meta["flow_run_id"])]
    for task in case.meta.get("task_runs") or []:
        out.append((f"task:{task['task_name']}", task["state_id"], task["task_run_id"]))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_by_state_id_and_run_id(case: Case, tmp_path: Path) -> None:
    service = service_for(case, tmp_path)
    persisted = "persist_false" not in case.name
    for owner, state_id, run_id in owners(case):
        expected = case.expected(owner)
        for id in (state_id, run_id):
            if not persisted:
                with pytest.raises(NoPersistedResult) as info:
                    service.fetch(id)
                assert "persist_result" in str(info.value)
                continue
            result = service.fetch(id)
            assert_matches(result.json(), expected)
            assert result.state is not None
            assert result.state.type == case.meta["final_state_type"] or owner != "flow"


@pytest.mark.parametrize("case", [c for c in CASES if (c.dir / "task_runs").exists()], ids=lambda c: c.name)
def test_export_gives_the_flow_and_every_task(case: Case, tmp_path: Path) -> None:
    service = service_for(case, tmp_path)
    total, items = service.export(case.meta["flow_run_id"])
    got = list(items)
    assert total == len(got) == 1 + len(case.meta["task_runs"])
    assert got[0].kind == "flow_run"
    assert all(item.status == "ok" for item in got), [(i.run.get("name"), i.status, i.error) for i in got]
    names = {t["task_run_id"]: t["task_name"] for t in case.meta["task_runs"]}
    for item in got[1:]:
        assert item.result is not None
        assert_matches(item.result.json(), case.expected(f"task:{names[item.run['id']]}"))


def test_a_result_is_read_and_decoded_once_then_cached(tmp_path: Path) -> None:
    from support.cases import case

    service = service_for(case("p2_pickle_str_default"), tmp_path)
    state_id = case("p2_pickle_str_default").json("state.json")["id"]
    first = service.fetch(state_id)
    calls = list(service._transport.calls)  # type: ignore[attr-defined]
    second = service.fetch(state_id)
    assert first.value == second.value == "hello world"
    assert service.cache_stats.hits >= 1
    # a state never changes: the second fetch by state id asks Prefect nothing
    assert service._transport.calls == calls  # type: ignore[attr-defined]
