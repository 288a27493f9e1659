"""A :class:`Reference` (+ its block document) → a confined :class:`Location`.

Order of work, for every era (formats doc §5.2):

1. refuse a key with a NUL byte, a ``..`` segment or an fsspec chain (``a::b``);
2. resolve the key: a URL is used as is; an absolute path is a local path on the
   writer's machine (3.x null block id, or any local block); a relative key joins
   the block (with the double-prefix guard when the block id was null), or, with no
   block at all, ``policy.local_storage_path``;
3. rewrite with the longest matching ``--map FROM=TO``;
4. confine: local paths by real path under the allowed roots, remote ones by
   protocol and (untrusted policy) by the operator's allowlist.

Nothing is opened here; read functions check the location again before opening.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from resultgate._errors import MalformedRecord, Refused, ResultMissing
from resultgate._model import Reference
from resultgate._storage._blocks import Target, block_slug, block_target, expand_basepath
from resultgate._storage._policy import (
    ALLOW_HINT,
    Location,
    StoragePolicy,
    canonical_protocol,
    check_local_path,
    has_bad_parts,
    merge_options,
    split_url,
    strip_prefix,
)

__all__ = ["check_remote", "locate", "trusted_block_root"]

#: directories a block's basepath may never make readable by itself (an operator may
#: still allow them explicitly with --allow-root)
_SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/usr", "/lib", "/lib64",
                "/run", "/var/run", "/root")  # fmt: skip
_USERINFO = re.compile(r"^([^/@]*?):[^/@]*@")


def locate(ref: Reference, block_document: Mapping[str, Any] | None, policy: StoragePolicy) -> Location:
    """Where the result of ``ref`` lives, confined by ``policy``.

    ``block_document`` is ``GET /block_documents/{ref.storage_block_id}?include_secrets=true``.
    When ``ref.storage_block_id`` is None the caller may pass the *default* result
    storage block instead (``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` or the server's
    default): relative keys are then resolved against it without prefixing the
    folder twice. With neither, relative keys live under ``policy.local_storage_path``.

        >>> ref = Reference("prefect3", "/srv/.prefect/storage/abc", None, None)
        >>> locate(ref, None, StoragePolicy(allowed_roots=("/srv/.prefect",))).display
        'file:///srv/.prefect/storage/abc'

    Raises :class:`Refused` (outside what the policy allows; nothing is opened),
    :class:`ResultMissing` (a relative key with nowhere to resolve it), or
    :class:`MalformedRecord` (an unusable reference or block document).
    """
    key = ref.storage_key
    if not isinstance(key, str) or not key:
        raise MalformedRecord("the result reference has no storage key")
    why = has_bad_parts(key)
    if why:
        raise Refused(f"refused the storage key {key!r}: it {why}", key=key)
    if "::" in key:
        raise Refused(f"refused the storage key {key!r}: chained fsspec URLs are never opened", key=key)

    trusted = policy.trust_block_basepaths
    null_block = ref.storage_block_id is None
    url = split_url(key)
    slug = block_slug(block_document) if block_document is not None else None

    if url is not None and slug not in ("remote-file-system", "s3", "gcs", "azure", "smb"):
        target = _url_key(url, key, block_document, null_block, trusted)
    elif key.startswith("/") and (block_document is None or slug == "local-file-system" or null_block):
        root = None
        if block_document is not None and slug == "local-file-system":
            root = expand_basepath((block_document.get("data") or {}).get("basepath"))
        target = Target("file", key, {}, root)
    elif block_document is not None:
        # 2.x keys are always block-relative; the guard is only for a null block id
        target = block_target(block_document, key, guard=null_block, trusted=trusted)
    elif not null_block:
        raise ResultMissing(
            f"the storage key {key!r} is relative to the storage block {ref.storage_block_id}, "
            "which was not given",
            hint=f"read it with GET /block_documents/{ref.storage_block_id}?include_secrets=true",
        )
    elif policy.local_storage_path:
        target = Target("file", posixpath.join(policy.local_storage_path, key), {})
    else:
        raise ResultMissing(
            f"the storage key {key!r} is relative and there is no storage block to resolve it",
            hint="set the local storage path (PREFECT_RESULTS_LOCAL_STORAGE_PATH) or map it with --map",
        )
    return _finish(target, policy)


def _url_key(
    url: tuple[str, str], key: str, block: Mapping[str, Any] | None, null_block: bool, trusted: bool
) -> Target:
    protocol, path = canonical_protocol(url[0]), url[1]
    if protocol == "file":
        if not path.startswith("/"):
            raise Refused(f"refused the storage key {key!r}: a file URL must hold an absolute path")
        return Target("file", path, {})
    options: dict[str, Any] = {}
    if block is not None:
        # a block of the same store lends its credentials, if the key lies in its bucket
        try:
            base = block_target(block, "x", guard=False, trusted=trusted)
        except (Refused, MalformedRecord):
            base = None
        if base is not None and base.protocol == protocol:
            bucket = base.path.split("/", 1)[0]
            if strip_prefix(path, bucket) is not None:
                options = dict(base.options)
    return Target(protocol, path, options)


def trusted_block_root(root: str | None, policy: StoragePolicy) -> str | None:
    """A local block's basepath as a root, if the policy trusts it and it is not too broad.

    Too broad: ``/`` or a system directory, by its own name or by what it resolves to
    (a basepath that is a symlink to ``/`` makes nothing readable).
    """
    if not root or not policy.trust_block_basepaths:
        return None
    root = posixpath.normpath(root)
    for candidate in (root, os.path.realpath(root)):
        if candidate == "/" or any(candidate == d or candidate.startswith(d + "/") for d in _SYSTEM_DIRS):
            return None
    return root


def _finish(target: Target, policy: StoragePolicy, *, remap: bool = True) -> Location:
    """Map (once) and confine. ``remap=False``: the path is already a map's output."""
    if target.protocol == "file":
        return _finish_local(target.path, target.local_root, policy, remap=remap)
    url = f"{target.protocol}://{target.path}"
    mapped = policy.map_path(url) if remap else url
    if mapped != url:
        parts = split_url(mapped)
        if parts is None:  # mapped onto a local directory
            return _finish_local(mapped, None, policy, remap=False)
        if canonical_protocol(parts[0]) == "file":
            return _finish_local(parts[1], None, policy, remap=False)
        target = Target(canonical_protocol(parts[0]), parts[1], {})
    loc = Location(target.protocol, target.path, {}, display=_display(target.protocol, target.path))
    check_remote(loc, policy)
    options = merge_options(target.options, policy.options_for(loc.url))
    return Location(loc.protocol, loc.path, options, display=loc.display)


def _finish_local(path: str, root: str | None, policy: StoragePolicy, *, remap: bool = True) -> Location:
    why = has_bad_parts(path)
    if why or not path.startswith("/"):
        raise Refused(f"refused to read {path!r}: {why or 'not an absolute path'}", hint=ALLOW_HINT)
    path = posixpath.normpath(path)
    mapped = policy.map_path(path) if remap else path
    parts = split_url(mapped)
    if parts is not None:  # mapped onto an object store
        if canonical_protocol(parts[0]) == "file":
            raise Refused(f"refused to read {mapped!r}: map local paths onto paths, not file:// URLs")
        return _finish(Target(canonical_protocol(parts[0]), parts[1]), policy, remap=False)
    if mapped != path:
        mapped = posixpath.normpath(mapped)
    block_root = trusted_block_root(policy.map_path(root) if root else None, policy)
    check_local_path(mapped, policy.local_roots([block_root] if block_root else []))
    return Location("file", mapped, {}, display=f"file://{mapped}", block_root=block_root)


def check_remote(loc: Location, policy: StoragePolicy) -> None:
    """Refuse a remote location whose protocol or bucket the policy does not allow."""
    if canonical_protocol(loc.protocol) == "file":  # never through fsspec: confinement only
        raise Refused(
            f"refused to read {loc.display or loc.path}: local files are read only after confinement"
        )
    why = has_bad_parts(loc.path)
    if why or "::" in loc.path:
        raise Refused(f"refused to read {loc.display}: the path {why or 'is a chained URL'}")
    if not policy.protocol_allowed(loc.protocol):
        raise Refused(
            f"refused to read {loc.display}: the {loc.protocol}:// protocol is not allowed",
            hint="allowed protocols: "
            + ", ".join(sorted(policy.allowed_protocols))
            + " (an operator can allow more with --allow-protocol)",
            protocol=loc.protocol,
        )
    if not policy.remote_allowed(loc.url):
        bucket = loc.path.split("/", 1)[0]
        raise Refused(
            f"refused to read {loc.display}: {loc.protocol}://{bucket} is not an allowed remote location",
            hint=f"allow it with --allow-remote {loc.protocol}://{bucket} "
            f"or give storage options for {loc.protocol}://{bucket}",
        )


def _display(protocol: str, path: str) -> str:
    return protocol + "://" + _USERINFO.sub(r"\1:***@", path)
