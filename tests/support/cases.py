"""The real Prefect fixtures copied from the team's shared tree (see tests/fixtures/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "cases"


@dataclass(frozen=True)
class Case:
    name: str
    dir: Path

    @cached_property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.dir / "case.json").read_text())

    def json(self, rel: str) -> Any:
        return json.loads((self.dir / rel).read_text())

    @property
    def state(self) -> dict[str, Any]:
        return self.json("state.json")

    def results(self) -> list[dict[str, Any]]:
        """One entry per owner ("flow", "task:<name>") with a file written."""
        return [r for r in self.meta["results"] if r.get("file")]

    def file_bytes(self, rel: str) -> bytes:
        return (self.dir / rel).read_bytes()

    def expected(self, owner: str) -> dict[str, Any]:
        if owner == "flow":
            return self.meta["expected"]
        return self.meta["expected_tasks"][owner.split(":", 1)[1]]


def all_cases() -> list[Case]:
    return [Case(p.name, p) for p in sorted(CASES_DIR.iterdir()) if (p / "case.json").exists()]


def case(name: str) -> Case:
    return Case(name, CASES_DIR / name)


def result_files() -> list[tuple[Case, dict[str, Any]]]:
    """Every (case, result entry) pair that has a file on disk."""
    return [(c, r) for c in all_cases() for r in c.results()]
