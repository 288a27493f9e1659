"""Benchmark the HTTP gateway against Prefect's own state endpoint.

Run:  .venv/bin/python bench/serve.py [--duration 10] [--concurrency 8] [--big-gib 1]

Starts, on loopback, a real Prefect server (temporary home), a flow that persists
"hello world" the default way, and two ``resultgate serve`` processes: one with
the result cache off (RESULTGATE_CACHE_BYTES=0) and one with it on.
Then, in turns (``--rounds`` slices each, so that the machine's changing load
falls on all alike), each for ``--duration`` seconds in all at ``--concurrency``
requests in flight (keep-alive connections, a small asyncio HTTP/1.1 client so the
client is not the bottleneck):

  (a) Prefect   GET /api/flow_run_states/{id}
  (b) cold      GET /api/flow_run_states/{id}/result  (state from Prefect, file read, decoded)
  (c) warm      the same on the caching gateway

and prints requests/s and p50/p99 latency of each (and, for (a) and (b), the
latency with one request in flight, where no queueing on a small machine blurs
it), the RSS of the warm gateway before and after 20 000 requests, and its
peak RSS while one client streams a ``--big-gib`` GiB result with ``format=raw``
(the file is written into local storage and a state pointing at it is set
through Prefect's API). Targets are printed beside the figures. Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))

from sandbox import Sandbox, free_port, stop, wait_http  # noqa: E402

FLOW = r"""
import json
from prefect import flow

@flow(persist_result=True)
def hello():
    return "hello world"

state = hello(return_state=True)
print(json.dumps({"state_id": str(state.id), "flow_run_id": str(state.state_details.flow_run_id)}))
"""

MiB = 1024 * 1024


# ------------------------------------------------------------------ a lean load client


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send one keep-alive GET; read the whole response; return its status."""
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


@dataclass
class Load:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _load(url: str, *, duration: float, concurrency: int, total: int | None = None) -> Load:
    """``concurrency`` keep-alive connections GETting ``url`` for ``duration`` s
    (or until ``total`` requests are done)."""
    parsed = httpx.URL(url)
    target = parsed.raw_path.decode()
    raw = f"GET {target} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\nAccept: */*\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors, issued
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            while time.perf_counter() < deadline and (total is None or issued < total):
                issued += 1
                start = time.perf_counter()
                status = await _request(reader, writer, raw)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Load(len(latencies), errors, time.perf_counter() - began, latencies)


def load(url: str, *, duration: float, concurrency: int, total: int | None = None) -> Load:
    return asyncio.run(_load(url, duration=duration, concurrency=concurrency, total=total))


def interleaved(
    targets: dict[str, str], *, duration: float, concurrency: int, rounds: int
) -> dict[str, Load]:
    """Each target for ``duration`` s in all, in ``rounds`` turns (after a short warm-up)."""
    for url in targets.values():
        load(url, duration=0.5, concurrency=concurrency)
    out = {name: Load(0, 0, 0.0, []) for name in targets}
    for _ in range(rounds):
        for name, url in targets.items():
            part = load(url, duration=duration / rounds, concurrency=concurrency)
            total = out[name]
            total.requests += part.requests
            total.errors += part.errors
            total.seconds += part.seconds
            total.latencies += part.latencies
    return out


