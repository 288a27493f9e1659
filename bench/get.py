"""Benchmark `resultgate get ID` against Prefect's own SDK and a minimal floor.

Run:  .venv/bin/python bench/get.py [--runs N]

Starts a real Prefect server (loopback, temporary home), runs two flows that
persist a small result ("hello world") and a ~50 MB one (a list of dicts), then
times three ways of getting each value from its flow-run id, each as a fresh
process (what a user types), in the same run:

  resultgate   `resultgate get FLOW_RUN_ID --format json > /dev/null`
  prefect-sdk  a Python script: read the flow run with Prefect's client, `state.result()`
  floor        a Python script: urllib GET of the flow run, open the file, base64, `pickle.loads`
               (unsafe, and knows the storage path; the least work any tool can do)
  floor+print  the floor, then `json.dumps(value, default=str)` to stdout: like `get`, it shows the
               value (but unguarded: no size, depth or sharing limits)

Prints the median wall time and peak RSS of each, and the ratios against the
targets: resultgate <= 0.1x Prefect's SDK and <= 1.5x the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))

from sandbox import VENV_BIN, Sandbox  # noqa: E402

FLOWS = r"""
import json
from prefect import flow

@flow(persist_result=True)
def small() -> str:
    return "hello world"

@flow(persist_result=True)
def big() -> list:
    # ~50 MB once pickled
    return [{"id": i, "name": f"row-{i:07d}", "score": i * 0.5, "tags": ["a", "b"]} for i in range(900_000)]

out = {}
for name, fn in [("small", small), ("big", big)]:
    state = fn(return_state=True)
    out[name] = str(state.state_details.flow_run_id)
print(json.dumps(out))
"""

SDK = r"""
import sys
from prefect import get_client
with get_client(sync_client=True) as client:
    state = client.read_flow_run(sys.argv[1]).state
    value = state.result()
assert value is not None
"""

FLOOR = r"""
import base64, json, os, pickle, sys, urllib.request
with urllib.request.urlopen(os.environ["PREFECT_API_URL"] + "/flow_runs/" + sys.argv[1]) as r:
    state = json.load(r)["state"]
with open(state["data"]["storage_key"], "rb") as f:
    value = pickle.loads(base64.decodebytes(f.read()))
assert value is not None
"""


FLOOR_PRINT = (
    FLOOR
    + """
sys.stdout.write(json.dumps(value, default=str))
"""
)


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{argv[:3]} failed ({proc.returncode}): {err.read().decode(errors='replace')[-1500:]}"
            )
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per tool for the small result (big: ceil(runs/2))"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rg-bench-get-") as tmp, Sandbox(Path(tmp)) as box:
        print(f"starting Prefect server ({box.api_url}) ...", flush=True)
        box.start_prefect()
        print("running flows (small + ~50 MB result) ...", flush=True)
        ids = box.run_script(_write(Path(tmp), "flows.py", FLOWS))
        sdk = _write(Path(tmp), "sdk.py", SDK)
        floor = _write(Path(tmp), "floor.py", FLOOR)
        floor_print = _write(Path(tmp), "floor_print.py", FLOOR_PRINT)
        env = os.environ | box.env
        tools = {
            "resultgate": lambda fr: [str(VENV_BIN / "resultgate"), "get", fr, "--format", "json"],
            "prefect-sdk": lambda fr: [sys.executable, str(sdk), fr],
            "floor": lambda fr: [sys.executable, str(floor), fr],
            "floor+print": lambda fr: [sys.executable, str(floor_print), fr],
        }
        rows = []
        for case, fr in ids.items():
            runs = args.runs if case == "small" else max(1, (args.runs + 1) // 2)
            size = _result_size(box, fr)
            figures: dict[str, tuple[float, float]] = {}
            for tool, argv in tools.items():
                measure(argv(fr), env)  # warm the page cache and Python's bytecode cache
                samples = [measure(argv(fr), env) for _ in range(runs)]
                figures[tool] = (statistics.median(s[0] for s in samples), max(s[1] for s in samples))
            rows.append((case, size, figures))

    print()
    print(f"{'case':6} {'file':>9} {'tool':12} {'wall s':>8} {'peak MB':>8} {'vs SDK':>7} {'vs floor':>9}")
    for case, size, figures in rows:
        for tool, (wall, rss) in figures.items():
            vs_sdk = wall / figures["prefect-sdk"][0]
            vs_floor = wall / figures["floor"][0]
            print(
                f"{case:6} {size / 1e6:8.1f}M {tool:12} {wall:8.3f} {rss:8.1f} "
                f"{vs_sdk:6.2f}x {vs_floor:8.2f}x"
            )
    print()
    for case, _, figures in rows:
        rg_wall = figures["resultgate"][0]
        a = rg_wall / figures["prefect-sdk"][0]
        b = rg_wall / figures["floor"][0]
        c = rg_wall / figures["floor+print"][0]
        print(
            f"{case}: resultgate = {a:.2f}x Prefect SDK "
            f"(target <= 0.10x: {'met' if a <= 0.1 else 'NOT met'}), "
            f"{b:.2f}x floor (target <= 1.50x: {'met' if b <= 1.5 else 'NOT met'}), "
            f"{c:.2f}x floor+print"
        )


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _result_size(box: Sandbox, flow_run_id: str) -> int:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{box.api_url}/flow_runs/{flow_run_id}") as r:
        key = json.load(r)["state"]["data"]["storage_key"]
    return Path(key).stat().st_size


if __name__ == "__main__":
    main()
