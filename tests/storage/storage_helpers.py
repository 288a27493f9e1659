"""Small builders shared by the storage tests (no fixtures here)."""

from __future__ import annotations

import copy
import json
from typing import Any

from resultgate._model import Reference
from support.cases import Case

#: a distinctive secret: it must never appear in a message, a repr or a log
SECRET = "SeCrEt-7f3a9-do-not-leak"


def ref_from_state(state: dict[str, Any]) -> Reference:
    """A Reference from a captured state's ``data`` (3.x metadata or 2.x reference)."""
    data = state["data"]
    if data.get("type") == "reference":
        return Reference(
            "prefect2", data["storage_key"], data.get("storage_block_id"), {"type": data["serializer_type"]}
        )
    return Reference(
        "prefect3",
        data["storage_key"],
        data.get("storage_block_id"),
        data.get("serializer"),
        data.get("expiration"),
        data.get("prefect_version"),
    )


def owner_state(case: Case, owner: str) -> dict[str, Any]:
    state: dict[str, Any] = (
        case.state if owner == "flow" else case.json(f"task_runs/{owner.split(':', 1)[1]}/state.json")
    )
    return state


def block_for(case: Case, block_id: str | None) -> dict[str, Any] | None:
    if block_id is None:
        return None
    doc: dict[str, Any] = case.json(f"block_documents/{block_id}.json")
    return doc


def captured_local_block() -> dict[str, Any]:
    """A real captured block document (3.9.1 local-file-system) to reshape into others."""
    from support.cases import case

    doc: dict[str, Any] = case("p3_localfs_block").json("block_document.json")
    return doc


def make_block(slug: str, data: dict[str, Any], refs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A block document shaped like the captured ones, with another type and data."""
    doc = copy.deepcopy(captured_local_block())
    doc["data"] = data
    doc["block_type"]["slug"] = slug
    doc["block_schema"]["fields"]["block_type_slug"] = slug
    doc["block_document_references"] = refs or {}
    out: dict[str, Any] = json.loads(json.dumps(doc))
    return out


def minio_s3_block(bucket: str, folder: str, endpoint: str, user: str, password: str) -> dict[str, Any]:
    """S3Bucket with a *saved* MinIOCredentials: inlined data, slug in the references (§1.6)."""
    return make_block(
        "s3-bucket",
        {
            "bucket_name": bucket,
            "bucket_folder": folder,
            "credentials": {
                "minio_root_user": user,
                "minio_root_password": password,
                "region_name": None,
                "aws_client_parameters": {
                    "use_ssl": True,
                    "endpoint_url": endpoint,
                    "verify": None,
                    "config": None,
                    "api_version": None,
                    "verify_cert_path": None,
                },
            },
        },
        {
            "credentials": {
                "block_document": {
                    "id": "2caf0000-0000-4000-8000-000000000000",
                    "name": "exp-minio",
                    "is_anonymous": False,
                    "block_type": {"slug": "minio-credentials"},
                    "block_document_references": {},
                }
            }
        },
    )


def aws_s3_block(bucket: str, folder: str, endpoint: str | None, key: str, secret: str) -> dict[str, Any]:
    """S3Bucket with inline AwsCredentials (the child carries its own block_type_slug)."""
    return make_block(
        "s3-bucket",
        {
            "bucket_name": bucket,
            "bucket_folder": folder,
            "credentials": {
                "block_type_slug": "aws-credentials",
                "aws_access_key_id": key,
                "aws_secret_access_key": secret,
                "aws_session_token": None,
                "profile_name": None,
                "region_name": "us-east-1",
                "aws_client_parameters": {
                    "use_ssl": True,
                    "verify": None,
                    "verify_cert_path": None,
                    "endpoint_url": endpoint,
                    "config": None,
                    "api_version": None,
                },
            },
        },
    )


def azure_block(container: str, base_folder: str | None, connection_string: str) -> dict[str, Any]:
    return make_block(
        "azure-blob-storage-container",
        {
            "container_name": container,
            "base_folder": base_folder,
            "credentials": {
                "block_type_slug": "azure-blob-storage-credentials",
                "connection_string": connection_string,
                "account_url": None,
                "client_id": None,
                "tenant_id": None,
                "client_secret": None,
            },
        },
    )


def gcs_block(bucket: str, folder: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
    return make_block(
        "gcs-bucket",
        {
            "bucket": bucket,
            "bucket_folder": folder,
            "gcp_credentials": {
                "block_type_slug": "gcp-credentials",
                "service_account_file": None,
                "service_account_info": info,
                "project": "test-project",
            },
        },
    )
