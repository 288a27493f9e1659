"""Shared pieces for the decoder tests: real cloudpickle samples made in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# A script run as __main__ in a fresh interpreter, so cloudpickle stores its
# classes and functions BY VALUE, exactly as a Prefect flow script's would be.
_SAMPLES_SCRIPT = r"""
import enum, os, sys, pathlib
import cloudpickle

class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

class FlowFailed(ValueError):
    pass

class Color(enum.Enum):
    RED = 1
    BLUE = 2

def add(a, b=2):
    return os.getcwd() + str(a + b)

samples = {
    "instance": Point(1, 2),
    "class": Point,
    "function": add,
    "lambda": lambda x: x + 1,
    "exception": FlowFailed("boom"),
    "enum": Color.BLUE,
    "enum_list": [Color.RED, Color.BLUE, Color.RED],
    "mixed": {"points": [Point(0, 0)], "ok": True, "when": None},
}
out = pathlib.Path(sys.argv[1])
for name, value in samples.items():
    (out / name).write_bytes(cloudpickle.dumps(value))
"""


@pytest.fixture(scope="session")
def cloudpickled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """name -> cloudpickle bytes of values defined in a subprocess's ``__main__``."""
    out = tmp_path_factory.mktemp("cloudpickled")
    script = out / "make_samples.py"
    script.write_text(_SAMPLES_SCRIPT)
    subprocess.run([sys.executable, str(script), str(out)], check=True, timeout=120)
    return {p.name: p.read_bytes() for p in out.iterdir() if p.suffix != ".py"}


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A file that hostile payloads try to create; it must never exist."""
    return tmp_path / "PWNED"
