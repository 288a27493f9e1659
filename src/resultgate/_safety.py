"""What a decode met on its way: the names a pickle (or tagged JSON) asked for,
what we built, what became a placeholder, and whether it carries code.

A :class:`SafetyCollector` is filled while decoding; :meth:`SafetyCollector.report`
freezes it into a :class:`SafetyReport` with a one-line verdict::

    >>> c = SafetyCollector()
    >>> c.report().verdict
    'plain data: only built-in types'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SafetyCollector", "SafetyReport"]

#: prefixes of the entries in ``code`` (``"function __main__.f"``)
CODE_KINDS = ("function", "class", "code")


@dataclass(frozen=True)
class SafetyReport:
    """A frozen summary of one decode; ``to_dict()`` is its JSON form."""

    named: tuple[str, ...] = ()
    built: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    carries_code: bool = False
    verdict: str = "plain data: only built-in types"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "named": list(self.named),
            "built": list(self.built),
            "placeholders": list(self.placeholders),
            "calls": list(self.calls),
            "code": list(self.code),
            "carries_code": self.carries_code,
        }


@dataclass
class SafetyCollector:
    """Filled while decoding. Every set keeps first-seen order in its report.

    * ``named``: every global the data named (``module.Name``) -> times named
    * ``built``: allowlisted names we built real values for (``datetime.datetime``)
    * ``placeholders``: names shown as :class:`~resultgate.Placeholder`
    * ``calls``: names the data asked to call (a REDUCE of a placeholder, or a
      placeholder called) — a normal unpickler would have run them
    * ``code``: code stored by value: ``"function m.f"``, ``"class m.C"``, ``"code f"``
    """

    named: dict[str, int] = field(default_factory=dict)
    built: set[str] = field(default_factory=set)
    placeholders: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    code: set[str] = field(default_factory=set)
    # first-seen order of the sets above (sets themselves have none)
    _order: dict[str, dict[str, None]] = field(default_factory=dict, repr=False)
    # placeholder names that are exceptions (only shapes the verdict)
    _exceptions: set[str] = field(default_factory=set, repr=False)

    def note_named(self, name: str) -> None:
        self.named[name] = self.named.get(name, 0) + 1

    def _add(self, which: str, name: str) -> None:
        target: set[str] = getattr(self, which)
        if name not in target:
            target.add(name)
            self._order.setdefault(which, {})[name] = None

    def note_built(self, name: str) -> None:
        self._add("built", name)

    def note_placeholder(self, name: str, *, exception: bool = False) -> None:
        self._add("placeholders", name)
        if exception:
            self._exceptions.add(name)

    def note_call(self, name: str) -> None:
        self._add("calls", name)

    def note_code(self, kind: str, name: str) -> None:
        self._add("code", f"{kind} {name}")

    def _ordered(self, which: str) -> tuple[str, ...]:
        target: set[str] = getattr(self, which)
        seen = [n for n in self._order.get(which, {}) if n in target]
        # entries added directly to the set (not through note_*) go last, sorted
        rest = sorted(target.difference(seen))
        return (*seen, *rest)

    def report(self) -> SafetyReport:
        built = self._ordered("built")
        placeholders = self._ordered("placeholders")
        calls = self._ordered("calls")
        code = self._ordered("code")
        carries = bool(code or calls)
        return SafetyReport(
            named=tuple(self.named),
            built=built,
            placeholders=placeholders,
            calls=calls,
            code=code,
            carries_code=carries,
            verdict=_verdict(built, placeholders, calls, code, self._exceptions),
        )


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _names(names: tuple[str, ...], limit: int = 3) -> str:
    shown = list(names[:limit])
    if len(names) > limit:
        shown.append(f"{len(names) - limit} more")
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _verdict(
    built: tuple[str, ...],
    placeholders: tuple[str, ...],
    calls: tuple[str, ...],
    code: tuple[str, ...],
    exceptions: set[str],
) -> str:
    if code or calls:
        parts: list[str] = []
        functions = sum(1 for c in code if c.startswith("function "))
        classes = sum(1 for c in code if c.startswith("class "))
        if functions:
            parts.append(_count(functions, "function") + " stored by value")
        if classes:
            parts.append(_count(classes, "class", "classes") + " stored by value")
        if not functions and not classes and code:
            parts.append(_count(len(code), "code object") + " stored by value")
        if calls:
            parts.append(("a call of " if len(calls) == 1 else "calls of ") + _names(calls))
        return f"CARRIES CODE: {' and '.join(parts)}; shown as placeholders, nothing was run"
    if placeholders:
        excs = tuple(p for p in placeholders if p in exceptions)
        others = len(placeholders) - len(excs)
        parts = []
        if excs:
            parts.append(("an exception " if len(excs) == 1 else "exceptions ") + f"({_names(excs)})")
        if others:
            parts.append(_count(others, "class", "classes"))
        shown = "a placeholder" if len(placeholders) == 1 else "placeholders"
        return f"data with {' and '.join(parts)} shown as {shown}; nothing was imported or run"
    if built:
        return f"plain data: built-in types and {_names(built)}"
    return "plain data: only built-in types"
