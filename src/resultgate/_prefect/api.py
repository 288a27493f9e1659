"""The Prefect REST API as sans-IO plans: requests built, responses interpreted, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from resultgate._errors import (
    IdNotFound,
    NoPersistedResult,
    NotFound,
    PrefectBadResponse,
    UsageError,
)
from resultgate._model import ID_KINDS, IdKind, StateInfo
from resultgate._plan import Plan, Request, Response

if TYPE_CHECKING:
    pass


T = TypeVar("T")
StateKind = Literal["flow_run_state", "task_run_state"]
RunKind = Literal["flow_run", "task_run"]

#: the API schema version the Prefect client sends (same in 2.x and 3.x)
API_VERSION = "0.8.4"
PAGE_SIZE = 200  # the server refuses a larger limit (formats doc §1.4)
MAX_PAGES = 500  # 100 000 task runs: a bound, not an expectation
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0
MAX_RETRY_AFTER = 10.0
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_PATHS: dict[IdKind, str] = {
    "flow_run_state": "/flow_run_states",
    "task_run_state": "/task_run_states",
    "flow_run": "/flow_runs",
    "task_run": "/task_runs",
}
_LABELS: dict[IdKind, str] = {
    "flow_run_state": "flow run state",
    "task_run_state": "task run state",
    "flow_run": "flow run",
    "task_run": "task run",
}
_AUTH_HINT = (
    "set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (a server started with "
    "PREFECT_SERVER_API_AUTH_STRING)"
)


#: Prefect 3 gives flow runs UUIDv4 ids and states and task runs UUIDv7 (time-ordered) ids
_V4_ORDER: tuple[IdKind, ...] = ("flow_run", "flow_run_state", "task_run_state", "task_run")


def lookup_order(uid: str) -> tuple[IdKind, ...]:
    """The order an id of unknown kind is looked up in: every kind, likeliest first.

    A version-4 UUID is most likely a Prefect 3 flow run (its states and task runs
    have version-7 ids), so it is tried as a flow run first; everything else goes
    flow-run state, task-run state, flow run, task run. Only the number of
    round trips depends on this, never the answer: an id names one object.
    """
    return _V4_ORDER if uid[14] == "4" else ID_KINDS


def check_id(value: str) -> str:
    """A canonical lower-case UUID, or :class:`UsageError` (before any call is made)."""
    text = str(value).strip()
    if not _UUID_RE.match(text):
        raise UsageError(f"{value!r} is not a Prefect id (a UUID such as 0e6f2c1a-...)")
    hexed = text.replace("-", "").lower()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def _json(response: Response, what: str) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise PrefectBadResponse(
            f"Prefect answered {what} with a body that is not JSON",
            hint="is PREFECT_API_URL the API (ending in /api), not the UI or another server?",
            status=response.status,
        ) from None


def _state(body: dict[str, Any], what: str) -> StateInfo:
    """A StateInfo, once the body looks like a Prefect state (an id and a type)."""
    if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise PrefectBadResponse(
            f"Prefect answered {what} with an object that is not a state",
            hint="is PREFECT_API_URL a Prefect API?",
        )
    return StateInfo.from_api(body)


def _is_unknown_route(response: Response) -> bool:
    """A 404 from the web framework (no such route), not Prefect's "... not found" for an id."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return True
    return not (isinstance(body, dict) and str(body.get("detail", "")).endswith(" not found"))


def _json_object(response: Response, what: str) -> dict[str, Any]:
    body = _json(response, what)
    if not isinstance(body, dict):
        raise PrefectBadResponse(f"Prefect answered {what} with {type(body).__name__}, not an object")
    return body


