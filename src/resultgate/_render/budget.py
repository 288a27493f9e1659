"""What every rendering counts: items and output bytes against the limits; the preview's cut."""

from __future__ import annotations

from resultgate._errors import TooLarge
from resultgate._limits import Limits

#: the marker a preview puts where it cut something
TRUNCATED = "…(truncated)"
#: above this many bits an int is written in hex: Python refuses to print ints past 4300 digits
_INT_BITS = 14_000
_PLAIN = frozenset({bool, type(None)})
_BIG_INT = 1 << _INT_BITS


class _Stop(Exception):
    """A preview ran out of room: unwind, keep what was built."""


class _Budget:
    """Counts items and output bytes; raises (strict) or stops (preview) past the caps."""

    def __init__(self, limits: Limits, strict: bool) -> None:
        self.strict = strict
        self.max_items = limits.max_render_items
        self.max_bytes = (
            limits.max_render_bytes if strict else min(limits.preview_bytes, limits.max_render_bytes)
        )
        self.max_depth = limits.max_depth
        self.items = 0
        self.bytes = 0
        self.truncated = False

    def item(self, size: int) -> None:
        self.items += 1
        self.bytes += size
        self.check()

    def check(self) -> None:
        if self.items > self.max_items:
            self._over(f"{self.max_items} values", "raise Limits.max_render_items")
        if self.bytes > self.max_bytes:
            self._over(f"{self.max_bytes} bytes", "raise Limits.max_render_bytes")

    def room(self) -> int:
        return max(self.max_bytes - self.bytes, 0)

    def too_deep(self) -> None:
        if self.strict:
            raise TooLarge(
                f"the value is nested deeper than {self.max_depth} levels and cannot be rendered",
                hint="use --format raw for the stored bytes",
            )
        self.truncated = True

    def _over(self, what: str, knob: str) -> None:
        self.truncated = True
        if self.strict:
            raise TooLarge(f"the rendering would exceed {what}", hint=f"use --format raw or {knob}")
        raise _Stop


def _cut_str(text: str, budget: _Budget, extra: int = 2) -> str:
    """In a preview, as much of ``text`` as still fits, marked."""
    if budget.strict or len(text) + extra <= budget.room():
        return text
    budget.truncated = True
    return text[: max(budget.room() - len(TRUNCATED) - extra, 0)] + TRUNCATED
