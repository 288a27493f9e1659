"""S3 end to end: real Prefect (with prefect-aws) writes flow and task results to
an S3Bucket block on a moto S3 server; resultgate reads them back by id."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resultgate import fetch_result
from resultgate._config import Settings

pytestmark = [pytest.mark.prefect, pytest.mark.s3, pytest.mark.slow]

SCRIPT = """
import json, os
from prefect import flow, task
from prefect_aws import MinIOCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters

creds = MinIOCredentials(
    minio_root_user=os.environ["RG_S3_KEY"],
    minio_root_password=os.environ["RG_S3_SECRET"],
    region_name="us-east-1",
    aws_client_parameters=AwsClientParameters(endpoint_url=os.environ["RG_S3_ENDPOINT"]),
)
creds.save("rg-moto", overwrite=True)
bucket = S3Bucket(bucket_name="rg-results", bucket_folder="prefect/out", credentials=creds)
bucket.save("rg-s3", overwrite=True)

@task(persist_result=True, result_storage="s3-bucket/rg-s3", result_serializer="json")
def shout(s: str) -> dict:
    return {"said": s.upper()}

@flow(persist_result=True, result_storage="s3-bucket/rg-s3")
def to_s3() -> list:
    return ["written to S3", shout("hi")]

state = to_s3(return_state=True)
print(json.dumps({"state_id": str(state.id), "flow_run_id": str(state.state_details.flow_run_id)}))
"""


@pytest.fixture(scope="module")
def s3_run(prefect_server: Any, s3_server: Any) -> dict[str, str]:
    s3_server.client().create_bucket(Bucket="rg-results")
    extra = {
        "RG_S3_KEY": s3_server.key,
        "RG_S3_SECRET": s3_server.secret,
        "RG_S3_ENDPOINT": s3_server.endpoint_url,
    }
    prefect_server.env.update(extra)
    try:
        out: dict[str, str] = prefect_server.run_flow_script(SCRIPT, timeout=240)
    finally:
        for key in extra:
            prefect_server.env.pop(key, None)
    return out


def test_a_flow_result_in_an_s3_bucket_block(prefect_server: Any, s3_run: dict[str, str]) -> None:
    settings = Settings.load(None, {"PREFECT_API_URL": prefect_server.api_url, "HOME": os.environ["HOME"]})
    result = fetch_result(s3_run["flow_run_id"], settings=settings)
    assert result.value == ["written to S3", {"said": "HI"}]
    assert result.location is not None
    assert result.location.startswith("s3://rg-results/prefect/out/")
    assert result.reference is not None
    assert result.reference.storage_block_id


def test_the_secret_of_the_block_never_shows(
    prefect_server: Any, s3_run: dict[str, str], s3_server: Any
) -> None:
    env = {"PREFECT_API_URL": prefect_server.api_url, "PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
    resultgate = str(Path(sys.executable).parent / "resultgate")
    done = subprocess.run(
        [resultgate, "get", s3_run["state_id"], "--explain", "--format", "json"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert s3_server.secret not in (done.stdout + done.stderr).decode()
    assert b"written to S3" in done.stdout
