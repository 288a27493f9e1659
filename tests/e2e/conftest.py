"""Fixtures of the end-to-end tests: the S3 emulator (see ``support/emulators.py``)."""

from __future__ import annotations

from support.emulators import s3_server

__all__ = ["s3_server"]
