"""Safe decode vs the unsafe floor, for cloudpickle flow results of ~1 MB and ~100 MB.

    .venv/bin/python bench/decode.py            # 1 MB and 100 MB
    .venv/bin/python bench/decode.py --quick    # 1 MB only

"safe" is ``decode_record(payload, serializer).value`` (classify the file, decode the
base64, run the safe unpickler; no rendering). "floor" is what Prefect itself does,
``pickle.loads(base64.decodebytes(payload))``, which runs whatever the pickle names.
A file is ``base64.encodebytes(cloudpickle.dumps(value))``, as a 3.x flow writes it.
Targets: time <= 1.3x the floor, peak memory <= 2.5x the payload.
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
import pickle
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import cloudpickle

from resultgate import decode_record

MB = 1 << 20
SERIALIZER = {"type": "pickle", "picklelib": "cloudpickle"}
TIME_TARGET = 1.3
PEAK_TARGET = 2.5


def make_str(size: int) -> str:
    line = "the quick brown fox jumps over the lazy dog 0123456789\n"
    return (line * (size // len(line) + 1))[:size]


def make_rows(size: int) -> list[dict[str, Any]]:
    n = size // 48  # about 48 pickled bytes per row
    return [{"id": i, "name": f"row-{i}", "ok": i % 2 == 0, "score": i * 0.5} for i in range(n)]


def make_bytes(size: int) -> bytes:
    return os.urandom(size)


VALUES: dict[str, Callable[[int], Any]] = {"str": make_str, "list of dicts": make_rows, "bytes": make_bytes}


def safe(payload: bytes) -> Any:
    return decode_record(payload, SERIALIZER).value


def floor(payload: bytes) -> Any:
    return pickle.loads(base64.decodebytes(payload))


def best_time(fn: Callable[[bytes], Any], payload: bytes, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        value = fn(payload)
        best = min(best, time.perf_counter() - start)
        del value
    return best


def peak_memory(fn: Callable[[bytes], Any], payload: bytes) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        value = fn(payload)
        _, peak = tracemalloc.get_traced_memory()
        del value
    finally:
        tracemalloc.stop()
    return peak


def fmt_size(n: float) -> str:
    return f"{n / MB:8.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 MB values only")
    args = parser.parse_args(argv)
    sizes = [1 * MB] if args.quick else [1 * MB, 100 * MB]

    header = (
        f"{'value':<14} {'payload':>11} {'safe s':>9} {'floor s':>9} {'time x':>7} "
        f"{'safe peak':>11} {'floor peak':>11} {'peak/payload':>12} {'floor/payload':>13}"
    )
    print(f"python {sys.version.split()[0]}, cloudpickle {cloudpickle.__version__}")
    print(header)
    print("-" * len(header))
    worst_time = worst_peak = worst_extra = 0.0
    for size in sizes:
        repeats = 5 if size <= MB else 2
        for label, make in VALUES.items():
            payload = base64.encodebytes(cloudpickle.dumps(make(size)))
            assert safe(payload) == floor(payload)
            t_safe = best_time(safe, payload, repeats)
            t_floor = best_time(floor, payload, repeats)
            p_safe = peak_memory(safe, payload)
            p_floor = peak_memory(floor, payload)
            ratio_t = t_safe / t_floor
            ratio_p = p_safe / len(payload)
            worst_time = max(worst_time, ratio_t)
            worst_peak = max(worst_peak, ratio_p)
            worst_extra = max(worst_extra, p_safe / p_floor)
            print(
                f"{label:<14} {fmt_size(len(payload))} {t_safe:9.3f} {t_floor:9.3f} {ratio_t:6.2f}x "
                f"{fmt_size(p_safe)} {fmt_size(p_floor)} {ratio_p:11.2f}x {p_floor / len(payload):12.2f}x"
            )
            del payload
    print()
    print(f"time:   worst {worst_time:.2f}x the floor (target <= {TIME_TARGET}x)")
    print(
        f"memory: worst {worst_peak:.2f}x the payload (target <= {PEAK_TARGET}x), "
        f"{worst_extra:.2f}x the floor's peak; a value whose objects outweigh its pickle "
        "(a list of dicts) is past the target in the floor too"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