# ------------------------------------------------------------------ processes and memory


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def gateway(
    sandbox: Sandbox, env: dict[str, str], name: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    exe = Path(sys.executable).with_name("resultgate")
    try:
        from resultgate.cli import main

        has_serve = "serve" in getattr(main, "commands", {})
    except ImportError:
        has_serve = False
    cmd = (
        [str(exe), "serve"] if has_serve and exe.exists() else [sys.executable, "-m", "resultgate.server.cli"]
    )
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = sandbox.root / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health/live", 60, proc)
        yield url, proc
    finally:
        stop(proc)


def set_state(api: str, key: str) -> str:
    flow = httpx.post(f"{api}/flows/", json={"name": "bench-big"}, timeout=10).json()
    run = httpx.post(f"{api}/flow_runs/", json={"flow_id": flow["id"], "name": "big"}, timeout=10).json()
    data = {
        "storage_key": key,
        "expiration": None,
        "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
        "prefect_version": "3.9.1",
        "storage_block_id": None,
    }
    body = {"state": {"type": "COMPLETED", "name": "Completed", "data": data}, "force": True}
    resp = httpx.post(f"{api}/flow_runs/{run['id']}/set_state", json=body, timeout=10)
    resp.raise_for_status()
    return str(resp.json()["state"]["id"])


def stream_peak(url: str, pid: int) -> tuple[int, float, float]:
    """Stream ``url`` and discard it while sampling the gateway's RSS: (bytes, peak MiB, seconds)."""
    peak = rss_mib(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = 0
    start = time.perf_counter()
    try:
        with httpx.stream("GET", url, timeout=120) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_raw(1 << 20):
                received += len(chunk)
    finally:
        done.set()
        sampler.join(5)
    return received, peak, time.perf_counter() - start


def storage_read_ms(path: Path, rounds: int = 2000) -> float:
    """Median time to open and read the stored file (the storage part of a cold request)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with path.open("rb") as fh:
            fh.read()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


# ------------------------------------------------------------------ the run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per throughput run")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--requests", type=int, default=20_000, help="requests between the two RSS readings")
    parser.add_argument("--big-gib", type=float, default=1.0, help="size of the streamed raw result")
    parser.add_argument("--rounds", type=int, default=5, help="turns the measurements are split into")
    args = parser.parse_args()

    with Sandbox(Path(tempfile.mkdtemp(prefix="resultgate-bench-serve-"))) as sandbox:
        print(f"# starting Prefect under {sandbox.root}", flush=True)
        sandbox.start_prefect()
        flow_script = sandbox.root / "flow.py"
        flow_script.write_text(FLOW)
        ids: dict[str, Any] = sandbox.run_script(flow_script)
        state_id = ids["state_id"]
        api = sandbox.api_url
        state = httpx.get(f"{api}/flow_run_states/{state_id}", timeout=10).json()
        key = state["data"]["storage_key"]
        stored = Path(key) if os.path.isabs(key) else sandbox.storage / key

        base = sandbox.env | {"RESULTGATE_LOCAL_STORAGE_PATH": str(sandbox.storage)}
        base.pop("RESULTGATE_TOKENS", None)
        c, d = args.concurrency, args.duration
        rows: list[tuple[str, Load]] = []

        read_ms = storage_read_ms(stored)
        big = sandbox.storage / "bench-big-result"
        with big.open("wb") as fh:
            block = os.urandom(MiB)
            for _ in range(int(args.big_gib * 1024)):
                fh.write(block)
        big_state = set_state(api, str(big))

        with (
            gateway(sandbox, base | {"RESULTGATE_CACHE_BYTES": "0"}, "gateway-cold") as (
                cold_url,
                _cold_proc,
            ),
            gateway(sandbox, base, "gateway-warm") as (warm_url, proc),
        ):
            targets = {
                "prefect": f"{api}/flow_run_states/{state_id}",
                "cold": f"{cold_url}/api/flow_run_states/{state_id}/result",
                "warm": f"{warm_url}/api/flow_run_states/{state_id}/result",
            }
            for name in ("cold", "warm"):
                assert httpx.get(targets[name], timeout=30).json()["value"] == "hello world"
            # the three are measured in turns, a slice each per round, so that a change in
            # the machine's load (other processes) falls on all of them alike
            print(f"# (a) Prefect, (b) cold, (c) warm: {args.rounds} rounds, {c} in flight", flush=True)
            by_c = interleaved(targets, duration=d, concurrency=c, rounds=args.rounds)
            print("# (a), (b) again with one request in flight", flush=True)
            by_1 = interleaved(
                {k: targets[k] for k in ("prefect", "cold")},
                duration=d / 2,
                concurrency=1,
                rounds=args.rounds,
            )
            prefect, cold, warm = by_c["prefect"], by_c["cold"], by_c["warm"]
            prefect_1, cold_1 = by_1["prefect"], by_1["cold"]
            rows.append(("(a) Prefect GET /api/flow_run_states/{id}", prefect))
            rows.append(("(b) gateway /result, cold (cache off)", cold))
            rows.append(("(c) gateway /result, warm (cached)", warm))

            print("# RSS over many requests; streaming", flush=True)
            rss_before = rss_mib(proc.pid)
            many = load(targets["warm"], duration=3600, concurrency=c, total=args.requests)
            rss_after = rss_mib(proc.pid)
            received, peak, seconds = stream_peak(
                f"{warm_url}/api/flow_run_states/{big_state}/result?format=raw", proc.pid
            )
            hwm = rss_mib(proc.pid, "VmHWM")
        big.unlink()

    print()
    print(
        f"loopback, {c} in flight, {d:.0f} s per run, {os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )
    print(f"{'measure':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in rows:
        print(f"{name:44} {r.rps:9.0f} {r.pct(0.50):8.2f} {r.pct(0.99):8.2f} {r.errors:7d}")
    print(f"{'storage read of the result file (median)':44} {'':9} {read_ms:8.3f}")
    print("one request at a time (latency without queueing):")
    for name, r in (("(a) Prefect, 1 in flight", prefect_1), ("(b) gateway cold, 1 in flight", cold_1)):
        print(f"{name:44} {r.rps:9.0f} {r.pct(0.50):8.2f} {r.pct(0.99):8.2f}")
    print()
    ratio = warm.rps / prefect.rps if prefect.rps else float("nan")
    cold_bound = 1.2 * (prefect.pct(0.5) + read_ms)
    cold_bound_1 = 1.2 * (prefect_1.pct(0.5) + read_ms)
    print("targets")
    print(
        f"  warm throughput >= 3x Prefect's:        {ratio:6.1f}x                      {verdict(ratio >= 3)}"
    )
    print(
        f"  cold p50 <= 1.2x (Prefect p50 + read), 1 in flight:  {cold_1.pct(0.5):6.2f} ms <= "
        f"{cold_bound_1:6.2f} ms   {verdict(cold_1.pct(0.5) <= cold_bound_1)}"
    )
    print(
        f"  cold p50 <= 1.2x (Prefect p50 + read), {c} in flight:  {cold.pct(0.5):6.2f} ms <= "
        f"{cold_bound:6.2f} ms   {verdict(cold.pct(0.5) <= cold_bound)}"
    )
    growth = rss_after - rss_before
    print(
        f"  RSS growth over {many.requests} requests < 20 MB: "
        f"{rss_before:6.1f} -> {rss_after:6.1f} MiB (+{growth:.1f})   "
        f"{verdict(growth < 20 and many.errors == 0)}"
    )
    print(
        f"  peak RSS streaming {received / 2**30:.2f} GiB raw < 100 MB: {peak:6.1f} MiB sampled, "
        f"VmHWM {hwm:6.1f} MiB, {received / MiB / seconds:6.0f} MiB/s   {verdict(peak < 100 and hwm < 100)}"
    )
    print(json.dumps({
        "prefect": {"rps": prefect.rps, "p50_ms": prefect.pct(0.5), "p99_ms": prefect.pct(0.99)},
        "cold": {"rps": cold.rps, "p50_ms": cold.pct(0.5), "p99_ms": cold.pct(0.99)},
        "prefect_1": {"p50_ms": prefect_1.pct(0.5), "p99_ms": prefect_1.pct(0.99)},
        "cold_1": {"p50_ms": cold_1.pct(0.5), "p99_ms": cold_1.pct(0.99)},
        "warm": {"rps": warm.rps, "p50_ms": warm.pct(0.5), "p99_ms": warm.pct(0.99)},
        "storage_read_ms": read_ms,
        "rss_before_mib": rss_before, "rss_after_mib": rss_after, "requests": many.requests,
        "stream_bytes": received, "stream_peak_rss_mib": peak, "vmhwm_mib": hwm,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
