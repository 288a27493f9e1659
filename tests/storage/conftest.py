"""Fixtures of the storage tests: the object-store emulators (see ``support/emulators.py``)."""

from __future__ import annotations

from support.emulators import azurite, gcs_emulator, pytest_runtest_makereport, s3_server

__all__ = ["azurite", "gcs_emulator", "pytest_runtest_makereport", "s3_server"]
