"""Confined local reads with plain ``os`` calls (no fsspec: it costs CLI start-up).

The file is opened only after its real path is found under an allowed root and
``lstat`` says it is a regular file. It is then opened component by component
from the root's directory descriptor with ``O_NOFOLLOW`` (a symlink swapped in
meanwhile fails the open), ``O_NONBLOCK`` (a FIFO swapped in cannot block us) and
checked again with ``fstat`` (same inode, still regular) before one byte is read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from resultgate._errors import Refused, TooLarge
from resultgate._storage._locate import trusted_block_root
from resultgate._storage._policy import ALLOW_HINT, Location, StoragePolicy, check_local_path
from resultgate._storage._seam import reraise

__all__ = ["iter_local", "open_local", "read_local", "size_local"]

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_OPENAT = os.open in os.supports_dir_fd and bool(_O_NOFOLLOW and _O_DIRECTORY)


def _roots(loc: Location, policy: StoragePolicy) -> tuple[str, ...]:
    root = trusted_block_root(loc.block_root, policy)
    return policy.local_roots([root] if root else [])


def _checked(loc: Location, policy: StoragePolicy) -> tuple[str, str, os.stat_result]:
    """Confine, then ``lstat``: (real path, real root, stat). Opens nothing."""
    real, root = check_local_path(loc.path, _roots(loc, policy))
    try:
        st = os.lstat(real)
    except OSError as exc:
        reraise(exc, loc)
    if not stat.S_ISREG(st.st_mode):
        raise Refused(
            f"refused to read {loc.display}: it is not a regular file", hint=ALLOW_HINT, path=loc.path
        )
    return real, root, st


def open_local(loc: Location, policy: StoragePolicy) -> tuple[int, os.stat_result]:
    """An open descriptor of the confined regular file ``loc`` and its ``fstat``."""
    real, root, st = _checked(loc, policy)
    flags = os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY
    try:
        if _OPENAT:
            fd = _open_beneath(root, os.path.relpath(real, root), flags)
        else:  # pragma: no cover - platforms without openat
            fd = os.open(real, flags | _O_NOFOLLOW | _O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise Refused(f"refused to read {loc.display}: a symlink appeared on its path") from None
        reraise(exc, loc)
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            raise Refused(f"refused to read {loc.display}: the file changed while it was opened")
    except BaseException:
        os.close(fd)
        raise
    return fd, fst


def _open_beneath(root: str, rel: str, flags: int) -> int:
    """``openat`` each component from ``root`` without following any symlink."""
    parts = rel.split(os.sep)
    dfd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in parts[:-1]:
            nfd = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dfd)
            os.close(dfd)
            dfd = nfd
        return os.open(parts[-1], flags | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=dfd)
    finally:
        os.close(dfd)


def read_local(loc: Location, policy: StoragePolicy, max_bytes: int | None) -> bytes:
    fd, fst = open_local(loc, policy)
    with os.fdopen(fd, "rb") as f:
        if max_bytes is not None and fst.st_size > max_bytes:
            raise _too_large(loc, fst.st_size, max_bytes)
        try:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        except OSError as exc:
            reraise(exc, loc)
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(loc, None, max_bytes)
    return data


def iter_local(loc: Location, policy: StoragePolicy, chunk_size: int) -> Iterator[bytes]:
    fd, _ = open_local(loc, policy)  # opened (and refused) now, not at the first next()
    f = os.fdopen(fd, "rb")

    def chunks() -> Iterator[bytes]:
        with f:
            while True:
                try:
                    block = f.read(chunk_size)
                except OSError as exc:
                    reraise(exc, loc)
                if not block:
                    return
                yield block

    return chunks()


def size_local(loc: Location, policy: StoragePolicy) -> int:
    return _checked(loc, policy)[2].st_size


def _too_large(loc: Location, size: int | None, max_bytes: int) -> TooLarge:
    what = f"{size} bytes" if size is not None else "more than that"
    return TooLarge(
        f"the result file {loc.display} is {what}, over the cap of {max_bytes} bytes",
        hint="raise the size limit, or fetch the raw bytes as a stream",
        size=size,
        limit=max_bytes,
    )
