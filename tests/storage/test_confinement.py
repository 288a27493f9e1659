"""Hostile references: each is refused, and the file it aims at is never opened.

"Never opened" is shown two ways: a spy on ``os.open`` / ``open`` sees no call, and
(on a file system that updates access times) the target's atime does not move.
"""

from __future__ import annotations

import builtins
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import make_block

import resultgate._storage._local as local_mod
from resultgate._errors import Refused
from resultgate._model import Reference
from resultgate._storage import Location, StoragePolicy, iter_bytes, locate, read_bytes, size


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ``os.open`` / ``open`` call made while the test runs."""
    calls: list[Any] = []
    real_os_open, real_open = os.open, builtins.open

    def spy_os_open(path: Any, *a: Any, **k: Any) -> int:
        calls.append(path)
        return real_os_open(path, *a, **k)

    def spy_open(path: Any, *a: Any, **k: Any) -> Any:
        calls.append(path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(builtins, "open", spy_open)
    return calls


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """``root/`` (allowed, with a good file) and ``outside/secret.txt`` (not allowed)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "good").write_bytes(b"good")
    secret = outside / "secret.txt"
    secret.write_bytes(b"top secret")
    _age_atime(secret)
    return {"root": root, "outside": outside, "secret": secret}


def _age_atime(p: Path) -> None:
    st = p.stat()
    os.utime(p, (st.st_mtime - 3600, st.st_mtime))


def _atime_moves(tmp: Path) -> bool:
    probe = tmp / "probe"
    probe.write_bytes(b"x")
    _age_atime(probe)
    before = probe.stat().st_atime
    probe.read_bytes()
    return probe.stat().st_atime != before


def _assert_untouched(secret: Path, before: float, opens: list[Any]) -> None:
    assert opens == [], f"something was opened: {opens}"
    if _atime_moves(secret.parent.parent):
        assert secret.stat().st_atime == before, "the target file was read"


def _policy(tree: dict[str, Path], **kw: Any) -> StoragePolicy:
    return StoragePolicy(allowed_roots=(str(tree["root"]),), **kw)


def _refused_everywhere(loc: Location, policy: StoragePolicy) -> None:
    """A hand-made location (bypassing locate) is refused by every read function too."""
    with pytest.raises(Refused):
        read_bytes(loc, policy)
    with pytest.raises(Refused):
        iter_bytes(loc, policy)
    with pytest.raises(Refused):
        size(loc, policy)


def test_the_good_file_is_read(tree: dict[str, Path]) -> None:
    loc = locate(Reference("prefect3", str(tree["root"] / "good"), None, None), None, _policy(tree))
    assert read_bytes(loc, _policy(tree)) == b"good"


def test_etc_passwd(opens: list[Any]) -> None:
    policy = StoragePolicy(allowed_roots=("/tmp",))
    before = os.stat("/etc/passwd").st_atime
    with pytest.raises(Refused, match=r"/etc/passwd.*outside the allowed roots") as info:
        locate(Reference("prefect3", "/etc/passwd", None, None), None, policy)
    assert "--allow-root" in str(info.value)
    assert "--map" in str(info.value)
    _refused_everywhere(Location("file", "/etc/passwd", {}, "file:///etc/passwd"), policy)
    assert opens == []
    assert os.stat("/etc/passwd").st_atime == before


def test_outside_file_by_absolute_key(tree: dict[str, Path], opens: list[Any]) -> None:
    secret, before = tree["secret"], tree["secret"].stat().st_atime
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect3", str(secret), None, None), None, _policy(tree))
    _refused_everywhere(Location("file", str(secret), {}, "x"), _policy(tree))
    _assert_untouched(secret, before, opens)


@pytest.mark.parametrize("key", ["../outside/secret.txt", "a/../../outside/secret.txt", "..", "x/.."])
def test_dotdot_escape_from_a_block_basepath(tree: dict[str, Path], opens: list[Any], key: str) -> None:
    block = make_block("local-file-system", {"basepath": str(tree["root"])})
    secret, before = tree["secret"], tree["secret"].stat().st_atime
    with pytest.raises(Refused, match=r"'\.\.' segment"):
        locate(Reference("prefect2", key, "bid", None), block, _policy(tree))
    _assert_untouched(secret, before, opens)


def test_dotdot_in_an_absolute_key_and_in_a_hand_made_location(
    tree: dict[str, Path], opens: list[Any]
) -> None:
    sneaky = f"{tree['root']}/../outside/secret.txt"
    with pytest.raises(Refused, match=r"'\.\.' segment"):
        locate(Reference("prefect3", sneaky, None, None), None, _policy(tree))
    _refused_everywhere(Location("file", sneaky, {}, "x"), _policy(tree))
    assert opens == []


