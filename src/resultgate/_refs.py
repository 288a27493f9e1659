"""From a state's ``data`` to where its result lives (any Prefect era).

    >>> ref = parse_state_data(state)          # Reference | LiteralValue
    >>> check_expired(ref)                     # ResultExpired if its expiration passed

The shapes (formats doc §0 step 3, §2):

* 3.x ``ResultRecordMetadata``: ``storage_key`` and no ``type`` → ``Reference(era="prefect3")``;
* 2.6–2.20 and 3.0.0–3.0.1 ``{"type": "reference", "serializer_type", "storage_block_id",
  "storage_key", ["expiration"]}`` → ``Reference(era="prefect2")``;
* ``{"type": "literal", "value": v}`` → ``LiteralValue(v)``; ``{"type": "unknown"}`` → ``LiteralValue(None)``;
* ≤2.5 DataDocument ``{"encoding": "result", "blob": "{\\"key\\", \\"filesystem_document_id\\"}"}``
  → ``Reference(era="legacy")``; inline ``json``/``text`` documents → ``LiteralValue``;
  inline pickles → :class:`UnsupportedSerializer`;
* ``null`` (or 2.x ``unpersisted``) → :class:`NoPersistedResult`, saying how to turn
  persistence on and, for a failed or crashed state, what the state's message was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from resultgate._errors import MalformedRecord, NoPersistedResult, ResultExpired, UnsupportedSerializer
from resultgate._model import LiteralValue, Reference, StateInfo

__all__ = ["check_expired", "parse_expiration", "parse_state_data"]

_FINAL_WITH_MESSAGE = {"FAILED", "CRASHED", "CANCELLED"}
_NOT_FINISHED = {"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"}
_PERSIST_HINT = (
    "turn persistence on: persist_result=True on the flow or task "
    "(or PREFECT_RESULTS_PERSIST_BY_DEFAULT=true), then run it again"
)


def parse_state_data(state: StateInfo) -> Reference | LiteralValue:
    """The reference (or inline value) that ``state.data`` holds; see the module docstring."""
    data = state.data
    if data is None:
        raise _no_result(state)
    if not isinstance(data, Mapping):
        raise MalformedRecord(
            f"{_name(state)} has data of an unknown shape ({type(data).__name__}), not a result reference"
        )
    kind = data.get("type")
    if kind is None and "storage_key" in data:
        return Reference(
            era="prefect3",
            storage_key=_storage_key(state, data),
            storage_block_id=_opt_str(data.get("storage_block_id")),
            serializer=_serializer(data.get("serializer")),
            expiration=_opt_str(data.get("expiration")),
            prefect_version=_opt_str(data.get("prefect_version")),
        )
    if kind == "reference":
        serializer_type = data.get("serializer_type")
        return Reference(
            era="prefect2",
            storage_key=_storage_key(state, data),
            storage_block_id=_opt_str(data.get("storage_block_id")),
            serializer={"type": serializer_type}
            if isinstance(serializer_type, str) and serializer_type
            else None,
            expiration=_opt_str(data.get("expiration")),
        )
    if kind == "literal":
        return LiteralValue(data.get("value"))
    if kind == "unknown":
        return LiteralValue(None)
    if kind == "unpersisted":
        raise _no_result(state)
    if kind is None and "encoding" in data and "blob" in data:
        return _data_document(state, data)
    shape = f"type {kind!r}" if kind is not None else f"keys {sorted(map(str, data))}"
    raise MalformedRecord(f"{_name(state)} has data of an unknown shape ({shape})")


def parse_expiration(text: str) -> datetime | None:
    """An aware datetime from Prefect's ISO text (``...Z``, ``+00:00``, 7-digit fractions), else None."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes at most 6 fractional digits
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def check_expired(ref: Reference | LiteralValue, now: datetime | None = None) -> None:
    """:class:`ResultExpired` when ``ref`` carries an expiration before ``now`` (default: now, UTC).

    An expiration that cannot be parsed is ignored: the file may well still be there.
    """
    if not isinstance(ref, Reference) or not ref.expiration:
        return
    when = parse_expiration(ref.expiration)
    if when is None:
        return
    current = now or datetime.now(timezone.utc)
    if current.tzinfo is None:
        current = current.replace(tzinfo=timezone.utc)
    if when <= current:
        raise ResultExpired(
            f"the result expired at {ref.expiration}",
            hint="Prefect may have removed it; run the flow again (or refresh its cache) for a new result",
            expiration=ref.expiration,
        )


# -- helpers -----------------------------------------------------------------------------
def _name(state: StateInfo) -> str:
    owner = "task run" if state.is_task else "flow run"
    return f"the {owner} state {state.id} ({state.type})"


def _no_result(state: StateInfo) -> NoPersistedResult:
    message = f"{_name(state)} has no persisted result"
    state_type = state.type.upper()
    if state_type in _NOT_FINISHED:
        message += f": the run has not finished (it is {state_type})"
    elif state_type in _FINAL_WITH_MESSAGE and state.message:
        message += f"; the state's message: {state.message}"
    return NoPersistedResult(
        message,
        hint=_PERSIST_HINT,
        state_type=state_type,
        state_id=state.id,
        flow_run_id=state.flow_run_id,
        task_run_id=state.task_run_id,
    )


def _storage_key(state: StateInfo, data: Mapping[str, Any]) -> str:
    key = data.get("storage_key")
    if not isinstance(key, str) or not key:
        raise MalformedRecord(f"{_name(state)} references a result with no storage key")
    return key


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _serializer(value: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        return dict(value)
    if isinstance(value, str) and value:
        return {"type": value}
    return None


def _data_document(state: StateInfo, data: Mapping[str, Any]) -> Reference | LiteralValue:
    """A Prefect ≤2.5 DataDocument."""
    encoding, blob = data.get("encoding"), data.get("blob")
    if not isinstance(blob, str):
        raise MalformedRecord(f"{_name(state)} has a data document whose blob is not text")
    if encoding == "result":
        try:
            inner = json.loads(blob)
        except ValueError:
            raise MalformedRecord(
                f"{_name(state)} has a 'result' data document whose blob is not JSON"
            ) from None
        key = inner.get("key") if isinstance(inner, dict) else None
        if not isinstance(key, str) or not key:
            raise MalformedRecord(f"{_name(state)} has a 'result' data document with no key")
        return Reference(
            era="legacy",
            storage_key=key,
            storage_block_id=_opt_str(inner.get("filesystem_document_id")),
            serializer=None,  # the file is itself a self-describing data document
        )
    if encoding == "json":
        try:
            return LiteralValue(json.loads(blob))
        except ValueError:
            raise MalformedRecord(f"{_name(state)} has a json data document that is not JSON") from None
    if encoding == "text":
        return LiteralValue(blob)
    raise UnsupportedSerializer(
        f"{_name(state)} holds an inline {encoding!r} data document (Prefect <= 2.5), which resultgate does "
        "not decode",
        hint="only 'result', 'json' and 'text' data documents are supported",
        encoding=str(encoding),
    )
