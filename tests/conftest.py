"""Session fixtures shared by every test module; the fixtures themselves live in ``support/``.

Each real part is started once per session, by the first test that needs it, and
stopped at the end: a Prefect server, a moto S3 server, Azurite, the GCS emulator.
"""

from __future__ import annotations

from support.emulators import azurite, gcs_emulator, pytest_runtest_makereport, s3_server
from support.hostile import listener
from support.prefect_server import prefect_server

__all__ = [
    "azurite",
    "gcs_emulator",
    "listener",
    "prefect_server",
    "pytest_runtest_makereport",
    "s3_server",
]
