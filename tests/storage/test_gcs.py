"""GCS through a real gcp-storage-emulator: a gcs-bucket block + operator options → exact bytes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import gcs_block

from resultgate._errors import ResultMissing, TooLarge
from resultgate._model import Reference
from resultgate._storage import StoragePolicy, iter_bytes, locate, read_bytes, size
from support.cases import case
from support.emulators import GcsEmulator

pytestmark = pytest.mark.gcs

BUCKET = "prefect-results"
FOLDER = "flows/"  # GcsBucket keeps a trailing "/" on its folder
FLOW2 = case("p2_compressed_json")  # a 2.x PersistedResultBlob
FLOW3 = case("p3_compressed_pickle")  # a 3.x raw compressed/pickle flow result


@pytest.fixture(scope="module")
def objects(gcs_emulator: GcsEmulator) -> dict[str, bytes]:
    out = {}
    for c in (FLOW2, FLOW3):
        entry = c.results()[0]
        key = Path(entry["file"]).name
        data = c.file_bytes(entry["file"])
        gcs_emulator.put(BUCKET, f"{FOLDER}{key}", data)
        out[key] = data
    return out


def _policy(gcs: GcsEmulator, **kw: Any) -> StoragePolicy:
    """The operator points gcsfs at the emulator; the block cannot."""
    return StoragePolicy(
        storage_options={f"gs://{BUCKET}": {"endpoint_url": gcs.endpoint_url, "token": "anon"}}, **kw
    )


@pytest.mark.timeout(60)
def test_gcs_bucket_block_reads_the_exact_bytes(gcs_emulator: GcsEmulator, objects: dict[str, bytes]) -> None:
    policy = _policy(gcs_emulator)
    block = gcs_block(BUCKET, "flows")  # saved without the slash: we add it like the validator
    for key, data in objects.items():
        loc = locate(Reference("prefect3", key, "bid", None), block, policy)
        assert loc.display == f"gs://{BUCKET}/{FOLDER}{key}"
        assert read_bytes(loc, policy) == data
        assert size(loc, policy) == len(data)
        assert b"".join(iter_bytes(loc, policy, chunk_size=100)) == data
        with pytest.raises(TooLarge):
            read_bytes(loc, policy, max_bytes=len(data) - 1)


@pytest.mark.timeout(60)
def test_null_block_id_with_a_prefixed_key(gcs_emulator: GcsEmulator, objects: dict[str, bytes]) -> None:
    policy = _policy(gcs_emulator)
    key, data = next(iter(objects.items()))
    loc = locate(Reference("prefect3", f"{FOLDER}{key}", None, None), gcs_block(BUCKET, FOLDER), policy)
    assert loc.path == f"{BUCKET}/{FOLDER}{key}"
    assert read_bytes(loc, policy) == data


@pytest.mark.timeout(60)
def test_untrusted_policy_allows_the_bucket_named_in_storage_options(
    gcs_emulator: GcsEmulator, objects: dict[str, bytes]
) -> None:
    policy = _policy(gcs_emulator, trust_block_basepaths=False)
    key, data = next(iter(objects.items()))
    assert (
        read_bytes(locate(Reference("prefect3", key, "bid", None), gcs_block(BUCKET, FOLDER), policy), policy)
        == data
    )


@pytest.mark.timeout(60)
def test_missing_object(gcs_emulator: GcsEmulator, objects: dict[str, bytes]) -> None:
    policy = _policy(gcs_emulator)
    loc = locate(Reference("prefect3", "nope", "bid", None), gcs_block(BUCKET, FOLDER), policy)
    with pytest.raises(ResultMissing, match=f"gs://{BUCKET}/{FOLDER}nope"):
        read_bytes(loc, policy)


def test_a_missing_backend_is_a_missing_extra() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["gcsfs"] = None
        from resultgate._errors import MissingExtra
        from resultgate._storage import Location, StoragePolicy, read_bytes
        try:
            read_bytes(Location("gs", "b/k", {}, "gs://b/k"), StoragePolicy())
        except MissingExtra as exc:
            print(exc.hint)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "pip install 'resultgate[gcs]'", out.stderr
