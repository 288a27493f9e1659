"""The serializer registry: Prefect serializer descriptions -> safe decoders.

A registry is a dict behind two functions: :func:`register` (refuses a silent
override) and :func:`get` (an error listing the known types). Library names in a
description (``picklelib``, ``jsonlib``, ``compressionlib``, ``object_decoder``)
are looked up in allowlists and **never imported**.

    >>> normalise_spec("compressed/pickle")["serializer"]
    {'type': 'pickle', 'picklelib': 'cloudpickle', 'picklelib_version': None}
"""

from __future__ import annotations

import binascii
import bz2
import lzma
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from resultgate._errors import MalformedRecord, TooLarge, UnsupportedSerializer, UsageError
from resultgate._limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from resultgate._safety import SafetyCollector

__all__ = [
    "COMPRESSIONLIBS",
    "JSONLIBS",
    "OBJECT_DECODERS",
    "PICKLELIBS",
    "DecodeContext",
    "Decoder",
    "b64decode_payload",
    "decompress_capped",
    "get",
    "known_types",
    "normalise_spec",
    "register",
]

PICKLELIBS = ("cloudpickle", "pickle", "dill")
JSONLIBS = ("json", "orjson", "ujson", "simplejson")
PREFECT_OBJECT_DECODER = "prefect.serializers.prefect_json_object_decoder"
OBJECT_DECODERS = (PREFECT_OBJECT_DECODER, None)
COMPRESSIONLIBS = ("lzma", "bz2", "zlib", "gzip")

# MIME base64 as Prefect writes it (base64.encodebytes): the alphabet, "=" and line breaks
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"
_CHUNK = 1 << 20
_MIME_LINE = 77  # 76 characters and a newline


@dataclass
class DecodeContext:
    """What every decoder gets besides its payload: the caps and the safety collector."""

    limits: Limits = DEFAULT_LIMITS
    collector: SafetyCollector | None = None
    #: notes for the reader, e.g. which inner serializer was recognised
    notes: list[str] = field(default_factory=list)
    #: the largest payload a decoder read (a decompressed one can outgrow the stored bytes)
    payload_bytes: int = 0


class Decoder(Protocol):
    """One serializer type.

    Rules: ``decode`` never imports or calls anything the payload or the spec
    names; it raises only :class:`MalformedRecord`, :class:`TooLarge` or
    :class:`UnsupportedSerializer`. ``defaults`` are the serializer class's field
    defaults, used to complete a truncated description (a 3.x task state carries
    only ``{"type": ...}``).
    """

    @property
    def type(self) -> str: ...

    @property
    def defaults(self) -> Mapping[str, Any]: ...

    def decode(self, payload: bytes, spec: Mapping[str, Any], ctx: DecodeContext) -> Any: ...


_REGISTRY: dict[str, Decoder] = {}


def register(decoder: Decoder) -> None:
    """Add a decoder; registering a second one for the same type is an error."""
    if decoder.type in _REGISTRY:
        raise ValueError(f"a decoder for serializer type {decoder.type!r} is already registered")
    _REGISTRY[decoder.type] = decoder


def known_types() -> list[str]:
    return sorted(_REGISTRY)


def get(type_name: str) -> Decoder:
    """The decoder for ``type_name``; :class:`UnsupportedSerializer` listing the known types if none."""
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise UnsupportedSerializer(
            f"unsupported serializer type {type_name!r}; known types: {', '.join(known_types())}",
            hint="a custom Prefect serializer cannot be read safely; pass --format raw for the bytes",
        ) from None


