"""The HTTP gateway: Prefect-shaped result endpoints over FastAPI (``resultgate[server]``).

    >>> from resultgate.server import create_app
    >>> app = create_app(settings)          # then serve it with uvicorn

Importing this package stays light (the command line imports ``resultgate.server.cli``
at start-up); FastAPI is imported when :func:`create_app` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resultgate.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from resultgate.server.app import create_app

        return create_app
    raise AttributeError(f"module 'resultgate.server' has no attribute {name!r}")
