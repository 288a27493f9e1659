"""One JSON error shape for every error, with the status its class carries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from resultgate import _errors as E

pytestmark = pytest.mark.anyio

CASES = [
    (E.IdNotFound("no state or run has the id x", hint="check the id"), 404, "id-not-found"),
    (E.ResultMissing("the result file is not there"), 404, "result-missing"),
    (E.NoPersistedResult("this state has no persisted result", hint="set persist_result=True"), 409,
     "no-persisted-result"),
    (E.ResultExpired("the result expired"), 410, "expired"),
    (E.TooLarge("past the cap"), 413, "too-large"),
    (E.UnsupportedSerializer("unknown serializer 'yaml'"), 415, "unsupported-serializer"),
    (E.MalformedRecord("not a result record"), 422, "malformed-record"),
    (E.PrefectUnreachable("cannot connect to Prefect"), 502, "prefect-unreachable"),
    (E.PrefectBadResponse("Prefect answered 500"), 502, "prefect-bad-response"),
    (E.StorageError("S3 failed"), 502, "storage"),
    (E.UpstreamTimeout("Prefect did not answer in 10s"), 504, "timeout"),
    (E.AuthError("Prefect refused the credentials"), 401, "unauthorized"),
    (E.UsageError("not an id"), 400, "bad-request"),
    (E.Refused("the path /etc/passwd is outside the allowed roots"), 403, "refused"),
    (E.ConfigError("no Prefect API URL is set"), 500, "config"),
    (E.MissingExtra("s3 needs s3fs", hint="pip install 'resultgate[s3]'"), 501, "missing-extra"),
]  # fmt: skip


def assert_error_shape(body: Any, status: int, code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= {"code", "status", "message", "hint", "details"}


PATHS = [
    "/api/flow_run_states/e/result",
    "/api/results/e?format=text",
    "/api/results/e?format=raw",
    "/api/flow_runs/e/results",
    "/api/accounts/a/workspaces/w/task_runs/e/result",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("error", "status", "code"), CASES, ids=[c[2] for c in CASES])
async def test_each_error_has_its_status_and_the_one_shape(
    error: E.ResultgateError,
    status: int,
    code: str,
    path: str,
    app_factory: Any,
    client_factory: Any,
    fake_service: Any,
) -> None:
    fake_service.errors["e"] = error
    async with client_factory(app_factory()) as client:
        resp = await client.get(path)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    assert_error_shape(resp.json(), status, code)
    got, want = resp.json()["error"], error.to_dict()["error"]
    if code == "too-large" and got.get("details", {}).get("raw_url"):
        got.pop("details"), want.pop("details", None), got.pop("hint"), want.pop("hint", None)
    assert got == want
    if status == 401:
        assert resp.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("error", "status", "code"), CASES[4:7], ids=[c[2] for c in CASES[4:7]])
async def test_decode_errors_of_an_upload(
    error: E.ResultgateError, status: int, code: str, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    fake_service.upload_error = error
    async with client_factory(app_factory()) as client:
        resp = await client.post("/api/results/decode", content=b"garbage")
        metrics = (await client.get("/metrics")).text
    assert resp.status_code == status
    assert_error_shape(resp.json(), status, code)
    assert f'resultgate_errors_total{{code="{code}"}} 1.0' in metrics


async def test_a_rendering_past_the_limits_is_413(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    class Huge(helpers.FakeResult):  # type: ignore[misc, name-defined]
        def text(self) -> str:
            raise E.TooLarge("the rendering is past 512 MiB", hint="use format=raw")

    fake_service.results["h"] = ("flow_run_state", Huge("v", state=helpers.make_state()))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/h/result?format=text")
    assert resp.status_code == 413
    assert resp.json()["error"]["hint"] == "use format=raw"
    assert resp.json()["error"]["details"]["raw_url"] == "/api/flow_run_states/h/result?format=raw"


@pytest.mark.parametrize(
    ("path", "raw_url"),
    [
        ("/api/results/big", "/api/results/big?format=raw"),
        ("/api/task_runs/big/result", "/api/task_runs/big/result?format=raw"),
        ("/api/accounts/a/workspaces/w/results/big", "/api/accounts/a/workspaces/w/results/big?format=raw"),
    ],
)
async def test_too_large_from_the_service_links_the_raw_bytes(
    path: str, raw_url: str, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    fake_service.errors["big"] = E.TooLarge("3 GiB decompressed; the cap is 2 GiB")
    async with client_factory(app_factory()) as client:
        resp = await client.get(path)
    assert resp.status_code == 413
    error = resp.json()["error"]
    assert error["details"]["raw_url"] == raw_url
    assert "format=raw" in error["hint"]


async def test_bad_format_is_400(app_factory: Any, client_factory: Any, fake_service: Any) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/x/result?format=yaml")
    assert resp.status_code == 400
    assert_error_shape(resp.json(), 400, "bad-request")
    assert "json, text, repr, raw" in resp.json()["error"]["hint"]
    assert fake_service.calls == []


async def test_validation_errors_are_400_in_the_shape_without_echoing_input(
    app_factory: Any, client_factory: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_runs/x/results?limit=<script>")
    assert resp.status_code == 400
    body = resp.json()
    assert_error_shape(body, 400, "bad-request")
    assert body["error"]["details"]["fields"][0]["field"] == "limit"
    assert "<script>" not in resp.text


async def test_unknown_api_path_is_404_in_the_shape(app_factory: Any, client_factory: Any) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/no/such/thing")
        page = await client.get("/no-such-file.js")
    assert resp.status_code == 404
    assert_error_shape(resp.json(), 404, "not-found")
    assert page.status_code == 404
    assert_error_shape(page.json(), 404, "not-found")


async def test_wrong_method_is_405_in_the_shape(app_factory: Any, client_factory: Any) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.delete("/api/flow_run_states/x/result")
    assert resp.status_code == 405
    assert_error_shape(resp.json(), 405, "method-not-allowed")


async def test_unexpected_exception_is_500_without_internals(
    app_factory: Any, client_factory: Any, fake_service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake_service.errors["boom"] = RuntimeError("db password is hunter2 at /srv/secret/path")
    caplog.set_level(logging.INFO)
    async with client_factory(app_factory(), raise_app_exceptions=False) as client:
        resp = await client.get("/api/flow_run_states/boom/result")
        ok = await client.get("/health")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal", "status": 500, "message": "internal error"}}
    assert "hunter2" not in resp.text
    assert ok.status_code == 200  # still serving
    ours = [r.getMessage() for r in caplog.records if r.name == "resultgate.server"]
    assert ours
    assert all("hunter2" not in m for m in ours)


async def test_upload_with_declared_length_past_the_cap_is_413_before_reading(
    app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(10_000):  # bounded: 10 000 x 64 KiB would be 640 MB
            pulled += 1
            yield b"\0" * 65536

    async with client_factory(app_factory(max_upload=1000)) as client:
        resp = await client.post(
            "/api/results/decode", content=body(), headers={"Content-Length": str(10_000 * 65536)}
        )
    assert resp.status_code == 413
    assert_error_shape(resp.json(), 413, "too-large")
    assert pulled <= 1
    assert fake_service.calls == []


async def test_streamed_upload_past_the_cap_stops_reading(
    app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(10_000):
            pulled += 1
            yield b"\0" * 1000

    async with client_factory(app_factory(max_upload=5000)) as client:
        resp = await client.post("/api/results/decode", content=body())  # chunked: no Content-Length
    assert resp.status_code == 413
    assert pulled <= 7  # stopped just past the cap, not at the end
    assert fake_service.calls == []


async def test_upload_at_the_cap_is_accepted(
    app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    async with client_factory(app_factory(max_upload=5000)) as client:
        resp = await client.post("/api/results/decode", content=b"x" * 5000)
    assert resp.status_code == 200
    assert fake_service.calls == [("decode_upload", 5000, None)]


async def test_bad_content_length_is_400(app_factory: Any, client_factory: Any) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.post("/api/results/decode", content=b"x", headers={"Content-Length": "lots"})
    assert resp.status_code == 400


# ---------------------------------------------------------------- against the real service


def _hostile_state(state_id: str, key: str, block_id: str | None) -> dict[str, Any]:
    return {
        "id": state_id,
        "type": "COMPLETED",
        "name": "Completed",
        "timestamp": "2026-12-04T20:00:00Z",
        "message": None,
        "data": {
            "storage_key": key,
            "expiration": None,
            "serializer": {"type": "pickle", "picklelib": "cloudpickle"},
            "prefect_version": "3.9.1",
            "storage_block_id": block_id,
        },
        "state_details": {"flow_run_id": "0f0f0f0f-0000-4000-8000-000000000001", "task_run_id": None},
    }


@pytest.mark.parametrize(
    ("key", "block"),
    [
        ("/etc/passwd", None),
        ("/home/alice/.prefect/storage/../../../../etc/passwd", None),
        ("abc", "secret"),
    ],
    ids=["etc-passwd", "dotdot", "secret-block"],
)
@pytest.mark.parametrize("fmt", ["json", "text", "raw"])
async def test_real_service_refuses_hostile_states_and_leaks_no_secret(
    key: str,
    block: str | None,
    fmt: str,
    real_app_factory: Any,
    client_factory: Any,
    captured: Any,
    helpers: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret, secret_block = helpers.BLOCK_SECRET, helpers.SECRET_BLOCK_ID
    state_id = "0f0f0f0f-0000-4000-8000-0000000000aa"
    captured.add_state(_hostile_state(state_id, key, secret_block if block else None))
    caplog.set_level(logging.DEBUG)
    async with client_factory(real_app_factory()) as client:
        resp = await client.get(f"/api/flow_run_states/{state_id}/result?format={fmt}")
        metrics = await client.get("/metrics")
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]["code"] == "refused"
    assert "root:" not in resp.text
    assert secret not in resp.text
    assert secret not in metrics.text
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
