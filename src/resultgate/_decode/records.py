"""Tell the shapes of a stored result file apart: a record that describes itself, or raw bytes.

Strict on purpose (formats doc §0 step 6, §3.5): a raw JSON flow result such as
``{"result": 5, "other": 1}`` or ``{"data": "hello"}`` is a *value*, never an envelope.

    >>> parse_record(b'{"data": "hello"}').format
    'raw'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Parsed", "parse_record"]

#: every key any envelope may have; a JSON object whose first key is not one of
#: these cannot be an envelope, so a big raw JSON value is not parsed twice
_ENVELOPE_KEYS = frozenset(
    {"metadata", "result", "serializer", "data", "prefect_version", "expiration", "encoding", "blob"}
)
_BLOB_KEYS = frozenset({"serializer", "data", "prefect_version", "expiration"})
_FIRST_KEY = re.compile(rb'\A\s*\{\s*"([a-z_]{1,20})"\s*:')
_WHITESPACE = b" \t\r\n"

#: DataDocument encodings (<=2.5) that hold a value, and the serializer that reads their blob
_DATADOC_SERIALIZERS: dict[str, dict[str, Any]] = {
    "cloudpickle": {"type": "pickle", "picklelib": "cloudpickle"},
    "pickle": {"type": "pickle", "picklelib": "pickle"},
    "json": {"type": "json", "object_decoder": None},
    "text": {"type": "text"},
}


@dataclass(frozen=True)
class Parsed:
    """A result file split into what the serializer reads and what describes it."""

    #: "prefect3-record" | "prefect2-blob" | "datadocument" | "raw"
    format: str
    #: the serializer the file names (complete) when it describes itself, else None
    serializer: dict[str, Any] | None
    #: the serializer's output
    payload: bytes
    #: the record's metadata (3.x) or the blob minus its data (2.x); None otherwise
    metadata: dict[str, Any] | None


def parse_record(data: bytes) -> Parsed:
    """Classify ``data`` as a 3.x ResultRecord, a 2.x PersistedResultBlob, a DataDocument, or raw."""
    raw = Parsed("raw", None, data, None)
    head = data[:64].lstrip(_WHITESPACE)
    if not head.startswith(b"{"):
        return raw
    match = _FIRST_KEY.match(data, 0, 256)
    if match is None or match.group(1).decode() not in _ENVELOPE_KEYS:
        return raw
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return raw
    if not isinstance(obj, dict):
        return raw
    return _as_record(obj) or _as_blob(obj) or _as_datadocument(obj) or raw


def _as_record(obj: dict[str, Any]) -> Parsed | None:
    metadata, result = obj.get("metadata"), obj.get("result")
    if (
        obj.keys() == {"metadata", "result"}
        and isinstance(metadata, dict)
        and _is_serializer(metadata.get("serializer"))
        and isinstance(result, str)
    ):
        return Parsed("prefect3-record", metadata["serializer"], _encode(result), metadata)
    return None


def _as_blob(obj: dict[str, Any]) -> Parsed | None:
    keys = obj.keys()
    if (
        keys <= _BLOB_KEYS
        and {"serializer", "data"} <= keys
        and _is_serializer(obj["serializer"])
        and isinstance(obj["data"], str)
    ):
        metadata = {k: v for k, v in obj.items() if k != "data"}
        return Parsed("prefect2-blob", obj["serializer"], _encode(obj["data"]), metadata)
    return None


def _as_datadocument(obj: dict[str, Any]) -> Parsed | None:
    encoding, blob = obj.get("encoding"), obj.get("blob")
    if obj.keys() == {"encoding", "blob"} and isinstance(blob, str) and encoding in _DATADOC_SERIALIZERS:
        return Parsed(
            "datadocument", dict(_DATADOC_SERIALIZERS[encoding]), _encode(blob), {"encoding": encoding}
        )
    return None


def _is_serializer(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _encode(text: str) -> bytes:
    # pydantic wrote the serializer's bytes as UTF-8 text; this is the inverse
    return text.encode("utf-8", "surrogatepass")
