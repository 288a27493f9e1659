"""Local reads of every captured result file, through locate + a path map, byte-exact."""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import block_for, owner_state, ref_from_state

from resultgate._errors import Refused, ResultMissing, StorageError, TooLarge
from resultgate._model import Reference
from resultgate._storage import Location, StoragePolicy, iter_bytes, locate, read_bytes, size
from support.cases import Case, result_files

RESULTS = result_files()
REPO = Path(__file__).resolve().parents[2]


def _replay_policy(case: Case, entry: dict[str, Any]) -> StoragePolicy:
    """Map the writer's directory of this result onto the case's result/ folder."""
    writer_dir = posixpath.dirname(entry["original_location"])
    here = (case.dir / entry["file"]).parent
    return StoragePolicy(path_map=((writer_dir, str(here)),), trust_block_basepaths=False)


@pytest.mark.parametrize(("case", "entry"), RESULTS, ids=[f"{c.name}-{e['owner']}" for c, e in RESULTS])
def test_every_captured_result_reads_byte_exact(case: Case, entry: dict[str, Any]) -> None:
    ref = ref_from_state(owner_state(case, entry["owner"]))
    policy = _replay_policy(case, entry)
    loc = locate(ref, block_for(case, ref.storage_block_id), policy)
    assert loc.path == str(case.dir / entry["file"])
    data = read_bytes(loc, policy)
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["size"] == size(loc, policy)
    assert b"".join(iter_bytes(loc, policy, chunk_size=7)) == data
    assert read_bytes(loc, policy, max_bytes=entry["size"]) == data
    with pytest.raises(TooLarge, match="over the cap"):
        read_bytes(loc, policy, max_bytes=entry["size"] - 1)


def test_too_large_is_raised_before_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as f:
        f.truncate(1 << 30)  # a sparse GiB: reading it would take a while and the memory
    policy = StoragePolicy(allowed_roots=(str(tmp_path),))
    loc = locate(Reference("prefect3", str(big), None, None), None, policy)
    with pytest.raises(TooLarge) as info:
        read_bytes(loc, policy, max_bytes=1024)
    assert info.value.details == {"size": 1 << 30, "limit": 1024}


def test_a_missing_file_from_another_machine_says_how_to_map_it(tmp_path: Path) -> None:
    policy = StoragePolicy(allowed_roots=("/home/alice",))
    loc = locate(Reference("prefect3", "/home/alice/.prefect/storage/gone", None, None), None, policy)
    with pytest.raises(
        ResultMissing, match=r"no result file at file:///home/alice/.prefect/storage/gone"
    ) as info:
        read_bytes(loc, policy)
    assert "--map /home/alice/.prefect/storage=DIR" in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    for call in (lambda: size(loc, policy), lambda: iter_bytes(loc, policy)):
        with pytest.raises(ResultMissing):
            call()


def test_permission_denied_is_refused() -> None:
    """Run as an unprivileged user (root reads every file): the OS says no → Refused."""
    d = Path(tempfile.mkdtemp(prefix="rg-perm-"))
    try:
        d.chmod(0o755)
        f = d / "locked"
        f.write_bytes(b"x")
        f.chmod(0)
        code = textwrap.dedent(f"""
            from resultgate._errors import Refused
            from resultgate._storage import Location, StoragePolicy, read_bytes
            try:
                policy = StoragePolicy(allowed_roots=({str(d)!r},))
                read_bytes(Location("file", {str(f)!r}, {{}}, "x"), policy)
            except Refused as exc:
                assert "permission denied" in str(exc), exc
                print("refused")
        """)
        nobody = 65534 if os.geteuid() == 0 else None
        try:
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd="/",
                capture_output=True,
                text=True,
                timeout=60,
                user=nobody,
                group=nobody,
            )
        except PermissionError as exc:
            pytest.skip(f"an unprivileged user cannot run this interpreter: {exc}")
        assert out.stdout.strip() == "refused", out.stderr
    finally:
        shutil.rmtree(d)


def test_a_permission_error_at_open_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seam when the real thing cannot be arranged (root): os.open says EACCES."""
    f = tmp_path / "r"
    f.write_bytes(b"abc")
    policy = StoragePolicy(allowed_roots=(str(tmp_path),))
    real_open = os.open

    def denying_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
        if path == "r":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", denying_open)
    with pytest.raises(Refused, match="permission denied"):
        read_bytes(Location("file", str(f), {}, "x"), policy)


def test_an_os_error_while_reading_becomes_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "r"
    f.write_bytes(b"abc")
    policy = StoragePolicy(allowed_roots=(str(tmp_path),))
    loc = locate(Reference("prefect3", str(f), None, None), None, policy)
    real_fdopen = os.fdopen

    class Broken:
        def __init__(self, fd: int) -> None:
            self.f = real_fdopen(fd, "rb")

        def __enter__(self) -> Broken:
            return self

        def __exit__(self, *a: object) -> None:
            self.f.close()

        def read(self, n: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Broken(fd))
    with pytest.raises(StorageError, match=r"OSError: \[Errno 5\] Input/output error") as info:
        read_bytes(loc, policy)
    assert isinstance(info.value.__cause__, OSError)


def test_iter_bytes_opens_before_it_returns(tmp_path: Path) -> None:
    f = tmp_path / "r"
    f.write_bytes(b"abcdef")
    policy = StoragePolicy(allowed_roots=(str(tmp_path),))
    chunks = iter_bytes(Location("file", str(f), {}, "x"), policy, chunk_size=4)
    f.unlink()  # already open: the bytes are still ours
    assert list(chunks) == [b"abcd", b"ef"]
    with pytest.raises(ValueError, match="chunk_size"):
        iter_bytes(Location("file", str(f), {}, "x"), policy, chunk_size=0)


def test_local_reads_do_not_import_fsspec(tmp_path: Path) -> None:
    f = tmp_path / "r"
    f.write_bytes(b"abc")
    code = textwrap.dedent(f"""
        import sys
        from resultgate._model import Reference
        from resultgate._storage import StoragePolicy, locate, read_bytes
        policy = StoragePolicy(allowed_roots=({str(tmp_path)!r},))
        loc = locate(Reference("prefect3", {str(f)!r}, None, None), None, policy)
        assert read_bytes(loc, policy) == b"abc"
        bad = [m for m in ("fsspec", "s3fs", "gcsfs", "adlfs", "botocore") if m in sys.modules]
        assert not bad, bad
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)
