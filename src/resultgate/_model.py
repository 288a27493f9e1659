"""Plain data shared across layers: a state as Prefect returned it, and the
reference its ``data`` holds. No behaviour beyond small accessors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ID_KINDS", "IdKind", "LiteralValue", "Reference", "StateInfo"]

IdKind = Literal["flow_run_state", "task_run_state", "flow_run", "task_run"]
#: the order in which an id of unknown kind is looked up
ID_KINDS: tuple[IdKind, ...] = ("flow_run_state", "task_run_state", "flow_run", "task_run")


@dataclass(frozen=True)
class StateInfo:
    """One Prefect state, as read from the API (any era)."""

    id: str
    type: str  # COMPLETED, FAILED, CRASHED, ...
    name: str | None
    timestamp: str | None
    message: str | None
    flow_run_id: str | None
    task_run_id: str | None
    #: ``state.data`` exactly as the API returned it (may be None)
    data: Any
    #: the whole state JSON as returned
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_task(self) -> bool:
        return self.task_run_id is not None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> StateInfo:
        details = raw.get("state_details") or {}
        return cls(
            id=str(raw.get("id")),
            type=str(raw.get("type") or "UNKNOWN"),
            name=raw.get("name"),
            timestamp=raw.get("timestamp"),
            message=raw.get("message"),
            flow_run_id=details.get("flow_run_id"),
            task_run_id=details.get("task_run_id"),
            data=raw.get("data"),
            raw=raw,
        )


@dataclass(frozen=True)
class Reference:
    """Where a persisted result lives, from ``state.data`` of any era."""

    #: "prefect3" (ResultRecordMetadata), "prefect2" (type=reference, also 3.0.0-3.0.1),
    #: "legacy" (<=2.5 DataDocument with encoding "result")
    era: Literal["prefect3", "prefect2", "legacy"]
    storage_key: str
    storage_block_id: str | None
    #: serializer as the state gives it: full for 3.x flows, ``{"type": ...}`` only for
    #: 3.x tasks and 2.x (from ``serializer_type``); None when unknown
    serializer: dict[str, Any] | None
    #: ISO text, or None
    expiration: str | None = None
    prefect_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (it holds no secrets: keys and ids only)."""
        return {
            "era": self.era,
            "storage_key": self.storage_key,
            "storage_block_id": self.storage_block_id,
            "serializer": self.serializer,
            "expiration": self.expiration,
            "prefect_version": self.prefect_version,
        }


@dataclass(frozen=True)
class LiteralValue:
    """A 2.x ``{"type": "literal", "value": ...}`` (or ``unknown``): the value is inline."""

    value: Any
