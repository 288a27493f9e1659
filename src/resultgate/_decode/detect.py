"""Recognise the serializer of a raw payload that came without a description.

Only the start (and for old pickle protocols the end) of the payload is looked
at, so a 100 MB file costs next to nothing here.

    >>> detect_serializer(b"gAVLKi4=\\n")["type"]
    'pickle'
    >>> detect_serializer(b'{"x": 1}')["type"]
    'json'
"""

from __future__ import annotations

import binascii
import bz2
import lzma
import zlib
from typing import Any

from resultgate._decode.serializers import normalise_spec
from resultgate._errors import MalformedRecord

__all__ = ["detect_serializer"]

_WHITESPACE = b" \t\r\n"
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_PEEK = 4096
#: opcodes a protocol 0/1 pickle may start with (MARK, EMPTY_LIST/DICT, NONE, INT, FLOAT, LONG,
#: STRING, UNICODE, GLOBAL, BININT1, EMPTY_TUPLE) -- used only together with the final STOP
_OLD_PICKLE_STARTS = frozenset(b"(]}NIFLSVcK)")
_JSON_STARTS = frozenset(b'{["-0123456789')


def detect_serializer(payload: bytes) -> dict[str, Any]:
    """A complete serializer description guessed from ``payload``; :class:`MalformedRecord` if unknown."""
    head = payload[:_PEEK].lstrip(_WHITESPACE)
    if not head:
        raise MalformedRecord("the result is empty", hint="nothing to decode; check the file")
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return normalise_spec({"type": "pickle"})
    decoded = _b64_head(head)
    if decoded is not None:
        if _is_binary_pickle(decoded) or _is_old_pickle(decoded, payload):
            return normalise_spec({"type": "pickle"})
        lib = _compression(decoded)
        if lib is not None:
            return _compressed(lib, payload)
    if _looks_like_json(head):
        return normalise_spec({"type": "json"})
    raise MalformedRecord(
        f"could not recognise the payload (it starts {head[:16]!r})",
        hint="pass --serializer, e.g. the state's data.serializer or @state.json",
    )


def _b64_head(head: bytes) -> bytes | None:
    """The bytes the base64 start of ``head`` encodes, or None if it is not base64 text."""
    text = head.translate(None, delete=_WHITESPACE)
    text = text[: len(text) - len(text) % 4]
    if not text or text.translate(None, delete=_B64_ALPHABET) or b"=" in text[:-2]:
        return None
    try:
        return binascii.a2b_base64(text)
    except binascii.Error:
        return None


def _is_binary_pickle(decoded: bytes) -> bool:
    return len(decoded) >= 2 and decoded[0] == 0x80 and 2 <= decoded[1] <= 5


def _is_old_pickle(decoded: bytes, payload: bytes) -> bool:
    """Protocol 0/1: a plausible first opcode and, at the very end, STOP."""
    if not decoded or decoded[0] not in _OLD_PICKLE_STARTS:
        return False
    tail = payload[-256:].translate(None, delete=_WHITESPACE)
    tail = tail[len(tail) % 4 :]
    try:
        return binascii.a2b_base64(tail).endswith(b".")
    except binascii.Error:
        return False


def _compression(decoded: bytes) -> str | None:
    if decoded.startswith(b"\xfd7zXZ\x00"):
        return "lzma"
    if decoded.startswith(b"BZh") and decoded[3:4].isdigit():
        return "bz2"
    if decoded.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if len(decoded) >= 2 and decoded[0] & 0x0F == 8 and (decoded[0] << 8 | decoded[1]) % 31 == 0:
        return "zlib"
    return None


def _compressed(lib: str, payload: bytes) -> dict[str, Any]:
    """``compressed/pickle`` or ``compressed/json`` from a peek at the decompressed start."""
    inner = _peek_decompressed(lib, payload)
    inner_head = inner.lstrip(_WHITESPACE)
    decoded = _b64_head(inner_head)
    if inner_head[:1] == b"\x80" or (decoded is not None and _is_binary_pickle(decoded)):
        return normalise_spec({"type": "compressed/pickle", "compressionlib": lib})
    if inner_head and _looks_like_json(inner_head):
        return normalise_spec({"type": "compressed/json", "compressionlib": lib})
    # not enough to tell: the compressed decoder recognises the inner output once it has it all
    return normalise_spec({"type": "compressed", "compressionlib": lib})


def _peek_decompressed(lib: str, payload: bytes) -> bytes:
    text = payload[: 64 * 1024].translate(None, delete=_WHITESPACE)
    text = text[: len(text) - len(text) % 4]
    try:
        data = binascii.a2b_base64(text)
        if lib == "lzma":
            return bytes(lzma.LZMADecompressor().decompress(data, max_length=256))
        if lib == "bz2":
            return bytes(bz2.BZ2Decompressor().decompress(data, max_length=256))
        wbits = 31 if lib == "gzip" else 15
        return zlib.decompressobj(wbits=wbits).decompress(data, 256)
    except (binascii.Error, lzma.LZMAError, OSError, EOFError, zlib.error):
        return b""


def _looks_like_json(head: bytes) -> bool:
    return head[0] in _JSON_STARTS or head.startswith((b"true", b"false", b"null"))
