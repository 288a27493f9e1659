"""A decoded result, and the one function that turns stored bytes into it.

>>> result = decode_record(b"gAVLKi4=\\n", "pickle")
>>> result.value, result.value_type
(42, 'builtins.int')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from resultgate._decode.detect import detect_serializer
from resultgate._decode.records import parse_record
from resultgate._decode.serializers import DecodeContext, get, normalise_spec
from resultgate._errors import MalformedRecord
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._model import Reference, StateInfo
from resultgate._render import qualname_of, to_jsonable, to_repr, to_text
from resultgate._safety import SafetyCollector, SafetyReport

__all__ = ["Result", "decode_record"]


@dataclass(frozen=True)
class Result:
    """One result's value, the bytes it came from, how they were read, and a safety report."""

    #: the decoded value; objects that are not plain data are :class:`Placeholder` s
    #: (kept out of the dataclass repr: a shared-reference value can be astronomically long)
    value: Any = field(repr=False)
    #: the stored bytes, exactly as read
    raw: bytes = field(repr=False)
    #: "prefect3-record" | "prefect2-blob" | "datadocument" | "raw"
    format: str
    #: the complete serializer description used
    serializer: dict[str, Any]
    #: True when no serializer was given and it was recognised from the content
    serializer_guessed: bool
    safety: SafetyReport
    limits: Limits
    state: StateInfo | None = None
    reference: Reference | None = None
    #: display form of where the bytes were read
    location: str | None = None
    #: stable for one storage location + serializer (set by the service)
    etag: str | None = None

    def json(self) -> Any:
        """The whole value as JSON-ready data; :class:`TooLarge` past the render limits."""
        return to_jsonable(self.value, limits=self.limits, strict=True)[0]

    def text(self) -> str:
        """A str result as itself, anything else as indented JSON."""
        return to_text(self.value, limits=self.limits, strict=True)[0]

    def repr(self) -> str:
        """A readable Python-like repr."""
        return to_repr(self.value, limits=self.limits, strict=True)[0]

    def preview(self) -> tuple[Any, bool]:
        """``(rendering, truncated)``: at most about ``limits.preview_bytes`` of JSON."""
        return to_jsonable(self.value, limits=self.limits, strict=False)

    @property
    def value_type(self) -> str:
        """``module.QualName`` of the value (or of what a placeholder stands for)."""
        return qualname_of(self.value)


def decode_record(
    data: bytes,
    serializer: Mapping[str, Any] | str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    prefer_file_serializer: bool = True,
) -> Result:
    """Decode one stored result file without importing or running anything it names.

    A file that describes itself (3.x record, 2.x blob, DataDocument) is read with
    its own serializer, which is complete, unless ``prefer_file_serializer`` is
    False and ``serializer`` is given. Raw bytes use ``serializer`` (a dict as in
    ``state.data.serializer`` or a short name such as ``"json"``); without one the
    serializer is recognised from the content and ``serializer_guessed`` is True.
    """
    parsed = parse_record(data)
    guessed = False
    if parsed.serializer is not None and (prefer_file_serializer or serializer is None):
        spec = normalise_spec(parsed.serializer)
    elif serializer is not None:
        spec = normalise_spec(serializer)
    else:
        spec = detect_serializer(parsed.payload)
        guessed = True
    collector = SafetyCollector()
    ctx = DecodeContext(limits=limits, collector=collector)
    try:
        value = get(spec["type"]).decode(parsed.payload, spec, ctx)
    except RecursionError as exc:  # a guard: the decoders are iterative, this should not happen
        raise MalformedRecord("the result is nested too deeply to decode") from exc
    return Result(
        value=value,
        raw=data,
        format=parsed.format,
        serializer=spec,
        serializer_guessed=guessed,
        safety=collector.report(),
        limits=render_limits(limits, max(len(data), ctx.payload_bytes)),
    )


#: every result may render at least this many values, however small its bytes
MIN_RENDER_ITEMS = 1_000_000
#: values a rendering may visit per byte decoded: a value costs at least about a byte of
#: pickle or JSON unless it is a shared reference, which is how a small payload explodes
RENDER_ITEMS_PER_BYTE = 16


def render_limits(limits: Limits, payload_bytes: int) -> Limits:
    """``limits`` with the render item cap scaled to the size of what was decoded.

    A shared-reference explosion (30 levels of a list holding the previous one twice)
    is a few hundred bytes that would render as 2**30 values: it stops after about a
    million, in well under a second, while a legitimate 50 MB result renders whole.
    """
    cap = max(MIN_RENDER_ITEMS, RENDER_ITEMS_PER_BYTE * payload_bytes)
    if cap >= limits.max_render_items:
        return limits
    return replace(limits, max_render_items=cap)
