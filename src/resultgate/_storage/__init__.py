"""Storage: a result reference (+ its block document) → confined bytes.

    >>> policy = StoragePolicy(allowed_roots=("/srv/results",))
    >>> loc = locate(reference, block_document, policy)     # nothing opened yet
    >>> data = read_bytes(loc, policy, max_bytes=64 << 20)

Local files are read with plain ``os`` calls after confinement (no fsspec import on
that path); other protocols go through ``fsspec.core.url_to_fs`` with the block's
credentials and the operator's storage options. Errors are resultgate errors only:
``Refused`` (outside the policy; the file is never opened), ``ResultMissing``,
``TooLarge``, ``StorageError``, ``UpstreamTimeout``, ``MissingExtra``.

What may be read (the full rules are on :class:`StoragePolicy`):

* local files: only below an allowed root (``--allow-root``, this machine's local
  storage path, the TO side of every ``--map``, and, when block basepaths are
  trusted, a local block's basepath unless it is ``/`` or a system directory),
  judged by real path; never ``..``, NUL, symlinks out, FIFOs or devices;
* remote objects: only allowed protocols (``file s3 gs gcs az abfs`` by default; never
  chained ``a::b`` URLs); with untrusted blocks (the service) only buckets the
  operator named (``--allow-remote s3://bucket`` or storage options for
  ``s3://bucket``), and connection targets (endpoints, account URLs) come from the
  operator, never from a block.

Modules: ``_policy`` (StoragePolicy, Location, path rules), ``_blocks`` (block
types), ``_locate`` (reference → location), ``_local`` / ``_remote`` (reads),
``_seam`` (exception translation).
"""

from __future__ import annotations

from collections.abc import Iterator

from resultgate._storage._locate import locate
from resultgate._storage._policy import DEFAULT_PROTOCOLS, Location, StoragePolicy, canonical_protocol

__all__ = [
    "DEFAULT_PROTOCOLS",
    "Location",
    "StoragePolicy",
    "iter_bytes",
    "locate",
    "read_bytes",
    "size",
]


def _is_local(loc: Location) -> bool:
    # every spelling of the local file system ("file", "local", "FILE") is confined
    return canonical_protocol(loc.protocol) == "file"


def read_bytes(loc: Location, policy: StoragePolicy, *, max_bytes: int | None = None) -> bytes:
    """The whole object at ``loc``; :class:`TooLarge` past ``max_bytes`` (checked first)."""
    if _is_local(loc):
        from resultgate._storage._local import read_local

        return read_local(loc, policy, max_bytes)
    from resultgate._storage._remote import read_remote

    return read_remote(loc, policy, max_bytes)


def iter_bytes(loc: Location, policy: StoragePolicy, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The object at ``loc`` in chunks. It is confined and opened before this returns."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if _is_local(loc):
        from resultgate._storage._local import iter_local

        return iter_local(loc, policy, chunk_size)
    from resultgate._storage._remote import iter_remote

    return iter_remote(loc, policy, chunk_size)


def size(loc: Location, policy: StoragePolicy) -> int | None:
    """The object's size in bytes (None when the store cannot tell), confined like a read."""
    if _is_local(loc):
        from resultgate._storage._local import size_local

        return size_local(loc, policy)
    from resultgate._storage._remote import size_remote

    return size_remote(loc, policy)
