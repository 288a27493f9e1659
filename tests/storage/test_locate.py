"""locate(): every captured reference and block, the block types, mapping, options."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest
from storage_helpers import (
    SECRET,
    aws_s3_block,
    azure_block,
    block_for,
    gcs_block,
    make_block,
    minio_s3_block,
    owner_state,
    ref_from_state,
)

from resultgate._errors import MalformedRecord, Refused, ResultMissing
from resultgate._model import Reference
from resultgate._storage import Location, StoragePolicy, locate
from support.cases import Case, result_files

ALICE = StoragePolicy(allowed_roots=("/home/alice",))
RESULTS = result_files()


def _id(p: Any) -> str:
    return f"{p[0].name}-{p[1]['owner']}" if isinstance(p, tuple) else str(p)


@pytest.mark.parametrize(("case", "entry"), RESULTS, ids=[_id(p) for p in RESULTS])
def test_every_captured_reference_locates_to_where_prefect_wrote_it(
    case: Case, entry: dict[str, Any]
) -> None:
    state = owner_state(case, entry["owner"])
    ref = ref_from_state(state)
    assert ref.storage_key == entry["storage_key"]
    loc = locate(ref, block_for(case, ref.storage_block_id), ALICE)
    assert loc.protocol == "file"
    assert loc.path == entry["original_location"]
    assert loc.display == "file://" + entry["original_location"]
    assert loc.options == {}


def test_the_captured_cases_cover_every_era_and_storage_kind() -> None:
    kinds = {
        (c.meta["prefect_version"][0], e.get("block_is_anonymous"), e["storage_block_id"] is None)
        for c, e in RESULTS
    }
    assert ("2", True, False) in kinds  # 2.x anonymous default block
    assert ("2", False, False) in kinds  # 2.x saved local block
    assert ("3", False, False) in kinds  # 3.x saved local block
    assert ("3", None, True) in kinds  # 3.x null block id, absolute key


def test_a_2x_anonymous_block_joins_its_basepath() -> None:
    case = next(c for c, e in RESULTS if c.name == "p2_pickle_str_default")
    ref = ref_from_state(case.state)
    loc = locate(ref, block_for(case, ref.storage_block_id), ALICE)
    assert loc.path == f"/home/alice/.prefect2/storage/{ref.storage_key}"
    assert loc.block_root == "/home/alice/.prefect2/storage"


def test_a_saved_local_block_basepath_is_a_root_when_trusted(tmp_path: Any) -> None:
    block = make_block("local-file-system", {"basepath": str(tmp_path)})
    loc = locate(Reference("prefect3", "abc", "id", None), block, StoragePolicy())
    assert loc.path == f"{tmp_path}/abc"
    with pytest.raises(Refused, match="outside the allowed roots"):
        locate(Reference("prefect3", "abc", "id", None), block, StoragePolicy(trust_block_basepaths=False))


def test_a_tilde_basepath_expands_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    block = make_block("local-file-system", {"basepath": "~/.prefect/storage"})
    loc = locate(Reference("prefect2", "k", "id", None), block, StoragePolicy())
    assert loc.path == f"{tmp_path}/.prefect/storage/k"


def test_a_null_basepath_with_a_relative_key_cannot_be_located() -> None:
    block = make_block("local-file-system", {"basepath": None})
    with pytest.raises(Refused, match="no absolute basepath"):
        locate(Reference("prefect2", "k", "id", None), block, ALICE)


def test_a_relative_key_without_any_block_lives_in_the_local_storage_path(tmp_path: Any) -> None:
    policy = StoragePolicy(local_storage_path=str(tmp_path))
    assert locate(Reference("prefect3", "k", None, None), None, policy).path == f"{tmp_path}/k"
    with pytest.raises(ResultMissing, match="relative"):
        locate(Reference("prefect3", "k", None, None), None, StoragePolicy())


def test_a_block_id_without_its_block_document_cannot_be_located() -> None:
    with pytest.raises(ResultMissing, match="storage block bid, which was not given"):
        locate(Reference("prefect2", "k", "bid", None), None, StoragePolicy(local_storage_path="/tmp"))
    # an absolute key needs no block
    assert locate(Reference("prefect3", "/home/alice/k", "bid", None), None, ALICE).path == "/home/alice/k"


def test_an_empty_key_is_malformed() -> None:
    with pytest.raises(MalformedRecord):
        locate(Reference("prefect3", "", None, None), None, ALICE)


# -- object stores -----------------------------------------------------------------------
def test_s3_minio_credentials_by_reference() -> None:
    block = minio_s3_block("results", "prefect/out", "http://127.0.0.1:9000", "minio", SECRET)
    loc = locate(Reference("prefect3", "abc", "bid", None), block, StoragePolicy())
    assert (loc.protocol, loc.path, loc.display) == (
        "s3",
        "results/prefect/out/abc",
        "s3://results/prefect/out/abc",
    )
    assert loc.options == {
        "key": "minio",
        "secret": SECRET,
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"},
    }
    assert loc.cache_key() == "s3://results/prefect/out/abc@http://127.0.0.1:9000"
    assert SECRET not in repr(loc)
    assert SECRET not in loc.cache_key()
    assert SECRET not in loc.display


def test_s3_aws_credentials_inline() -> None:
    block = aws_s3_block("b1", "", None, "AKIA1", SECRET)
    loc = locate(Reference("prefect3", "abc", "bid", None), block, StoragePolicy())
    assert loc.path == "b1/abc"
    assert loc.options == {"key": "AKIA1", "secret": SECRET, "client_kwargs": {"region_name": "us-east-1"}}


def test_masked_secrets_are_not_used_as_credentials() -> None:
    block = minio_s3_block("results", "", "http://127.0.0.1:9000", "minio", "********")
    loc = locate(Reference("prefect3", "abc", "bid", None), block, StoragePolicy())
    assert "secret" not in loc.options
    assert "key" not in loc.options


@pytest.mark.parametrize(
    ("era", "block_id", "key", "path"),
    [
        ("prefect3", "bid", "abc", "results/prefect/out/abc"),  # a saved block: bare key
        ("prefect3", None, "prefect/out/abc", "results/prefect/out/abc"),  # null id: already prefixed
        ("prefect3", None, "abc", "results/prefect/out/abc"),  # null id, bare key
        ("prefect2", "bid", "abc", "results/prefect/out/abc"),  # 2.x: always block-relative
        ("prefect3", None, "prefect/outside/abc", "results/prefect/out/prefect/outside/abc"),  # not a prefix
    ],
)
def test_s3_double_prefix_guard(era: Any, block_id: str | None, key: str, path: str) -> None:
    block = aws_s3_block("results", "prefect/out", None, "k", SECRET)
    assert locate(Reference(era, key, block_id, None), block, StoragePolicy()).path == path


@pytest.mark.parametrize(
    ("folder", "block_id", "key", "path"),
    [
        ("out", "bid", "abc", "bkt/out/abc"),  # the validator appends "/"
        ("out/", "bid", "abc", "bkt/out/abc"),
        ("", "bid", "abc", "bkt/abc"),
        ("out/", None, "out/abc", "bkt/out/abc"),  # null id: guard
    ],
)
def test_gcs_paths(folder: str, block_id: str | None, key: str, path: str) -> None:
    loc = locate(Reference("prefect3", key, block_id, None), gcs_block("bkt", folder), StoragePolicy())
    assert (loc.protocol, loc.path) == ("gs", path)
    assert loc.options == {"project": "test-project"}


def test_gcs_service_account_info_becomes_the_token() -> None:
    info = {"type": "service_account", "private_key": SECRET, "client_email": "x@y"}
    loc = locate(Reference("prefect3", "k", "bid", None), gcs_block("bkt", "", info), StoragePolicy())
    assert loc.options["token"] == info


@pytest.mark.parametrize(("base", "key", "path"), [("runs", "abc", "ctr/runs/abc"), (None, "abc", "ctr/abc")])
def test_azure_paths(base: str | None, key: str, path: str) -> None:
    block = azure_block("ctr", base, f"AccountName=a;AccountKey={SECRET}")
    loc = locate(Reference("prefect3", key, None, None), block, StoragePolicy())
    assert (loc.protocol, loc.path) == ("az", path)
    assert loc.options == {"connection_string": f"AccountName=a;AccountKey={SECRET}"}


def test_azure_never_guards_its_base_folder() -> None:
    block = azure_block("ctr", "runs", "AccountName=a;AccountKey=x")
    assert (
        locate(Reference("prefect3", "runs/abc", None, None), block, StoragePolicy()).path
        == "ctr/runs/runs/abc"
    )


def test_remote_file_system_joins_and_accepts_url_keys_under_its_basepath() -> None:
    block = make_block("remote-file-system", {"basepath": "s3://bkt/folder/", "settings": {"anon": True}})
    loc = locate(Reference("prefect3", "abc", "bid", None), block, StoragePolicy())
    assert (loc.protocol, loc.path, loc.options) == ("s3", "bkt/folder/abc", {"anon": True})
    loc = locate(Reference("prefect3", "s3://bkt/folder/x/abc", "bid", None), block, StoragePolicy())
    assert loc.path == "bkt/folder/x/abc"
    for outside in ("s3://bkt/folderx/abc", "s3://other/folder/abc", "gs://bkt/folder/abc"):
        with pytest.raises(Refused, match="outside"):
            locate(Reference("prefect3", outside, "bid", None), block, StoragePolicy())


def test_a_null_block_url_key_is_read_as_is_with_the_default_blocks_credentials() -> None:
    block = aws_s3_block("results", "out", None, "AKIA1", SECRET)
    loc = locate(Reference("prefect3", "s3://results/out/abc", None, None), block, StoragePolicy())
    assert loc.path == "results/out/abc"
    assert loc.options["secret"] == SECRET
    loc = locate(Reference("prefect3", "s3://elsewhere/abc", None, None), block, StoragePolicy())
    assert loc.options == {}  # another bucket does not get this block's credentials


@pytest.mark.parametrize(
    ("slug", "data", "display"),
    [
        ("s3", {"bucket_path": "bkt/p", "aws_access_key_id": "A", "aws_secret_access_key": SECRET}, "s3://bkt/p/k"),
        ("gcs", {"bucket_path": "bkt/p", "service_account_info": None, "project": "x"}, "gs://bkt/p/k"),
        ("azure", {"bucket_path": "ctr/p", "azure_storage_connection_string": "AccountName=a;AccountKey=b"},
         "az://ctr/p/k"),
    ],
)  # fmt: skip
def test_deprecated_2x_blocks(slug: str, data: dict[str, Any], display: str) -> None:
    loc = locate(Reference("prefect2", "k", "bid", None), make_block(slug, data), StoragePolicy())
    assert loc.display == display


def test_an_unknown_block_type_is_refused_with_its_name() -> None:
    with pytest.raises(Refused, match="storage block type 'github' is not supported") as info:
        locate(Reference("prefect2", "k", "bid", None), make_block("github", {"repository": "x"}), ALICE)
    assert info.value.details["block_type"] == "github"


def test_a_block_document_without_a_slug_is_malformed() -> None:
    with pytest.raises(MalformedRecord):
        locate(Reference("prefect2", "k", "bid", None), {"data": {}}, ALICE)


# -- path mapping ------------------------------------------------------------------------
def test_path_map_is_component_wise_and_longest_first(tmp_path: Any) -> None:
    a, ab, deep = tmp_path / "a", tmp_path / "ab", tmp_path / "deep"
    policy = StoragePolicy(path_map=(("/srv/a", str(a)), ("/srv/ab", str(ab)), ("/srv/a/x", str(deep))))
    assert locate(Reference("prefect3", "/srv/a/k", None, None), None, policy).path == f"{a}/k"
    assert locate(Reference("prefect3", "/srv/ab/k", None, None), None, policy).path == f"{ab}/k"
    assert locate(Reference("prefect3", "/srv/a/x/k", None, None), None, policy).path == f"{deep}/k"
    with pytest.raises(Refused):  # "/srv/abc" is not under "/srv/a" (nor under "/srv/ab")
        locate(Reference("prefect3", "/srv/abc/k", None, None), None, policy)


def test_path_map_rewrites_a_block_basepath_and_its_root(tmp_path: Any) -> None:
    block = make_block("local-file-system", {"basepath": "/home/alice/results/local-p3"})
    policy = StoragePolicy(path_map=(("/home/alice/results", str(tmp_path)),))
    loc = locate(Reference("prefect3", "abc", "bid", None), block, policy)
    assert loc.path == f"{tmp_path}/local-p3/abc"
    assert loc.block_root == f"{tmp_path}/local-p3"


def test_path_map_can_move_a_local_path_onto_an_object_store() -> None:
    policy = StoragePolicy(path_map=(("/home/alice/.prefect/storage", "s3://mirror/storage"),))
    loc = locate(Reference("prefect3", "/home/alice/.prefect/storage/abc", None, None), None, policy)
    assert (loc.protocol, loc.path) == ("s3", "mirror/storage/abc")


def test_path_map_can_move_an_object_onto_a_local_directory(tmp_path: Any) -> None:
    policy = StoragePolicy(path_map=(("s3://results", str(tmp_path)),))
    block = aws_s3_block("results", "out", None, "k", SECRET)
    loc = locate(Reference("prefect3", "abc", "bid", None), block, policy)
    assert (loc.protocol, loc.path, loc.options) == ("file", f"{tmp_path}/out/abc", {})


# -- storage options ---------------------------------------------------------------------
def test_operator_storage_options_win_most_specific_last() -> None:
    block = minio_s3_block("results", "out", "http://block:9000", "blockuser", SECRET)
    policy = StoragePolicy(
        storage_options={
            "s3://": {"key": "any", "client_kwargs": {"region_name": "eu-west-1"}},
            "s3://results": {"key": "bucket-user", "secret": "bucket-secret"},
            "s3://results/out": {"client_kwargs": {"endpoint_url": "http://operator:9000"}},
            "s3://other": {"key": "nope"},
            "gs://": {"token": "anon"},
        }
    )
    loc = locate(Reference("prefect3", "abc", "bid", None), block, policy)
    assert loc.options == {
        "key": "bucket-user",
        "secret": "bucket-secret",
        "client_kwargs": {"endpoint_url": "http://operator:9000", "region_name": "eu-west-1"},
    }


def test_gcs_alias_in_storage_options() -> None:
    policy = StoragePolicy(storage_options={"gcs://bkt": {"token": "anon"}})
    assert (
        locate(Reference("prefect3", "k", "bid", None), gcs_block("bkt", ""), policy).options["token"]
        == "anon"
    )


# -- untrusted blocks (the service) ------------------------------------------------------
UNTRUSTED = StoragePolicy(trust_block_basepaths=False)


def test_untrusted_remote_needs_an_allowlist_entry_or_bucket_options() -> None:
    block = minio_s3_block("results", "out", "http://169.254.169.254", "u", SECRET)
    ref = Reference("prefect3", "abc", "bid", None)
    with pytest.raises(Refused, match=r"s3://results is not an allowed remote location") as info:
        locate(ref, block, UNTRUSTED)
    assert "--allow-remote s3://results" in str(info.value)
    with pytest.raises(Refused):  # a bare protocol prefix supplies options but allows nothing
        locate(
            ref, block, StoragePolicy(trust_block_basepaths=False, storage_options={"s3://": {"anon": True}})
        )
    with pytest.raises(Refused):  # component-wise: "s3://result" does not cover "s3://results"
        locate(ref, block, StoragePolicy(trust_block_basepaths=False, allowed_remote=("s3://result",)))
    ok = locate(ref, block, StoragePolicy(trust_block_basepaths=False, allowed_remote=("s3://results",)))
    assert ok.options == {"key": "u", "secret": SECRET}  # the block's endpoint is dropped
    pinned = StoragePolicy(
        trust_block_basepaths=False,
        storage_options={"s3://results": {"client_kwargs": {"endpoint_url": "http://minio.internal:9000"}}},
    )
    assert locate(ref, block, pinned).options["client_kwargs"] == {
        "endpoint_url": "http://minio.internal:9000"
    }


def test_untrusted_drops_remote_file_system_settings_and_endpoint_connection_strings() -> None:
    policy = StoragePolicy(trust_block_basepaths=False, allowed_remote=("s3://bkt", "az://ctr"))
    block = make_block(
        "remote-file-system", {"basepath": "s3://bkt/f", "settings": {"endpoint_url": "http://evil"}}
    )
    assert locate(Reference("prefect3", "k", "bid", None), block, policy).options == {}
    az = azure_block("ctr", None, f"AccountName=a;AccountKey={SECRET};BlobEndpoint=http://evil/a")
    assert locate(Reference("prefect3", "k", "bid", None), az, policy).options == {}
    az = azure_block("ctr", None, f"AccountName=a;AccountKey={SECRET}")
    assert locate(Reference("prefect3", "k", "bid", None), az, policy).options["connection_string"]


def test_location_repr_and_cache_key_hold_no_secret() -> None:
    loc = Location("s3", "b/k", {"secret": SECRET, "client_kwargs": {"endpoint_url": "http://h"}}, "s3://b/k")
    assert SECRET not in repr(loc)
    assert SECRET not in str(loc)
    assert SECRET not in loc.cache_key()
    policy = StoragePolicy(storage_options={"s3://b": {"secret": SECRET}})
    assert SECRET not in repr(policy)


def test_display_hides_url_passwords() -> None:
    policy = StoragePolicy(allowed_protocols=frozenset({"ftp"}))
    block = make_block("remote-file-system", {"basepath": f"ftp://user:{SECRET}@host/dir"})
    loc = locate(Reference("prefect3", "k", "bid", None), block, policy)
    assert SECRET not in loc.display
    assert loc.display == "ftp://user:***@host/dir/k"
    assert posixpath.basename(loc.path) == "k"
