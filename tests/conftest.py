"""Session fixtures shared by every test module; the fixtures themselves live in ``support/``."""

from __future__ import annotations

from support.prefect_server import prefect_server

__all__ = ["prefect_server"]
