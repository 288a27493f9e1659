"""A Prefect storage block document + a storage key → a :class:`Target` (protocol,
path, fsspec options). One small function per block type (formats doc §5.1).

Pure: no I/O, no fsspec. Confinement happens later, on the whole location.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from resultgate._errors import MalformedRecord, Refused
from resultgate._storage._policy import canonical_protocol, split_url, strip_prefix

__all__ = ["Target", "block_slug", "block_target", "expand_basepath"]

_Data = Mapping[str, Any]

#: what Prefect shows instead of a secret read with include_secrets=false
_MASK = "********"


@dataclass(frozen=True)
class Target:
    """A location before path mapping and confinement."""

    protocol: str  # canonical: "file", "s3", "gs", "az", ...
    path: str  # absolute local path, or "bucket/key"
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    #: a local block's basepath (a root the policy may trust)
    local_root: str | None = None


def block_slug(doc: Mapping[str, Any]) -> str:
    """The block type slug of a block document, however the API spelled it."""
    bt = doc.get("block_type")
    if isinstance(bt, Mapping) and isinstance(bt.get("slug"), str):
        return str(bt["slug"])
    schema = doc.get("block_schema")
    fields = schema.get("fields") if isinstance(schema, Mapping) else None
    if isinstance(fields, Mapping) and isinstance(fields.get("block_type_slug"), str):
        return str(fields["block_type_slug"])
    raise MalformedRecord("the storage block document has no block type slug")


def block_target(doc: Mapping[str, Any], key: str, *, guard: bool, trusted: bool) -> Target:
    """Where ``key`` lives in the block ``doc``.

    ``guard``: the key may already carry the block's folder (a 3.x reference with a
    null block id read through a default storage block): do not prefix it twice.
    ``trusted``: keep block settings that steer the connection (endpoints, files).

    An unknown block type is :class:`Refused` rather than a ``StorageError``: nothing
    failed upstream, we decline to read from a storage whose paths and confinement we
    do not know; retrying will not help and the operator can map the location instead.
    """
    slug = block_slug(doc)
    data = doc.get("data")
    if not isinstance(data, Mapping):
        raise MalformedRecord(f"the {slug} storage block document has no data")
    builder = _BUILDERS.get(slug)
    if builder is None:
        raise Refused(
            f"storage block type {slug!r} is not supported",
            hint="supported: " + ", ".join(sorted(_BUILDERS)) + "; or copy the results and use --map",
            block_type=slug,
        )
    refs = doc.get("block_document_references")
    return builder(data, refs if isinstance(refs, Mapping) else {}, key, guard, trusted)


# -- helpers ---------------------------------------------------------------------------
def _s(value: Any) -> str | None:
    """A usable string field (not empty, not a mask)."""
    return value if isinstance(value, str) and value and value != _MASK else None


def _child(data: Mapping[str, Any], refs: Mapping[str, Any], name: str) -> tuple[Mapping[str, Any], str]:
    """A nested block's data (inlined by the API) and its slug, if known."""
    child = data.get(name)
    if not isinstance(child, Mapping):
        return {}, ""
    slug = child.get("block_type_slug")
    if not isinstance(slug, str):
        ref = refs.get(name)
        bd = ref.get("block_document") if isinstance(ref, Mapping) else None
        bt = bd.get("block_type") if isinstance(bd, Mapping) else None
        slug = bt.get("slug") if isinstance(bt, Mapping) else ""
    return child, str(slug or "")


def expand_basepath(basepath: Any) -> str | None:
    """A local basepath as an absolute path here, or None (null, relative, ``~user``)."""
    if not isinstance(basepath, str) or not basepath:
        return None
    bp = basepath[len("file://") :] if basepath.startswith("file://") else basepath
    if bp == "~" or bp.startswith("~/"):
        bp = posixpath.expanduser(bp)
    return posixpath.normpath(bp) if bp.startswith("/") else None


def _join(folder: str, key: str) -> str:
    folder, key = folder.strip("/"), key.lstrip("/")
    return f"{folder}/{key}" if folder else key


def _object_key(folder: str, key: str, guard: bool) -> str:
    """``folder/key``; with ``guard`` a key already below ``folder`` is kept as is."""
    folder_n, key_n = folder.strip("/"), key.lstrip("/")
    if guard and folder_n and strip_prefix(key_n, folder_n) is not None:
        return key_n
    return _join(folder_n, key_n)