def normalise_spec(spec: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """A complete serializer description from a dict (as in ``state.data.serializer``) or a short name.

    ``None`` means Prefect's default serializer (pickle with cloudpickle). Missing
    fields get the serializer class's defaults; a nested ``serializer`` is completed too.
    """
    if spec is None:
        spec = {"type": "pickle"}
    elif isinstance(spec, str):
        name = spec.strip()
        if not name:
            raise UsageError(
                "an empty serializer name", hint='use e.g. "pickle", "json", "compressed/pickle"'
            )
        spec = {"type": name}
    elif not isinstance(spec, Mapping):
        raise UsageError(f"a serializer is a JSON object or a type name, not {type(spec).__name__}")
    type_name = spec.get("type")
    if not isinstance(type_name, str):
        raise UnsupportedSerializer(
            "the serializer description has no 'type'", hint='a serializer looks like {"type": "pickle"}'
        )
    decoder = get(type_name)
    full = {"type": type_name, **decoder.defaults, **spec}
    if "serializer" in full and full["serializer"] is not None:
        inner = full["serializer"]
        if not isinstance(inner, (str, Mapping)):
            raise UnsupportedSerializer(
                f"the inner serializer of {type_name!r} is not a serializer: {inner!r}"
            )
        full["serializer"] = normalise_spec(inner)
    return full


# --- payload helpers shared by the decoders and by detection -------------------------------------


def b64decode_payload(payload: bytes, what: str = "result") -> bytes:
    """Decode MIME base64 (newlines allowed), refusing anything else with :class:`MalformedRecord`.

    The lenient C decoder skips stray bytes and stops at padding; instead of a
    second pass over the alphabet, the output length is checked against the
    input's: any skipped or ignored byte makes them disagree.
    """
    try:
        decoded = binascii.a2b_base64(payload)
    except binascii.Error as exc:
        raise _not_base64(payload, what, str(exc)) from exc
    tail = payload[-8:].rstrip(b"\r\n")
    padding = 2 if tail.endswith(b"==") else 1 if tail.endswith(b"=") else 0
    for count_newlines in (_mime_newlines, _all_newlines):
        size = len(payload) - count_newlines(payload)
        if size % 4 == 0 and len(decoded) == size // 4 * 3 - padding:
            return decoded
    raise _not_base64(payload, what, None)


def _mime_newlines(payload: bytes) -> int:
    """Newlines of ``base64.encodebytes`` output (one after every 76 characters and at the end),
    counted from a 1/77 sample; anything irregular gives a count that fails the length check."""
    breaks = payload[_MIME_LINE - 1 :: _MIME_LINE]
    count = breaks.count(b"\n")
    if len(payload) % _MIME_LINE and payload.endswith(b"\n"):
        count += 1
    return count


def _all_newlines(payload: bytes) -> int:
    count = payload.count(b"\n")
    return count + payload.count(b"\r") if b"\r" in payload else count


def _not_base64(payload: bytes, what: str, detail: str | None) -> MalformedRecord:
    stray = payload.translate(None, delete=_B64_CHARS)  # only on the error path
    if stray:
        return MalformedRecord(
            f"the {what} is not base64 text (found {stray[:8]!r})",
            hint="the file may be damaged, or written by another serializer: pass --serializer",
        )
    return MalformedRecord(f"the {what} is truncated or damaged base64" + (f" ({detail})" if detail else ""))


def _is_blank(payload: bytes) -> bool:
    # bytes.isspace() stops at the first other byte; strip() would copy a 100 MB payload
    return not payload or payload.isspace()


def _new_decompressor(lib: str) -> Any:
    if lib == "lzma":
        return lzma.LZMADecompressor()
    if lib == "bz2":
        return bz2.BZ2Decompressor()
    if lib == "zlib":
        return zlib.decompressobj()
    return zlib.decompressobj(wbits=31)  # gzip container


def decompress_capped(data: bytes, lib: str, cap: int) -> bytes:
    """Decompress ``data`` in bounded steps; :class:`TooLarge` as soon as the output passes ``cap``.

    Concatenated members/streams are read like ``gzip.decompress`` and friends do:
    trailing bytes that are not another member end the output.
    """
    if lib not in COMPRESSIONLIBS:
        raise _unsupported_lib("compressionlib", lib, COMPRESSIONLIBS)
    out = bytearray()
    pending: bytes = data
    members = 0
    while True:
        decomp = _new_decompressor(lib)
        try:
            _drain(decomp, pending, out, cap, lib)
        except (lzma.LZMAError, OSError, EOFError, zlib.error) as exc:
            if members:  # garbage after a complete member: ignored, as the stdlib does
                break
            raise MalformedRecord(f"the {lib} data is damaged ({exc})") from exc
        members += 1
        if lib == "zlib":  # zlib.decompress reads one stream and ignores what follows
            break
        pending = decomp.unused_data
        if lib == "gzip":
            pending = pending.lstrip(b"\x00")
        if not pending:
            break
    return bytes(out)


def _drain(decomp: Any, data: bytes, out: bytearray, cap: int, lib: str) -> None:
    uses_tail = lib in ("zlib", "gzip")
    chunk_in: bytes = data
    while True:
        room = cap - len(out) + 1  # one byte more than allowed tells "too large" from "exactly the cap"
        chunk = decomp.decompress(chunk_in, min(room, _CHUNK))
        out += chunk
        if len(out) > cap:
            raise TooLarge(
                f"decompressed result is larger than {cap} bytes",
                hint="raise RESULTGATE_MAX_DECOMPRESSED (or --max-decompressed) to allow it",
            )
        if decomp.eof:
            return
        if uses_tail:
            chunk_in = decomp.unconsumed_tail
            if not chunk_in and not chunk:
                raise MalformedRecord(f"the {lib} data is truncated")
        else:
            chunk_in = b""
            if decomp.needs_input:
                raise MalformedRecord(f"the {lib} data is truncated")


def _unsupported_lib(field_name: str, name: object, allowed: Iterable[object]) -> UnsupportedSerializer:
    return UnsupportedSerializer(
        f"{field_name} {name!r} is not supported; allowed: {', '.join(repr(a) for a in allowed)}",
        hint="resultgate never imports a library a result names",
    )


# --- the decoders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickleDecoder:
    """``pickle``: MIME base64 of a pickle stream (a binary pickle is accepted too)."""

    type: str = "pickle"
    defaults: Mapping[str, Any] = field(
        default_factory=lambda: {"picklelib": "cloudpickle", "picklelib_version": None}
    )

    def decode(self, payload: bytes, spec: Mapping[str, Any], ctx: DecodeContext) -> Any:
        lib = spec.get("picklelib", "cloudpickle")
        if lib not in PICKLELIBS:
            raise _unsupported_lib("picklelib", lib, PICKLELIBS)
        if _is_blank(payload):
            raise MalformedRecord("the result is empty")
        data = payload if payload[:1] == b"\x80" else b64decode_payload(payload, "pickle payload")
        from resultgate._decode.safepickle import safe_loads

        return safe_loads(data, limits=ctx.limits, collector=ctx.collector)


@dataclass(frozen=True)
class JSONDecoder:
    """``json``: the JSON text itself; Prefect's object decoder convention is applied safely."""

    type: str = "json"
    defaults: Mapping[str, Any] = field(
        default_factory=lambda: {
            "jsonlib": "json",
            "object_encoder": "prefect.serializers.prefect_json_object_encoder",
            "object_decoder": PREFECT_OBJECT_DECODER,
            "dumps_kwargs": {},
            "loads_kwargs": {},
        }
    )

    def decode(self, payload: bytes, spec: Mapping[str, Any], ctx: DecodeContext) -> Any:
        lib = spec.get("jsonlib", "json")
        if lib not in JSONLIBS:
            raise _unsupported_lib("jsonlib", lib, JSONLIBS)
        object_decoder = spec.get("object_decoder", PREFECT_OBJECT_DECODER)
        if object_decoder not in OBJECT_DECODERS:
            raise _unsupported_lib("object_decoder", object_decoder, OBJECT_DECODERS)
        from resultgate._decode.jsonsafe import loads_json

        return loads_json(payload, tagged=object_decoder is not None, collector=ctx.collector)


@dataclass(frozen=True)
class TextDecoder:
    """``text``: UTF-8 text (the ``text`` encoding of a <=2.5 DataDocument)."""

    type: str = "text"
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def decode(self, payload: bytes, spec: Mapping[str, Any], ctx: DecodeContext) -> Any:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRecord(f"the text result is not UTF-8 ({exc})") from exc


@dataclass(frozen=True)
class CompressedDecoder:
    """``compressed`` and its presets: base64 of compressed bytes wrapping the inner serializer's output."""

    type: str
    defaults: Mapping[str, Any]

    def decode(self, payload: bytes, spec: Mapping[str, Any], ctx: DecodeContext) -> Any:
        lib = spec.get("compressionlib", "lzma")
        if lib not in COMPRESSIONLIBS:
            raise _unsupported_lib("compressionlib", lib, COMPRESSIONLIBS)
        inner_spec = spec.get("serializer")
        if inner_spec is not None:
            inner = normalise_spec(inner_spec)
            get(inner["type"])  # an unsupported inner type fails before any work
        if _is_blank(payload):
            raise MalformedRecord("the result is empty")
        compressed = b64decode_payload(payload, f"{self.type} payload")
        data = decompress_capped(compressed, lib, ctx.limits.max_decompressed_bytes)
        del compressed
        ctx.payload_bytes = max(ctx.payload_bytes, len(data))
        if inner_spec is None:  # a truncated description (3.x task state): recognise the inner output
            from resultgate._decode.detect import detect_serializer

            inner = detect_serializer(data)
            ctx.notes.append(f"inner serializer recognised as {inner['type']!r}")
        return get(inner["type"]).decode(data, inner, ctx)


for _decoder in (
    PickleDecoder(),
    JSONDecoder(),
    TextDecoder(),
    CompressedDecoder("compressed", {"serializer": None, "compressionlib": "lzma"}),
    CompressedDecoder("compressed/pickle", {"serializer": {"type": "pickle"}, "compressionlib": "lzma"}),
    CompressedDecoder("compressed/json", {"serializer": {"type": "json"}, "compressionlib": "lzma"}),
):
    register(_decoder)