class PrefectAPI:
    """Plans for the few Prefect endpoints resultgate reads.

    ``scope`` is a Cloud ``/accounts/{a}/workspaces/{w}`` prefix (or ``""``);
    ``auth_header`` a forwarded ``Authorization`` value that overrides the driver's.
    """

    def __init__(self, scope: str = "", auth_header: str | None = None) -> None:
        if scope and not re.fullmatch(r"/accounts/[^/?#\s]+/workspaces/[^/?#\s]+", scope):
            raise UsageError(f"{scope!r} is not a workspace scope (/accounts/<id>/workspaces/<id>)")
        self.scope = scope
        self.auth_header = auth_header

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        accept: frozenset[int] = frozenset({200}),
    ) -> Request:
        headers = {"Authorization": self.auth_header} if self.auth_header else None
        return Request(method, self.scope + path, params=params, json=json, headers=headers, accept=accept)

    def read_state(self, kind: StateKind, id: str) -> Plan[StateInfo]:
        """``GET /{flow_run_states|task_run_states}/{id}``; :class:`IdNotFound` on 404."""
        found = yield from self._read(kind, id)
        return _state(found, f"GET {_PATHS[kind]}/{check_id(id)}")

    def read_run(self, kind: RunKind, id: str) -> Plan[dict[str, Any]]:
        """``GET /{flow_runs|task_runs}/{id}``: the run JSON (its ``state`` is the current state)."""
        return (yield from self._read(kind, id))

    def _read(self, kind: IdKind, id: str) -> Plan[dict[str, Any]]:
        if kind not in _PATHS:
            raise UsageError(f"unknown id kind {kind!r}; use one of {', '.join(ID_KINDS)}")
        uid = check_id(id)
        response: Response = yield self.request("GET", f"{_PATHS[kind]}/{uid}", accept=frozenset({200, 404}))
        if response.status == 404:
            raise IdNotFound(f"no {_LABELS[kind]} has id {uid}", tried=[kind])
        return _json_object(response, f"GET {_PATHS[kind]}/{uid}")

    def resolve(
        self, id: str, kind: IdKind | None = None
    ) -> Plan[tuple[IdKind, StateInfo, dict[str, Any] | None]]:
        """``(kind, state, run)`` for an id of any kind; a run resolves to its current state.

        With no ``kind`` the lookups go flow-run state, task-run state, flow run, task
        run (:data:`ID_KINDS`); a 404 from all of them is :class:`IdNotFound` listing
        what was tried. ``run`` is None when the id is a state's.
        """
        if kind is not None and kind not in _PATHS:
            raise UsageError(f"unknown id kind {kind!r}; use one of {', '.join(ID_KINDS)}")
        uid = check_id(id)
        kinds: tuple[IdKind, ...] = (kind,) if kind else lookup_order(uid)
        no_route = True
        for k in kinds:
            path = f"{_PATHS[k]}/{uid}"
            response: Response = yield self.request("GET", path, accept=frozenset({200, 404}))
            if response.status == 404:
                no_route = no_route and _is_unknown_route(response)
                continue
            body = _json_object(response, f"GET {path}")
            if k in ("flow_run_state", "task_run_state"):
                return k, _state(body, f"GET {path}"), None
            state = body.get("state")
            if not isinstance(state, dict):
                raise NoPersistedResult(f"the {_LABELS[k]} {uid} has no state yet", kind=k)
            return k, _state(state, f"GET {path} (its state)"), body
        tried = ", ".join(_LABELS[k] + "s" for k in kinds)
        hint = f"looked up: {tried}; check the id and that PREFECT_API_URL points at the right server"
        if no_route:
            hint = f"looked up: {tried}; the server has no such routes: does PREFECT_API_URL end in /api?"
        raise IdNotFound(
            f"no {' or '.join(_LABELS[k] for k in kinds)} has id {uid}", hint=hint, tried=list(kinds)
        )

    def read_block_document(self, id: str) -> Plan[dict[str, Any]]:
        """``GET /block_documents/{id}?include_secrets=true`` (the storage block of a result)."""
        uid = check_id(id)
        path = f"/block_documents/{uid}"
        response: Response = yield self.request(
            "GET", path, params={"include_secrets": "true"}, accept=frozenset({200, 404})
        )
        if response.status == 404:
            raise NotFound(
                f"the storage block document {uid} does not exist",
                hint="the result's storage block may have been deleted",
            )
        return _json_object(response, f"GET {path}")

    def task_runs(self, flow_run_id: str) -> Plan[list[dict[str, Any]]]:
        """All task runs of a flow run, oldest expected start first, paged by 200."""
        uid = check_id(flow_run_id)
        runs: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(MAX_PAGES):
            body = {
                "flow_runs": {"id": {"any_": [uid]}},
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": PAGE_SIZE,
                "offset": page * PAGE_SIZE,
            }
            response: Response = yield self.request("POST", "/task_runs/filter", json=body)
            items = _json(response, "POST /task_runs/filter")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise PrefectBadResponse("Prefect answered POST /task_runs/filter with something not a list")
            for item in items:
                key = str(item.get("id"))
                if key not in seen:  # a run added while paging can shift one into the next page
                    seen.add(key)
                    runs.append(item)
            if len(items) < PAGE_SIZE:
                return runs
        raise PrefectBadResponse(f"flow run {uid} has more than {MAX_PAGES * PAGE_SIZE} task runs")

    def version(self) -> Plan[str]:
        """The Prefect server's package version (``GET /admin/version``), e.g. ``"3.9.1"``."""
        response: Response = yield self.request("GET", "/admin/version")
        body = _json(response, "GET /admin/version")
        if not isinstance(body, str):
            raise PrefectBadResponse("Prefect answered GET /admin/version with something not a string")
        return body

    def health(self) -> Plan[bool]:
        """True when ``GET /health`` answers 200 ``true``."""
        response: Response = yield self.request("GET", "/health", accept=frozenset({200, 503}))
        return response.status == 200 and response.content.strip() == b"true"
