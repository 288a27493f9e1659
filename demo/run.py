"""`make demo`: the original question, answered for real.

1. Decodes a result file real Prefect wrote (a flow returned "hello world"),
   which `cloudpickle.load` cannot read.
2. Starts a real Prefect server (SQLite, loopback, a temporary home), runs
   example flows that persist their results, starts `resultgate serve` in
   front of it, and shows the curl command that returns the flow's string.
3. Prints what to try next, and stops everything it started when you press
   Ctrl-C (or at once with --no-wait, or when not on a terminal).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandbox import VENV_BIN, Sandbox

HERE = Path(__file__).resolve().parent
BOLD, DIM, GREEN, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[0m") if sys.stdout.isatty() else ("",) * 4


def step(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def show(cmd: str, output: str) -> None:
    print(f"{DIM}${RESET} {cmd}")
    print(f"{GREEN}{output.rstrip()}{RESET}", flush=True)


def curl(url: str) -> str:
    if shutil.which("curl"):
        done = subprocess.run(["curl", "-s", url], capture_output=True, check=False, timeout=60)  # noqa: S603, S607
        return done.stdout.decode(errors="replace")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (loopback)
        return str(response.read().decode(errors="replace"))


def offline_part() -> None:
    step("1. A result file real Prefect wrote (a flow returned 'hello world')")
    path = HERE / "hello-world.result"
    show(f"cat {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}", path.read_text())
    try:
        import cloudpickle

        cloudpickle.load(io.BytesIO(path.read_bytes()))
        print("cloudpickle.load read it?!")
    except Exception as exc:
        show("python -c 'cloudpickle.load(open(FILE, \"rb\"))'", f"{type(exc).__name__}: {exc}")
    out = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "resultgate"), "decode", str(path), "--explain"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    show(f"resultgate decode {path.name} --explain", out.stdout.decode() + out.stderr.decode())


def live_part(wait: bool) -> None:
    root = HERE.parent / ".demo"
    shutil.rmtree(root, ignore_errors=True)  # a fresh Prefect home on every run
    with Sandbox(root) as box:
        step(f"2. Starting a real Prefect server on {box.api_url} (home: {box.home})")
        box.start_prefect()
        step("3. Running example flows that persist results (default cloudpickle, JSON, a failure, tasks)")
        ids = box.run_script(HERE / "flows.py")
        for name, info in ids.items():
            print(f"  {name:9} {info['type']:10} state {info['state_id']}  flow run {info['flow_run_id']}")
        step("4. Starting `resultgate serve` in front of it")
        gw = box.start_gateway()
        print(f"  gateway: {gw}")

        step("5. The answer: the value the flow returned, over HTTP")
        hello = ids["hello"]["state_id"]
        url = f"{gw}/api/flow_run_states/{hello}/result?format=text"
        show(f"curl -s '{url}'", curl(url))
        url = f"{gw}/api/flow_run_states/{ids['report']['state_id']}/result?format=text"
        show(f"curl -s '{url}'", curl(url))
        url = f"{gw}/api/flow_runs/{ids['pipeline']['flow_run_id']}/results"
        body = json.loads(curl(url))
        summary = [
            f"{i['kind']} {i['run_name']}: {i['status']} -> {json.dumps(i.get('value'))}"
            for i in body["items"]
        ]
        show(f"curl -s '{url}'  # every result of a run (summarised)", "\n".join(summary))

        env = os.environ | box.env
        out = subprocess.run(  # noqa: S603
            [str(VENV_BIN / "resultgate"), "get", ids["broken"]["flow_run_id"]],
            capture_output=True,
            env=env,
            check=False,
            timeout=60,
        )
        show(
            f"PREFECT_API_URL={box.api_url} resultgate get {ids['broken']['flow_run_id']}",
            out.stderr.decode() + out.stdout.decode(),
        )

        step("What to try next")
        print(f"  the web page:   {gw}/?id={ids['pipeline']['flow_run_id']}")
        print(f"  the API docs:   {gw}/docs")
        print(f"  the CLI:        PREFECT_API_URL={box.api_url} {VENV_BIN / 'resultgate'} get {hello}")
        print(
            f"  export a run:   PREFECT_API_URL={box.api_url} {VENV_BIN / 'resultgate'} export "
            f"{ids['pipeline']['flow_run_id']}"
        )
        if wait:
            print(
                f"\n{BOLD}Running; press Ctrl-C to stop the gateway and the Prefect server.{RESET}",
                flush=True,
            )
            try:
                while True:
                    box.procs[0].wait()
                    break
            except KeyboardInterrupt:
                pass
        print("\nStopping everything the demo started.", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-wait", action="store_true", help="stop at once instead of waiting for Ctrl-C")
    parser.add_argument("--offline", action="store_true", help="only decode the shipped file (no servers)")
    args = parser.parse_args()
    offline_part()
    if not args.offline:
        live_part(wait=not args.no_wait and sys.stdin.isatty())


if __name__ == "__main__":
    main()
