"""S3 through a real moto server: block documents shaped like the captured ones → exact bytes."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_helpers import SECRET, aws_s3_block, minio_s3_block

from resultgate._errors import MissingExtra, ResultgateError, ResultMissing, StorageError, UpstreamTimeout
from resultgate._model import Reference
from resultgate._storage import StoragePolicy, iter_bytes, locate, read_bytes, size
from support.cases import case
from support.emulators import S3Server

pytestmark = pytest.mark.s3

BUCKET = "results"
FOLDER = "prefect/out"
REPO = Path(__file__).resolve().parents[2]
#: a 3.x raw flow result and a 2.x blob, as Prefect wrote them
FLOW3 = case("p3_pickle_str_default")
FLOW2 = case("p2_tasks_default")


@pytest.fixture(scope="module")
def objects(s3_server: S3Server) -> dict[str, bytes]:
    out = {}
    for c in (FLOW3, FLOW2):
        entry = c.results()[0]
        key = Path(entry["file"]).name
        data = c.file_bytes(entry["file"])
        s3_server.put(BUCKET, f"{FOLDER}/{key}", data)
        out[key] = data
    return out


def _one(objects: dict[str, bytes]) -> tuple[str, bytes]:
    key = Path(FLOW3.results()[0]["file"]).name
    return key, objects[key]


def test_minio_credentials_block_reads_the_exact_bytes(
    s3_server: S3Server, objects: dict[str, bytes]
) -> None:
    block = minio_s3_block(BUCKET, FOLDER, s3_server.endpoint_url, s3_server.key, s3_server.secret)
    policy = StoragePolicy()
    for key, data in objects.items():
        loc = locate(Reference("prefect3", key, "bid", None), block, policy)
        assert loc.display == f"s3://{BUCKET}/{FOLDER}/{key}"
        assert read_bytes(loc, policy) == data
        assert size(loc, policy) == len(data)
        assert b"".join(iter_bytes(loc, policy, chunk_size=5)) == data


def test_aws_credentials_with_client_parameters(s3_server: S3Server, objects: dict[str, bytes]) -> None:
    block = aws_s3_block(BUCKET, FOLDER, s3_server.endpoint_url, s3_server.key, s3_server.secret)
    key, data = _one(objects)
    policy = StoragePolicy()
    assert read_bytes(locate(Reference("prefect2", key, "bid", None), block, policy), policy) == data


def test_null_block_id_with_a_prefixed_key_through_the_default_block(
    s3_server: S3Server, objects: dict[str, bytes]
) -> None:
    block = aws_s3_block(BUCKET, FOLDER, s3_server.endpoint_url, s3_server.key, s3_server.secret)
    key, data = _one(objects)
    policy = StoragePolicy()
    loc = locate(Reference("prefect3", f"{FOLDER}/{key}", None, None), block, policy)
    assert loc.path == f"{BUCKET}/{FOLDER}/{key}"
    assert read_bytes(loc, policy) == data


def test_untrusted_policy_reads_with_the_operators_endpoint(
    s3_server: S3Server, objects: dict[str, bytes]
) -> None:
    block = minio_s3_block(BUCKET, FOLDER, "http://169.254.169.254:1", s3_server.key, s3_server.secret)
    policy = StoragePolicy(
        trust_block_basepaths=False,
        storage_options={f"s3://{BUCKET}": {"client_kwargs": {"endpoint_url": s3_server.endpoint_url}}},
    )
    key, data = _one(objects)
    loc = locate(Reference("prefect3", key, "bid", None), block, policy)
    assert loc.options["client_kwargs"] == {"endpoint_url": s3_server.endpoint_url}
    assert read_bytes(loc, policy) == data


def test_max_bytes(s3_server: S3Server, objects: dict[str, bytes]) -> None:
    block = aws_s3_block(BUCKET, FOLDER, s3_server.endpoint_url, s3_server.key, s3_server.secret)
    key, data = _one(objects)
    policy = StoragePolicy()
    loc = locate(Reference("prefect3", key, "bid", None), block, policy)
    assert read_bytes(loc, policy, max_bytes=len(data)) == data
    with pytest.raises(ResultgateError, match="over the cap") as info:
        read_bytes(loc, policy, max_bytes=len(data) - 1)
    assert info.value.code == "too-large"


@pytest.mark.parametrize(("bucket", "key"), [(BUCKET, "no-such-key"), ("no-such-bucket", "k")])
def test_missing_object_or_bucket(
    s3_server: S3Server, objects: dict[str, bytes], bucket: str, key: str
) -> None:
    block = aws_s3_block(bucket, FOLDER, s3_server.endpoint_url, s3_server.key, s3_server.secret)
    policy = StoragePolicy()
    loc = locate(Reference("prefect3", key, "bid", None), block, policy)
    with pytest.raises(ResultMissing, match=f"no result file at s3://{bucket}/{FOLDER}/{key}"):
        read_bytes(loc, policy)
    with pytest.raises(ResultMissing):
        iter_bytes(loc, policy)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAST_FAIL = {
    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1, "read_timeout": 1},
}


@pytest.mark.timeout(60)
def test_an_unreachable_endpoint_is_a_storage_error_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    block = minio_s3_block(BUCKET, FOLDER, endpoint, "user", SECRET)
    policy = StoragePolicy(storage_options={"s3://": FAST_FAIL})
    loc = locate(Reference("prefect3", "k", "bid", None), block, policy)
    with pytest.raises(StorageError) as info:
        read_bytes(loc, policy)
    err = info.value
    assert f"reading s3://{BUCKET}/{FOLDER}/k failed: EndpointConnectionError" in err.message
    shown = [str(err), repr(err), str(err.to_dict()), "".join(traceback.format_exception(err)), caplog.text]
    assert not [s for s in shown if SECRET in s]


@pytest.mark.timeout(60)
def test_an_error_text_carrying_the_secret_is_scrubbed_and_not_chained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"http://127.0.0.1:{_closed_port()}/{SECRET}"  # botocore's message echoes the endpoint
    block = minio_s3_block(BUCKET, FOLDER, endpoint, "user", SECRET)
    policy = StoragePolicy(storage_options={"s3://": FAST_FAIL})
    loc = locate(Reference("prefect3", "k", "bid", None), block, policy)
    with pytest.raises(StorageError) as info:
        read_bytes(loc, policy)
    err = info.value
    assert err.details.get("scrubbed") is True
    assert "***" in err.message
    assert err.__cause__ is None
    assert err.__context__ is None
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("resultgate"))
    # (s3fs's own DEBUG log echoes the endpoint URL; a secret inside an endpoint URL is
    # contrived, and third-party logging is the operator's to configure)
    shown = [str(err), repr(err), str(err.to_dict()), "".join(traceback.format_exception(err)), ours]
    assert not [s for s in shown if SECRET in s]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(5)
    for c in held:
        c.close()
    srv.close()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_silent_endpoint_is_a_timeout(silent_server: str) -> None:
    block = minio_s3_block(BUCKET, FOLDER, silent_server, "user", SECRET)
    fast = {"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 0.3, "read_timeout": 0.3}}
    policy = StoragePolicy(storage_options={"s3://": fast})
    loc = locate(Reference("prefect3", "k", "bid", None), block, policy)
    with pytest.raises(UpstreamTimeout, match=f"reading s3://{BUCKET}/{FOLDER}/k timed out"):
        read_bytes(loc, policy)


def test_a_missing_backend_is_a_missing_extra() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["s3fs"] = None  # as if the extra were not installed
        from resultgate._errors import MissingExtra
        from resultgate._storage import Location, StoragePolicy, read_bytes
        try:
            read_bytes(Location("s3", "b/k", {}, "s3://b/k"), StoragePolicy())
        except MissingExtra as exc:
            print(exc.message, "|", exc.hint)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.stdout.strip() == "reading s3:// needs the s3 extra (s3fs) | pip install 'resultgate[s3]'", (
        out.stderr
    )
    assert MissingExtra.code == "missing-extra"