def _object_target(protocol: str, bucket: Any, key: str, options: dict[str, Any]) -> Target:
    b = _s(bucket)
    if b is None or "/" in b.strip("/"):
        raise MalformedRecord(f"the {protocol} storage block names no usable bucket")
    return Target(protocol, f"{b.strip('/')}/{key}", options)


def _url_target(base: str, key: str, options: dict[str, Any], what: str) -> Target:
    """RemoteFileSystem's join: a URL key must lie under ``base``; else ``base/key``."""
    parts = split_url(base)
    if parts is None or not urlsplit(base).netloc:
        raise Refused(f"the {what} basepath {base!r} is not a URL with a host or bucket")
    protocol = canonical_protocol(parts[0])
    if protocol == "file":
        raise Refused(f"the {what} basepath {base!r} is a file:// URL (Prefect refuses it too)")
    base_path = parts[1].rstrip("/")
    key_url = split_url(key)
    if key_url is not None:
        if canonical_protocol(key_url[0]) != protocol or strip_prefix(key_url[1], base_path) is None:
            raise Refused(f"the key {key!r} is outside the {what} basepath {base!r}")
        return Target(protocol, key_url[1], options)
    return Target(protocol, f"{base_path}/{key.lstrip('/')}", options)


# -- one builder per block type ---------------------------------------------------------
def _local(data: _Data, refs: _Data, key: str, guard: bool, trusted: bool) -> Target:
    root = expand_basepath(data.get("basepath"))
    if key.startswith("/"):
        return Target("file", key, {}, root)
    if root is None:
        raise Refused(
            f"the local-file-system block has no absolute basepath ({data.get('basepath')!r}), "
            f"so the relative key {key!r} cannot be located",
            hint="map the writer's directory with --map FROM=TO",
        )
    return Target("file", f"{root}/{key}", {}, root)


def _remote(data: _Data, refs: _Data, key: str, guard: bool, trusted: bool) -> Target:
    base = _s(data.get("basepath")) or ""
    settings = data.get("settings")
    options = dict(settings) if trusted and isinstance(settings, Mapping) else {}
    return _url_target(base, key, options, "remote-file-system")


def _s3_options(creds: Mapping[str, Any], slug: str, trusted: bool) -> dict[str, Any]:
    minio = slug == "minio-credentials" or "minio_root_user" in creds
    opts: dict[str, Any] = {}
    key = _s(creds.get("minio_root_user" if minio else "aws_access_key_id"))
    secret = _s(creds.get("minio_root_password" if minio else "aws_secret_access_key"))
    if key and secret:
        opts["key"], opts["secret"] = key, secret
        if _s(creds.get("aws_session_token")):
            opts["token"] = creds["aws_session_token"]
    if trusted and _s(creds.get("profile_name")):
        opts["profile"] = creds["profile_name"]
    client: dict[str, Any] = {}
    if _s(creds.get("region_name")):
        client["region_name"] = creds["region_name"]
    params = creds.get("aws_client_parameters")
    if isinstance(params, Mapping):
        if trusted and _s(params.get("endpoint_url")):
            client["endpoint_url"] = params["endpoint_url"]
        if params.get("use_ssl") is False:
            opts["use_ssl"] = False
        if params.get("verify") is False:
            client["verify"] = False
        elif trusted and _s(params.get("verify_cert_path")):
            client["verify"] = params["verify_cert_path"]
    if client:
        opts["client_kwargs"] = client
    return opts


def _s3_bucket(
    data: Mapping[str, Any], refs: Mapping[str, Any], key: str, guard: bool, trusted: bool
) -> Target:
    creds, slug = _child(data, refs, "credentials")
    folder = _s(data.get("bucket_folder")) or ""
    return _object_target(
        "s3", data.get("bucket_name"), _object_key(folder, key, guard), _s3_options(creds, slug, trusted)
    )


