"""Remote reads: a thin wrapper around ``fsspec.core.url_to_fs`` (imported lazily).

The location is checked against the policy again (protocol, allowlist) before a
file system is built; every exception from fsspec and its backends goes through
the storage seam (:mod:`._seam`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from resultgate._errors import MissingExtra, ResultgateError, TooLarge
from resultgate._storage._locate import check_remote
from resultgate._storage._policy import Location, StoragePolicy
from resultgate._storage._seam import reraise

__all__ = ["iter_remote", "read_remote", "size_remote"]

#: protocol -> (extra, backend module)
_EXTRAS = {"s3": ("s3", "s3fs"), "gs": ("gcs", "gcsfs"), "az": ("azure", "adlfs")}


def _fs(loc: Location, policy: StoragePolicy) -> tuple[Any, str]:
    check_remote(loc, policy)
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:  # pragma: no cover - fsspec is a core dependency
        raise MissingExtra("reading remote storage needs fsspec", hint="pip install fsspec") from exc
    try:
        if loc.protocol == "gs" and loc.options.get("endpoint_url"):
            fs, path = _plain_gcsfs(loc)
        else:
            fs, path = url_to_fs(loc.url, **loc.options)
    except ImportError as exc:
        extra, module = _EXTRAS.get(loc.protocol, (None, None))
        if extra is None:
            raise MissingExtra(
                f"reading {loc.protocol}:// needs an fsspec backend that is not installed",
                hint="install the fsspec implementation for that protocol",
            ) from exc
        raise MissingExtra(
            f"reading {loc.protocol}:// needs the {extra} extra ({module})",
            hint=f"pip install 'resultgate[{extra}]'",
        ) from exc
    except Exception as exc:
        reraise(exc, loc)
    return fs, path


def _plain_gcsfs(loc: Location) -> tuple[Any, str]:
    """gcsfs's plain JSON-API file system, for a custom GCS endpoint (an emulator, a proxy).

    gcsfs registers an "extended" class for ``gs://`` that first asks the endpoint,
    over gRPC, what kind of bucket it is; an endpoint that speaks only the JSON API
    (every emulator) makes that retry for tens of seconds on every new bucket.
    """
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(**loc.options)
    return fs, fs._strip_protocol(loc.url)


def read_remote(loc: Location, policy: StoragePolicy, max_bytes: int | None) -> bytes:
    fs, path = _fs(loc, policy)
    try:
        if max_bytes is not None:
            n = fs.size(path)
            if n is not None and n > max_bytes:
                raise TooLarge(
                    f"the result object {loc.display} is {n} bytes, over the cap of {max_bytes} bytes",
                    hint="raise the size limit, or fetch the raw bytes as a stream",
                    size=n,
                    limit=max_bytes,
                )
        with fs.open(path, "rb") as f:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
    except ResultgateError:
        raise
    except Exception as exc:
        reraise(exc, loc)
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"the result object {loc.display} is over the cap of {max_bytes} bytes")
    return bytes(data)


def iter_remote(loc: Location, policy: StoragePolicy, chunk_size: int) -> Iterator[bytes]:
    fs, path = _fs(loc, policy)
    try:
        f = fs.open(path, "rb")  # opened (and missing objects reported) now
    except Exception as exc:
        reraise(exc, loc)

    def chunks() -> Iterator[bytes]:
        try:
            with f:
                while True:
                    block = f.read(chunk_size)
                    if not block:
                        return
                    yield bytes(block)
        except (ResultgateError, GeneratorExit):
            raise
        except Exception as exc:
            reraise(exc, loc)

    return chunks()


def size_remote(loc: Location, policy: StoragePolicy) -> int | None:
    fs, path = _fs(loc, policy)
    try:
        n = fs.size(path)
    except Exception as exc:
        reraise(exc, loc)
    return int(n) if n is not None else None