def test_symlink_inside_the_root_pointing_out(tree: dict[str, Path], opens: list[Any]) -> None:
    link = tree["root"] / "innocent"
    link.symlink_to(tree["secret"])
    secret, before = tree["secret"], tree["secret"].stat().st_atime
    with pytest.raises(Refused, match=r"really .*secret\.txt"):
        locate(Reference("prefect3", str(link), None, None), None, _policy(tree))
    _refused_everywhere(Location("file", str(link), {}, "x"), _policy(tree))
    _assert_untouched(secret, before, opens)


def test_symlinked_directory_inside_the_root_pointing_out(tree: dict[str, Path], opens: list[Any]) -> None:
    (tree["root"] / "dir").symlink_to(tree["outside"], target_is_directory=True)
    secret, before = tree["secret"], tree["secret"].stat().st_atime
    key = str(tree["root"] / "dir" / "secret.txt")
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect3", key, None, None), None, _policy(tree))
    _refused_everywhere(Location("file", key, {}, "x"), _policy(tree))
    _assert_untouched(secret, before, opens)


def test_a_symlinked_allowed_root_is_fine(tree: dict[str, Path], tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(tree["root"], target_is_directory=True)
    policy = StoragePolicy(allowed_roots=(str(alias),))
    loc = locate(Reference("prefect3", str(alias / "good"), None, None), None, policy)
    assert read_bytes(loc, policy) == b"good"


@pytest.mark.timeout(10)
def test_fifo_inside_the_root_is_never_opened(tree: dict[str, Path]) -> None:
    fifo = tree["root"] / "fifo"
    os.mkfifo(fifo)
    connected = threading.Event()

    def writer() -> None:  # blocks until a reader opens the FIFO
        fd = os.open(fifo, os.O_WRONLY)
        connected.set()
        os.close(fd)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    loc = locate(Reference("prefect3", str(fifo), None, None), None, _policy(tree))
    with pytest.raises(Refused, match="not a regular file"):
        read_bytes(loc, _policy(tree))
    with pytest.raises(Refused, match="not a regular file"):
        iter_bytes(loc, _policy(tree))
    with pytest.raises(Refused, match="not a regular file"):
        size(loc, _policy(tree))
    time.sleep(0.2)
    assert not connected.is_set(), "the FIFO was opened for reading"
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # release the writer thread
    t.join(5)
    os.close(rfd)
    assert connected.is_set()


@pytest.mark.timeout(10)
def test_a_device_is_never_opened(opens: list[Any]) -> None:
    policy = StoragePolicy(allowed_roots=("/dev",))
    loc = locate(Reference("prefect3", "/dev/null", None, None), None, policy)
    with pytest.raises(Refused, match="not a regular file"):
        read_bytes(loc, policy)
    assert opens == []


def test_a_directory_is_refused(tree: dict[str, Path]) -> None:
    (tree["root"] / "sub").mkdir()
    loc = locate(Reference("prefect3", str(tree["root"] / "sub"), None, None), None, _policy(tree))
    with pytest.raises(Refused, match="not a regular file"):
        read_bytes(loc, _policy(tree))


def test_block_with_an_http_basepath(opens: list[Any]) -> None:
    block = make_block("remote-file-system", {"basepath": "http://169.254.169.254/latest", "settings": {}})
    with pytest.raises(Refused, match=r"the http:// protocol is not allowed"):
        locate(Reference("prefect3", "meta-data", "bid", None), block, StoragePolicy())
    _refused_everywhere(Location("http", "169.254.169.254/latest/x", {}, "http://x"), StoragePolicy())
    assert opens == []


def test_block_with_a_file_url_as_remote_basepath(opens: list[Any]) -> None:
    block = make_block("remote-file-system", {"basepath": "file:///etc", "settings": {}})
    with pytest.raises(Refused):
        locate(Reference("prefect3", "passwd", "bid", None), block, StoragePolicy())
    assert opens == []


@pytest.mark.parametrize("basepath", ["/", "/etc", "/proc/self", "/dev"])
def test_a_trusted_local_block_cannot_make_system_directories_readable(
    basepath: str, opens: list[Any]
) -> None:
    block = make_block("local-file-system", {"basepath": basepath})
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect2", "passwd", "bid", None), block, StoragePolicy())
    _refused_everywhere(Location("file", "/etc/passwd", {}, "x", block_root=basepath), StoragePolicy())
    assert opens == []


@pytest.mark.parametrize(
    "key",
    [
        "memory://x/y",
        "http://example.com/x",
        "ftp://h/x",
        "simplecache::file:///etc/passwd",
        "zip://a::s3://b/c",
    ],
)
def test_other_protocols_and_chains_are_refused(key: str, opens: list[Any]) -> None:
    with pytest.raises(Refused):
        locate(Reference("prefect3", key, None, None), None, StoragePolicy())
    assert opens == []


def test_a_file_url_key_is_confined_like_a_path(opens: list[Any]) -> None:
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(
            Reference("prefect3", "file:///etc/passwd", None, None),
            None,
            StoragePolicy(allowed_roots=("/tmp",)),
        )
    assert opens == []


@pytest.mark.parametrize("key", ["/tmp/x\x00/etc/passwd", "abc\x00"])
def test_nul_byte(key: str, opens: list[Any]) -> None:
    with pytest.raises(Refused, match="NUL byte"):
        locate(Reference("prefect3", key, None, None), None, StoragePolicy(allowed_roots=("/tmp",)))
    _refused_everywhere(Location("file", "/tmp/x\x00y", {}, "x"), StoragePolicy(allowed_roots=("/tmp",)))
    assert opens == []


def test_path_map_target_tricks(tree: dict[str, Path], opens: list[Any]) -> None:
    policy = StoragePolicy(path_map=(("/home/alice/storage", str(tree["root"])),))
    secret, before = tree["secret"], tree["secret"].stat().st_atime
    # a sibling of FROM is not mapped (and so not allowed)
    with pytest.raises(Refused):
        locate(Reference("prefect3", "/home/alice/storage-evil/x", None, None), None, policy)
    # climbing out of FROM before or after the rewrite
    with pytest.raises(Refused, match=r"'\.\.'"):
        locate(
            Reference("prefect3", "/home/alice/storage/../../../outside/secret.txt", None, None), None, policy
        )
    # a symlink in the mapped target leading out
    (tree["root"] / "exit").symlink_to(tree["secret"])
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect3", "/home/alice/storage/exit", None, None), None, policy)
    # the map does not make its FROM side readable
    with pytest.raises(Refused):
        locate(Reference("prefect3", str(secret), None, None), None, policy)
    _assert_untouched(secret, before, opens)
    ok = locate(Reference("prefect3", "/home/alice/storage/good", None, None), None, policy)
    assert read_bytes(ok, policy) == b"good"


def test_a_symlink_swapped_in_after_the_check_is_not_followed(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tree["root"] / "good"
    real_checked = local_mod._checked

    def checked_then_swap(loc: Location, policy: StoragePolicy) -> Any:
        result = real_checked(loc, policy)
        target.unlink()
        target.symlink_to(tree["secret"])  # the race: after lstat, before open
        return result

    monkeypatch.setattr(local_mod, "_checked", checked_then_swap)
    loc = Location("file", str(target), {}, "file://" + str(target))
    with pytest.raises(Refused, match="symlink appeared"):
        read_bytes(loc, _policy(tree))


def test_a_file_replaced_after_the_check_is_refused(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tree["root"] / "good"
    real_checked = local_mod._checked

    def checked_then_replace(loc: Location, policy: StoragePolicy) -> Any:
        result = real_checked(loc, policy)
        other = tree["root"] / "other"
        other.write_bytes(b"other")
        os.replace(other, target)  # same name, another inode
        return result

    monkeypatch.setattr(local_mod, "_checked", checked_then_replace)
    with pytest.raises(Refused, match="changed while it was opened"):
        read_bytes(Location("file", str(target), {}, "x"), _policy(tree))


def test_a_directory_swapped_for_a_symlink_mid_path_is_not_followed(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tree["root"] / "sub"
    sub.mkdir()
    (sub / "secret.txt").write_bytes(b"fine")
    real_checked = local_mod._checked

    def checked_then_swap(loc: Location, policy: StoragePolicy) -> Any:
        result = real_checked(loc, policy)
        (sub / "secret.txt").unlink()
        sub.rmdir()
        sub.symlink_to(tree["outside"], target_is_directory=True)
        return result

    monkeypatch.setattr(local_mod, "_checked", checked_then_swap)
    with pytest.raises(Refused, match="symlink appeared"):
        read_bytes(Location("file", str(sub / "secret.txt"), {}, "x"), _policy(tree))


@pytest.mark.parametrize("protocol", ["local", "FILE", "File"])
def test_other_spellings_of_the_local_file_system_are_confined_too(protocol: str, opens: list[Any]) -> None:
    policy = StoragePolicy(allowed_roots=("/tmp",))
    _refused_everywhere(Location(protocol, "/etc/passwd", {}, "x"), policy)
    assert opens == []


def test_a_block_basepath_that_is_a_symlink_to_the_root_makes_nothing_readable(
    tmp_path: Path, opens: list[Any]
) -> None:
    (tmp_path / "storage").symlink_to("/", target_is_directory=True)
    block = make_block("local-file-system", {"basepath": str(tmp_path / "storage")})
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect2", "etc/passwd", "bid", None), block, StoragePolicy())
    assert opens == []
