"""Flows and tasks that persist results with every serializer, run by real Prefect.

Run as a script against a server (PREFECT_API_URL set); prints one JSON line:
``{name: {"flow_run_id", "state_id", "type", "task_runs": {task: {"task_run_id", "state_id"}}}}``.
The storage block folder comes from RG_LOCAL_BLOCK_DIR.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

from prefect import flow, task
from prefect.filesystems import LocalFileSystem
from prefect.serializers import CompressedSerializer, JSONSerializer, PickleSerializer

block = LocalFileSystem(basepath=os.environ["RG_LOCAL_BLOCK_DIR"])
block.save("rg-local", overwrite=True)

PAYLOAD = {"name": "every", "n": 3, "items": [1, 2.5, "three", None, True]}


class Point:  # defined in __main__: cloudpickle stores the class by value
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


@flow(persist_result=True)
def default_str() -> str:
    return "hello world"


@flow(persist_result=True, result_serializer=PickleSerializer(picklelib="pickle"))
def std_pickle() -> dict[str, object]:
    return PAYLOAD


@flow(persist_result=True, result_serializer="json")
def json_rich() -> dict[str, object]:
    return {
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "day": date(2024, 2, 29),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1.10"),
    }


@flow(persist_result=True)
def pickle_rich() -> dict[str, object]:
    return {
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "day": date(2024, 2, 29),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1.10"),
    }


@flow(persist_result=True, result_serializer="compressed/pickle")
def lzma_pickle() -> dict[str, object]:
    return PAYLOAD


@flow(persist_result=True, result_serializer="compressed/json")
def lzma_json() -> dict[str, object]:
    return PAYLOAD


@flow(
    persist_result=True,
    result_serializer=CompressedSerializer(serializer=JSONSerializer(), compressionlib="zlib"),
)
def zlib_json() -> dict[str, object]:
    return PAYLOAD


@flow(
    persist_result=True,
    result_serializer=CompressedSerializer(serializer=PickleSerializer(), compressionlib="bz2"),
)
def bz2_pickle() -> dict[str, object]:
    return PAYLOAD


@flow(persist_result=True, result_serializer=CompressedSerializer(serializer="json", compressionlib="gzip"))
def gzip_json() -> dict[str, object]:
    return PAYLOAD


@flow(persist_result=True, result_storage="local-file-system/rg-local")
def in_block() -> str:
    return "stored in a local-file-system block"


@flow(persist_result=True)
def by_value() -> Point:
    return Point(1, 2)


@flow(persist_result=True)
def failing() -> None:
    raise ValueError("boom: e2e failure")


@flow(persist_result=False)
def not_persisted() -> str:
    return "not persisted"


@task(persist_result=True)
def t_add(a: int, b: int) -> int:
    return a + b


@task(persist_result=True, result_serializer="json")
def t_json(n: int) -> dict[str, int]:
    return {"n": n, "double": 2 * n}


@task(persist_result=True, result_serializer="compressed/pickle")
def t_lzma(n: int) -> list[int]:
    return list(range(n))


@task(persist_result=True, result_storage="local-file-system/rg-local")
def t_block(s: str) -> str:
    return s.upper()


@task(persist_result=False)
def t_off() -> int:
    return 7


@flow(persist_result=True)
def with_tasks() -> list[object]:
    a = t_add(2, 3)
    return [a, t_json(a), t_lzma(a), t_block("tasks"), t_off()]


def _task_runs(client: object, flow_run_id: str) -> dict[str, dict[str, str]]:
    """The flow's task runs once their final states have reached the server (they travel as events)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30
    while True:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))  # type: ignore[attr-defined]
        if (
            len(runs) >= 5 and all(r.state and r.state.is_final() for r in runs)
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {r.name.rsplit("-", 1)[0]: {"task_run_id": str(r.id), "state_id": str(r.state_id)} for r in runs}


def main() -> None:
    from prefect import get_client

    out: dict[str, object] = {}
    flows = [
        default_str,
        std_pickle,
        json_rich,
        pickle_rich,
        lzma_pickle,
        lzma_json,
        zlib_json,
        bz2_pickle,
        gzip_json,
        in_block,
        by_value,
        failing,
        not_persisted,
        with_tasks,
    ]
    with get_client(sync_client=True) as client:
        for fn in flows:
            state = fn(return_state=True)
            fr = str(state.state_details.flow_run_id)
            entry: dict[str, object] = {
                "flow_run_id": fr,
                "state_id": str(state.id),
                "type": state.type.value,
            }
            if fn is with_tasks:
                entry["task_runs"] = _task_runs(client, fr)
            out[fn.__name__] = entry
    print(json.dumps(out))


if __name__ == "__main__":
    main()
