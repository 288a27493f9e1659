"""Example flows for the demo, run by real Prefect against the demo's server.

They persist their results the way the original question had it: a flow
returning "hello world" with Prefect's defaults (cloudpickle, base64, a raw
file in local storage). Prints one JSON line with the ids the demo needs.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from prefect import flow, task


@flow(persist_result=True)
def hello() -> str:
    return "hello world"


@flow(persist_result=True, result_serializer="json")
def report() -> dict[str, object]:
    return {"rows": 3, "ok": True, "at": datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)}


@flow(persist_result=True)
def records() -> list[dict[str, object]]:
    return [{"id": i, "name": f"item-{i}", "score": i * 1.5} for i in range(5)]


@flow(persist_result=True)
def broken() -> None:
    raise ValueError("the demo flow failed on purpose")


@task(persist_result=True)
def square(n: int) -> int:
    return n * n


@task(persist_result=True, result_serializer="json")
def describe(values: list[int]) -> dict[str, int]:
    return {"count": len(values), "total": sum(values)}


@flow(persist_result=True)
def pipeline() -> dict[str, int]:
    values = [square(n) for n in range(4)]
    return describe(values)


def main() -> None:
    ids: dict[str, dict[str, str | None]] = {}
    for name, fn in [
        ("hello", hello),
        ("report", report),
        ("records", records),
        ("broken", broken),
        ("pipeline", pipeline),
    ]:
        state = fn(return_state=True)
        ids[name] = {
            "state_id": str(state.id),
            "flow_run_id": str(state.state_details.flow_run_id),
            "type": state.type.value,
        }
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
