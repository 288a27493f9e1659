"""What reads are allowed (:class:`StoragePolicy`), where one result lives
(:class:`Location`), and the pure path/URL helpers both rely on.

Nothing here touches the file system except :func:`real_roots` (``realpath``).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from resultgate._errors import Refused

__all__ = [
    "DEFAULT_PROTOCOLS",
    "Location",
    "StoragePolicy",
    "canonical_protocol",
    "is_under",
    "split_url",
]

DEFAULT_PROTOCOLS: frozenset[str] = frozenset({"file", "s3", "gs", "gcs", "az", "abfs"})

#: fsspec spells some protocols several ways; we keep one name per backend
_ALIASES = {"gcs": "gs", "abfs": "az", "abfss": "az", "local": "file"}
_PROTOCOL_ROOT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)

ALLOW_HINT = (
    "allow its directory with --allow-root DIR (RESULTGATE_ALLOWED_ROOTS), "
    "or map the writer's path to this machine's with --map FROM=TO"
)


def canonical_protocol(protocol: str) -> str:
    """``"gcs"`` → ``"gs"``, ``"abfs"`` → ``"az"``; others lower-cased as they are."""
    p = protocol.lower()
    return _ALIASES.get(p, p)


def split_url(text: str) -> tuple[str, str] | None:
    """``"s3://b/k"`` → ``("s3", "b/k")``; None when ``text`` is not a URL."""
    m = _URL.match(text)
    if m is None:
        return None
    return m.group(1).lower(), m.group(2)


def is_under(path: str, prefix: str) -> bool:
    """Component-wise prefix test: ``/srv/a/x`` is under ``/srv/a``; ``/srv/ab`` is not.

    Works for absolute paths, relative keys and ``proto://`` URLs alike (``"s3://"``
    covers every ``s3`` URL). An empty prefix covers nothing.
    """
    return strip_prefix(path, prefix) is not None


def strip_prefix(path: str, prefix: str) -> str | None:
    """What is left of ``path`` below ``prefix`` (``""`` for itself), or None if not under it."""
    if not prefix:
        return None
    if _PROTOCOL_ROOT.fullmatch(prefix):
        return path[len(prefix) :] if path.startswith(prefix) else None
    p = prefix.rstrip("/")
    if not p:  # "/"
        return path.lstrip("/") if path.startswith("/") else None
    if path == p:
        return ""
    if path.startswith(p + "/"):
        return path[len(p) + 1 :]
    return None


def has_bad_parts(text: str) -> str | None:
    """Why ``text`` is refused as a key or path (NUL, ``..``), or None when it is fine."""
    if "\x00" in text:
        return "contains a NUL byte"
    if ".." in text.replace("\\", "/").split("/"):
        return "contains a '..' segment"
    return None


def _normalise_prefix(prefix: str) -> str:
    url = split_url(prefix)
    if url is not None:
        return f"{canonical_protocol(url[0])}://{url[1]}"
    return prefix


@dataclass(frozen=True)
class StoragePolicy:
    """What a read may touch. Built once at the edge (``_config``) and passed down.

    * ``allowed_roots``: absolute local directories reads may touch (``--allow-root``).
    * ``allowed_protocols``: fsspec protocols that may be opened at all; ``file`` is
      still confined to roots. ``http``, ``ftp``, ``memory``, chained ``a::b`` URLs …
      are refused unless listed (chains never are).
    * ``path_map``: ``(FROM, TO)`` rewrites of the writer's path (or URL) to this
      machine's, matched component-wise, the longest FROM first. TO targets that
      are local directories become allowed roots.
    * ``storage_options``: operator fsspec options by URL prefix (``"s3://"``,
      ``"s3://bucket"``, ``"s3://bucket/folder"``). They are merged over the options
      derived from the block, most specific prefix last, so they win over block
      secrets. A prefix that names a bucket also *allows* that bucket (see below).
    * ``trust_block_basepaths``: True (the CLI: the user trusts their own Prefect
      server) lets a local block's basepath join the allowed roots, lets remote
      locations named by blocks or keys be read, and uses the block's endpoint
      settings. False (the service, where a block is not trusted input): local reads
      only under operator roots; a remote location must be covered by
      ``allowed_remote`` or by a ``storage_options`` prefix naming its bucket
      (a bare ``"s3://"`` supplies options but allows nothing); block settings that
      steer the connection (endpoint URLs, Azure account URLs and connection strings
      that carry their own endpoint, service-account files, ``remote-file-system``
      ``settings``) are dropped, so a block cannot point the service at another host.
    * ``local_storage_path``: this machine's default result directory; allowed, and
      the base for a relative key with no block.
    * ``allowed_remote``: URL prefixes (``"s3://bucket"``, ``"gs://b/folder"``) that
      may be read even when block basepaths are not trusted (``--allow-remote``).
    """

    allowed_roots: tuple[str, ...] = ()
    allowed_protocols: frozenset[str] = DEFAULT_PROTOCOLS
    path_map: tuple[tuple[str, str], ...] = ()
    storage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    trust_block_basepaths: bool = True
    local_storage_path: str | None = None
    allowed_remote: tuple[str, ...] = ()

    # -- derived views -------------------------------------------------------------
    def protocol_allowed(self, protocol: str) -> bool:
        allowed = {canonical_protocol(p) for p in self.allowed_protocols}
        return canonical_protocol(protocol) in allowed

    def local_roots(self, extra: Iterable[str] = ()) -> tuple[str, ...]:
        """Every local directory reads may touch, as given (not yet resolved)."""
        roots = list(self.allowed_roots)
        if self.local_storage_path:
            roots.append(self.local_storage_path)
        roots += [to for _, to in self.path_map if split_url(to) is None]
        roots += list(extra)
        return tuple(r for r in roots if r and os.path.isabs(r))

    def map_path(self, path: str) -> str:
        """Rewrite ``path`` (a local path or a URL) with the longest matching FROM."""
        for src, dst in sorted(self.path_map, key=lambda p: len(p[0].rstrip("/")), reverse=True):
            rest = strip_prefix(path, _normalise_prefix(src))
            if rest is not None:
                if _PROTOCOL_ROOT.fullmatch(dst):
                    return dst + rest
                base = dst.rstrip("/")
                return f"{base}/{rest}" if rest else (base or "/")
        return path

    def options_for(self, url: str) -> dict[str, Any]:
        """Operator options for ``url``: every matching prefix merged, most specific last."""
        matches = []
        for prefix, opts in self.storage_options.items():
            p = _normalise_prefix(prefix)
            if is_under(url, p):
                matches.append((len(p.rstrip("/")), opts))
        merged: dict[str, Any] = {}
        for _, opts in sorted(matches, key=lambda m: m[0]):
            merged = merge_options(merged, opts)
        return merged

    def remote_allowed(self, url: str) -> bool:
        """May ``url`` (``proto://bucket/key``) be read at all, protocol aside?"""
        if self.trust_block_basepaths:
            return True
        for prefix in self.allowed_remote:
            if is_under(url, _normalise_prefix(prefix)):
                return True
        for prefix in self.storage_options:
            parts = split_url(_normalise_prefix(prefix))
            if parts is not None and parts[1].strip("/") and is_under(url, _normalise_prefix(prefix)):
                return True
        return False


def merge_options(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` wins; nested dicts (``client_kwargs``, ``config_kwargs``) merge one level."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def real_roots(roots: Iterable[str]) -> tuple[str, ...]:
    """The roots with symlinks resolved, so a real path can be compared to them."""
    return tuple(dict.fromkeys(os.path.realpath(r) for r in roots))


def check_local_path(path: str, roots: Iterable[str]) -> tuple[str, str]:
    """Refuse ``path`` unless its real path lies under a real root.

    Returns ``(real_path, real_root)``. Never opens anything.
    """
    why = has_bad_parts(path)
    if why:
        raise Refused(f"refused to read {path!r}: the path {why}", path=path)
    if not os.path.isabs(path):
        raise Refused(f"refused to read {path!r}: not an absolute path", hint=ALLOW_HINT, path=path)
    real = os.path.realpath(posixpath.normpath(path))
    for root in sorted(real_roots(roots), key=len, reverse=True):
        if is_under(real, root) and real != root:
            return real, root
    shown = path if real == path else f"{path} (really {real})"
    raise Refused(f"refused to read {shown}: it is outside the allowed roots", hint=ALLOW_HINT, path=path)


@dataclass(frozen=True)
class Location:
    """Where one result's bytes live.

    ``path`` is an absolute local path (``protocol == "file"``) or ``"bucket/key"``.
    ``options`` are fsspec options and may hold secrets: they are never shown.
    ``block_root`` is a local block's basepath (as mapped); it counts as an allowed
    root only under a policy that trusts block basepaths.
    """

    protocol: str
    path: str
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    display: str = ""
    block_root: str | None = None

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.path}"

    def cache_key(self) -> str:
        """A stable id of the object: protocol, endpoint and path, never secrets."""
        endpoint = endpoint_of(self.options)
        return f"{self.protocol}://{self.path}" + (f"@{endpoint}" if endpoint else "")


def endpoint_of(options: Mapping[str, Any]) -> str:
    """The host an fsspec option set talks to (no secrets), or ``""`` for the default."""
    ck = options.get("client_kwargs")
    for value in (
        options.get("endpoint_url"),
        ck.get("endpoint_url") if isinstance(ck, Mapping) else None,
        options.get("account_host"),
        options.get("account_name"),
    ):
        if isinstance(value, str) and value:
            return value
    conn = options.get("connection_string")
    if isinstance(conn, str):
        fields = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
        return fields.get("BlobEndpoint") or fields.get("AccountName") or ""
    return ""
