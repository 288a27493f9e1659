"""``import resultgate`` and ``import resultgate.cli`` stay light (click's tests/test_imports.py idea)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "fsspec", "rich", "fastapi", "prefect", "cloudpickle", "pydantic", "uvicorn", "s3fs")

SCRIPT = """
import json, sys
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def imported_by(*statements: str) -> set[str]:
    code = SCRIPT.format(imports="\n".join(statements))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "statements",
    [
        ("import resultgate",),
        ("import resultgate.cli",),
        ("import resultgate", "resultgate.decode_record(b'gAVLKi4=\\n', 'pickle').text()"),
        ("from resultgate.cli import main",),
    ],
    ids=["package", "cli", "decode", "cli-main"],
)
def test_no_heavy_imports(statements: tuple[str, ...]) -> None:
    modules = imported_by(*statements)
    leaked = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert leaked == []


def test_package_import_does_not_load_click() -> None:
    assert "click" not in imported_by("import resultgate")


def test_the_check_would_notice() -> None:
    assert "fsspec" in imported_by("import resultgate", "import fsspec")