def _gcs_options(creds: Mapping[str, Any], trusted: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    info = creds.get("service_account_info")
    if isinstance(info, str) and _s(info):
        try:
            info = json.loads(info)
        except ValueError:
            info = None
    if isinstance(info, Mapping) and info and _MASK not in info.values():
        opts["token"] = dict(info)
    elif trusted and _s(creds.get("service_account_file")):
        opts["token"] = creds["service_account_file"]
    if _s(creds.get("project")):
        opts["project"] = creds["project"]
    return opts


def _gcs_bucket(
    data: Mapping[str, Any], refs: Mapping[str, Any], key: str, guard: bool, trusted: bool
) -> Target:
    creds, _ = _child(data, refs, "gcp_credentials")
    folder = _s(data.get("bucket_folder")) or ""
    if folder and not folder.endswith("/"):
        folder += "/"  # GcsBucket's validator does the same
    key_n = key.lstrip("/")
    blob = key_n if (guard and folder and key_n.startswith(folder)) else folder.lstrip("/") + key_n
    return _object_target("gs", data.get("bucket"), blob, _gcs_options(creds, trusted))


def _azure_options(creds: Mapping[str, Any], trusted: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    conn = _s(creds.get("connection_string"))
    if conn and (trusted or "endpoint=" not in conn.lower()):
        opts["connection_string"] = conn
    url = _s(creds.get("account_url"))
    if url and not conn:
        host = urlsplit(url).hostname or ""
        if trusted or host.endswith(".blob.core.windows.net"):
            opts["account_name"] = host.split(".", 1)[0]
            if trusted:
                opts["account_host"] = host
        for name in ("client_id", "tenant_id", "client_secret"):
            if _s(creds.get(name)):
                opts[name] = creds[name]
        opts.setdefault("anon", False)  # no secret: adlfs falls back to DefaultAzureCredential
    return opts


def _azure_container(
    data: Mapping[str, Any], refs: Mapping[str, Any], key: str, guard: bool, trusted: bool
) -> Target:
    creds, _ = _child(data, refs, "credentials")
    folder = _s(data.get("base_folder")) or ""
    return _object_target(
        "az", data.get("container_name"), _join(folder, key), _azure_options(creds, trusted)
    )


# deprecated 2.x core blocks: a bucket path plus a few credentials, joined like remote-file-system
def _old_s3(data: _Data, refs: _Data, key: str, guard: bool, trusted: bool) -> Target:
    opts: dict[str, Any] = {}
    if _s(data.get("aws_access_key_id")) and _s(data.get("aws_secret_access_key")):
        opts = {"key": data["aws_access_key_id"], "secret": data["aws_secret_access_key"]}
    return _url_target(f"s3://{_s(data.get('bucket_path')) or ''}", key, opts, "s3")


def _old_gcs(
    data: Mapping[str, Any], refs: Mapping[str, Any], key: str, guard: bool, trusted: bool
) -> Target:
    opts = _gcs_options(data, trusted)
    return _url_target(f"gs://{_s(data.get('bucket_path')) or ''}", key, opts, "gcs")


def _old_azure(
    data: Mapping[str, Any], refs: Mapping[str, Any], key: str, guard: bool, trusted: bool
) -> Target:
    opts: dict[str, Any] = {}
    conn = _s(data.get("azure_storage_connection_string"))
    if conn and (trusted or "endpoint=" not in conn.lower()):
        opts["connection_string"] = conn
    for src, dst in (("account_name", "account_name"), ("account_key", "account_key"),
                     ("tenant_id", "tenant_id"), ("client_id", "client_id"),
                     ("client_secret", "client_secret")):  # fmt: skip
        if _s(data.get(f"azure_storage_{src}")):
            opts[dst] = data[f"azure_storage_{src}"]
    if data.get("azure_storage_anon") is True:
        opts["anon"] = True
    path = _s(data.get("bucket_path")) or ""
    container = _s(data.get("azure_storage_container"))
    if container:
        path = f"{container}/{path.lstrip('/')}"
    return _url_target(f"az://{path}", key, opts, "azure")


def _smb(data: _Data, refs: _Data, key: str, guard: bool, trusted: bool) -> Target:
    host = _s(data.get("smb_host")) or ""
    opts: dict[str, Any] = {}
    if _s(data.get("smb_username")):
        opts["username"] = data["smb_username"]
    if _s(data.get("smb_password")):
        opts["password"] = data["smb_password"]
    if trusted and isinstance(data.get("smb_port"), int):
        opts["port"] = data["smb_port"]
    share = (_s(data.get("share_path")) or "").strip("/")
    return _url_target(f"smb://{host}/{share}", key, opts, "smb")


_Builder = Callable[[Mapping[str, Any], Mapping[str, Any], str, bool, bool], Target]
_BUILDERS: dict[str, _Builder] = {
    "local-file-system": _local,
    "remote-file-system": _remote,
    "s3-bucket": _s3_bucket,
    "gcs-bucket": _gcs_bucket,
    "azure-blob-storage-container": _azure_container,
    "s3": _old_s3,
    "gcs": _old_gcs,
    "azure": _old_azure,
    "smb": _smb,
}
