"""Azure Blob through a real Azurite: an azure-blob-storage-container block → exact bytes."""

from __future__ import annotations

import base64
import traceback
from pathlib import Path

import pytest
from storage_helpers import azure_block

from resultgate._errors import ResultMissing, StorageError, TooLarge
from resultgate._model import Reference
from resultgate._storage import StoragePolicy, iter_bytes, locate, read_bytes, size
from support.cases import case
from support.emulators import AZURITE_ACCOUNT, Azurite

pytestmark = pytest.mark.azure

CONTAINER = "prefect-results"
BASE = "runs/2026"
TASKS3 = case("p3_tasks_default")  # 3.x task records (JSON) and a raw flow result


@pytest.fixture(scope="module")
def blobs(azurite: Azurite) -> dict[str, bytes]:
    out = {}
    for entry in TASKS3.results():
        key = Path(entry["file"]).name
        data = TASKS3.file_bytes(entry["file"])
        azurite.put(CONTAINER, f"{BASE}/{key}", data)
        out[key] = data
    return out


def test_connection_string_block_reads_the_exact_bytes(azurite: Azurite, blobs: dict[str, bytes]) -> None:
    block = azure_block(CONTAINER, BASE, azurite.connection_string)
    policy = StoragePolicy()
    assert len(blobs) >= 4
    for key, data in blobs.items():
        loc = locate(Reference("prefect3", key, "bid", None), block, policy)
        assert loc.display == f"az://{CONTAINER}/{BASE}/{key}"
        assert loc.cache_key() == f"az://{CONTAINER}/{BASE}/{key}@{azurite.blob_endpoint}"
        assert read_bytes(loc, policy) == data
        assert size(loc, policy) == len(data)
        assert b"".join(iter_bytes(loc, policy, chunk_size=64)) == data


def test_untrusted_policy_uses_the_operators_connection_string(
    azurite: Azurite, blobs: dict[str, bytes]
) -> None:
    block = azure_block(CONTAINER, BASE, azurite.connection_string)  # carries its own BlobEndpoint
    key, data = next(iter(blobs.items()))
    ref = Reference("prefect3", key, "bid", None)
    policy = StoragePolicy(
        trust_block_basepaths=False,
        storage_options={f"az://{CONTAINER}": {"connection_string": azurite.connection_string}},
    )
    loc = locate(ref, block, policy)
    assert read_bytes(loc, policy) == data
    with pytest.raises(TooLarge):
        read_bytes(loc, policy, max_bytes=len(data) - 1)


@pytest.mark.parametrize(("container", "key"), [(CONTAINER, "no-such-blob"), ("no-such-container", "k")])
def test_missing_blob_or_container(
    azurite: Azurite, blobs: dict[str, bytes], container: str, key: str
) -> None:
    block = azure_block(container, BASE, azurite.connection_string)
    policy = StoragePolicy()
    loc = locate(Reference("prefect3", key, "bid", None), block, policy)
    with pytest.raises(ResultMissing, match=f"az://{container}/{BASE}/{key}"):
        read_bytes(loc, policy)


@pytest.mark.timeout(120)
def test_a_wrong_account_key_is_a_storage_error_without_the_key(
    azurite: Azurite, blobs: dict[str, bytes]
) -> None:
    wrong = base64.b64encode(b"not-the-key-" * 5).decode()
    conn = azurite.connection_string.replace(
        azurite.connection_string.split("AccountKey=")[1].split(";")[0], wrong
    )
    block = azure_block(CONTAINER, BASE, conn)
    key = next(iter(blobs))
    policy = StoragePolicy()
    loc = locate(Reference("prefect3", key, "bid", None), block, policy)
    with pytest.raises(StorageError) as info:
        read_bytes(loc, policy)
    shown = [
        str(info.value),
        repr(info.value),
        str(info.value.to_dict()),
        "".join(traceback.format_exception(info.value)),
    ]
    assert not [s for s in shown if wrong in s]
    assert AZURITE_ACCOUNT  # the account name may show; the key never
