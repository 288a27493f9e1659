"""The text form: a str result as itself, anything else as indented JSON."""

from __future__ import annotations

import json
from typing import Any

from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._render.budget import TRUNCATED, _Budget
from resultgate._render.jsonable import to_jsonable


def to_text(value: Any, *, limits: Limits = DEFAULT_LIMITS, strict: bool) -> tuple[str, bool]:
    """``(text, truncated)``: a str result as itself, anything else as indented JSON."""
    budget = _Budget(limits, strict)
    if isinstance(value, str):
        if len(value) <= budget.max_bytes:
            return value, False
        if strict:
            budget.item(len(value))
        return value[: budget.max_bytes] + TRUNCATED, True
    rendering, truncated = to_jsonable(value, limits=limits, strict=strict)
    return json.dumps(rendering, ensure_ascii=False, indent=2), truncated
