"""Every route and format of the app, in-process against a fake service."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from resultgate._errors import TooLarge
from resultgate._service import ResultsPage

pytestmark = pytest.mark.anyio

KIND_ROUTES = [
    ("flow_run_states", "flow_run_state"),
    ("task_run_states", "task_run_state"),
    ("flow_runs", "flow_run"),
    ("task_runs", "task_run"),
]


@pytest.mark.parametrize(("collection", "kind"), KIND_ROUTES)
async def test_result_route_returns_the_envelope(
    collection: str, kind: str, app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    result = helpers.make_result("hello world", state=helpers.make_state(task=kind.startswith("task")))
    fake_service.results["the-id"] = (kind, result)
    async with client_factory(app_factory()) as client:
        resp = await client.get(f"/api/{collection}/the-id/result")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["id"] == "the-id"
    assert body["kind"] == kind
    assert body["value"] == "hello world"
    assert body["truncated"] is False
    assert body["value_type"] == "builtins.str"
    assert body["size"] == len(result.raw)
    assert body["raw_url"] == f"/api/{collection}/the-id/result?format=raw"
    assert body["state"] == {
        "id": helpers.STATE_ID,
        "type": "COMPLETED",
        "name": "Completed",
        "timestamp": "2026-12-04T20:00:00Z",
        "message": None,
    }
    assert body["flow_run_id"] == helpers.FLOW_RUN_ID
    assert body["task_run_id"] == (helpers.TASK_RUN_ID if kind.startswith("task") else None)
    assert body["reference"]["storage_key"] == "/srv/storage/abc"
    assert body["serializer"] == {"type": "pickle", "picklelib": "cloudpickle"}
    assert body["serializer_guessed"] is False
    assert body["format"] == "prefect3-record"
    assert body["location"] == "file:///srv/storage/abc"
    assert body["safety"]["carries_code"] is False
    assert fake_service.calls == [("afetch", "the-id", kind, None, "")]


async def test_envelope_has_exactly_the_documented_keys(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["x"] = ("flow_run_state", helpers.make_result({"a": 1}))
    async with client_factory(app_factory()) as client:
        body = (await client.get("/api/flow_run_states/x/result")).json()
    assert set(body) == {
        "id", "kind", "state", "flow_run_id", "task_run_id", "reference", "location", "serializer",
        "serializer_guessed", "format", "size", "value_type", "value", "truncated", "raw_url", "safety",
    }  # fmt: skip
    assert body["value"] == {"a": 1}


async def test_any_kind_route_resolves_and_links_raw_by_found_kind(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["run-1"] = ("flow_run", helpers.make_result(42))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/results/run-1")
    body = resp.json()
    assert resp.status_code == 200
    assert body["kind"] == "flow_run"
    assert body["value"] == 42
    assert body["raw_url"] == "/api/flow_runs/run-1/result?format=raw"
    assert fake_service.calls == [("afetch", "run-1", None, None, "")]


async def test_format_text_of_a_str_is_the_string_itself(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["s"] = ("flow_run_state", helpers.make_result("hello world"))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/s/result", params={"format": "text"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.text == "hello world"


async def test_ids_are_escaped_in_links(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["a b?c"] = ("flow_run_state", helpers.make_result("v"))
    async with client_factory(app_factory()) as client:
        body = (await client.get("/api/flow_run_states/a%20b%3Fc/result")).json()
    assert body["id"] == "a b?c"
    assert body["raw_url"] == "/api/flow_run_states/a%20b%3Fc/result?format=raw"


async def test_format_text_of_a_dict_is_its_json(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["d"] = ("flow_run_state", helpers.make_result({"k": [1, 2]}))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/d/result?format=text")
    assert json.loads(resp.text) == {"k": [1, 2]}


async def test_format_repr(app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any) -> None:
    fake_service.results["d"] = ("flow_run_state", helpers.make_result({"k": "v"}))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/d/result?format=REPR")
    assert resp.status_code == 200
    assert resp.text == "{'k': 'v'}"
    assert resp.headers["content-type"].startswith("text/plain")


async def test_format_raw_streams_the_stored_bytes(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    chunks = helpers.ClosingChunks([b"abc", b"def", b"g"])
    fake_service.raws["r"] = (7, "0123abcd", "raw-etag", chunks)
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/task_run_states/r/result?format=raw")
    assert resp.status_code == 200
    assert resp.content == b"abcdefg"
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-length"] == "7"
    assert resp.headers["content-disposition"].startswith('attachment; filename="0123abcd"')
    assert resp.headers["etag"] == '"raw-etag"'
    assert fake_service.calls == [("araw", "r", "task_run_state", None, "")]


async def test_format_raw_without_a_known_size_has_no_content_length(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.raws["r"] = (None, 'weird name/"x".bin', None, helpers.ClosingChunks([b"1", b"2"]))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/results/r?format=raw")
    assert resp.content == b"12"
    assert "content-length" not in resp.headers or resp.headers["content-length"] == "2"
    assert "etag" not in resp.headers
    disposition = resp.headers["content-disposition"]
    # the plain filename is reduced to safe characters; the full one is percent-encoded
    assert 'filename="weird_name__x_.bin"' in disposition
    assert "filename*=UTF-8''weird%20name%2F%22x%22.bin" in disposition


async def test_large_value_comes_back_as_a_preview_with_a_raw_link(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    big = ["x" * 100] * 500
    fake_service.results["big"] = ("flow_run_state", helpers.make_result(big, preview_bytes=1000))
    async with client_factory(app_factory()) as client:
        body = (await client.get("/api/flow_run_states/big/result")).json()
    assert body["truncated"] is True
    assert len(json.dumps(body["value"])) < 2000
    assert body["raw_url"].endswith("?format=raw")
    assert body["size"] == len(b"stored-bytes")


async def test_renderings_run_off_the_event_loop(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    result = helpers.make_result({"a": 1})
    fake_service.results["t"] = ("flow_run_state", result)
    loop_thread = threading.current_thread().name
    async with client_factory(app_factory()) as client:
        for fmt in ("json", "text", "repr"):
            assert (await client.get(f"/api/flow_run_states/t/result?format={fmt}")).status_code == 200
    assert len(result.threads) == 3
    assert loop_thread not in result.threads


@pytest.mark.parametrize(("collection", "kind"), KIND_ROUTES)
async def test_cloud_scoped_routes_forward_the_scope(
    collection: str, kind: str, app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["i"] = (kind, helpers.make_result("v"))
    prefix = "/api/accounts/acc-1/workspaces/ws_2"
    async with client_factory(app_factory()) as client:
        resp = await client.get(f"{prefix}/{collection}/i/result")
    assert resp.status_code == 200, resp.text
    assert resp.json()["raw_url"] == f"{prefix}/{collection}/i/result?format=raw"
    assert fake_service.calls == [("afetch", "i", kind, None, "/accounts/acc-1/workspaces/ws_2")]


async def test_cloud_scoped_any_kind_and_raw(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["i"] = ("task_run", helpers.make_result("v"))
    fake_service.raws["i"] = (1, "f", None, helpers.ClosingChunks([b"z"]))
    prefix = "/api/accounts/a/workspaces/w"
    async with client_factory(app_factory()) as client:
        assert (await client.get(f"{prefix}/results/i")).json()["kind"] == "task_run"
        assert (await client.get(f"{prefix}/results/i?format=raw")).content == b"z"
    assert fake_service.calls[1] == ("araw", "i", None, None, "/accounts/a/workspaces/w")


@pytest.mark.parametrize("account", ["a.b", "x%20y", "..", "a" * 65])
async def test_cloud_scope_parts_must_be_ids(
    account: str, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get(f"/api/accounts/{account}/workspaces/w/flow_runs/i/result")
    assert resp.status_code in (400, 404)
    assert resp.json()["error"]["status"] == resp.status_code
    assert fake_service.calls == []


def _page(helpers: Any) -> ResultsPage:
    items = [
        helpers.export_item("flow_run", "fr", "my-flow", result=helpers.make_result("hello world")),
        helpers.export_item("task_run", "t1", "add-0", result=helpers.make_result(3), task=True),
        helpers.export_item(
            "task_run",
            "t2",
            "big-0",
            status="too-large",
            error=TooLarge("the value is too large", hint="use raw"),
            task=True,
        ),
    ]
    state = {"id": "s", "type": "COMPLETED", "name": "Completed", "timestamp": "t", "message": None}
    run = {"id": "fr", "name": "my-flow", "state": {**state, "data": {"storage_key": "k"}}}
    return ResultsPage(run, 3, 50, 0, items)


async def test_flow_run_results_page(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.pages["fr"] = _page(helpers)
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_runs/fr/results")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["flow_run"] == {
        "id": "fr",
        "name": "my-flow",
        "state": {"id": "s", "type": "COMPLETED", "name": "Completed", "timestamp": "t", "message": None},
    }
    assert (body["total"], body["limit"], body["offset"]) == (3, 50, 0)
    first, second, third = body["items"]
    assert first["kind"] == "flow_run"
    assert first["run_id"] == "fr"
    assert first["run_name"] == "my-flow"
    assert first["status"] == "ok"
    assert first["value"] == "hello world"
    assert first["result_url"] == "/api/flow_run_states/state-of-fr/result"
    assert first["error"] is None
    assert second["value"] == 3
    assert second["result_url"] == "/api/task_run_states/state-of-t1/result"
    assert third["status"] == "too-large"
    assert third["value"] is None
    assert third["error"] == {"code": "too-large", "message": "the value is too large", "hint": "use raw"}
    assert fake_service.calls == [("aresults", "fr", 50, 0, None, "")]


async def test_flow_run_results_paging_and_scope(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.pages["fr"] = _page(helpers)
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/accounts/a/workspaces/w/flow_runs/fr/results?limit=1&offset=2")
    body = resp.json()
    assert (body["limit"], body["offset"], len(body["items"])) == (1, 2, 1)
    assert body["items"][0]["result_url"] == "/api/accounts/a/workspaces/w/task_run_states/state-of-t2/result"
    assert fake_service.calls == [("aresults", "fr", 1, 2, None, "/accounts/a/workspaces/w")]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "limit=abc"])
async def test_flow_run_results_bad_paging_is_400(
    query: str, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get(f"/api/flow_runs/fr/results?{query}")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "bad-request"
    assert fake_service.calls == []


async def test_limit_200_is_allowed(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.pages["fr"] = _page(helpers)
    async with client_factory(app_factory()) as client:
        assert (await client.get("/api/flow_runs/fr/results?limit=200")).status_code == 200


async def test_decode_upload(app_factory: Any, client_factory: Any, fake_service: Any) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.post("/api/results/decode", content=b"some result file")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["kind"] == "upload"
    assert body["id"] is None
    assert body["state"] is None
    assert body["raw_url"] is None
    assert body["value"] == {"decoded": True}
    assert fake_service.calls == [("decode_upload", 16, None)]
    # decode_upload is blocking: it ran in a worker thread
    assert fake_service.upload_threads
    assert threading.current_thread().name not in fake_service.upload_threads


@pytest.mark.parametrize(
    ("param", "passed"),
    [
        ("json", "json"),
        ('{"type": "pickle", "picklelib": "pickle"}', {"type": "pickle", "picklelib": "pickle"}),
    ],
)
async def test_decode_upload_serializer(
    param: str, passed: Any, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.post("/api/results/decode", params={"serializer": param}, content=b"{}")
    assert resp.status_code == 200
    assert fake_service.calls == [("decode_upload", 2, passed)]


@pytest.mark.parametrize(
    ("query", "body"),
    [("serializer={bad", b"x"), ('serializer={"a":1', b"x"), ("format=raw", b"x"), ("", b"")],
)
async def test_decode_upload_bad_input_is_400(
    query: str, body: bytes, app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.post(f"/api/results/decode?{query}", content=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "bad-request"
    assert not [c for c in fake_service.calls if c[0] == "decode_upload"]


async def test_decode_upload_text_format(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.upload_result = helpers.make_result("plain", state=None)
    async with client_factory(app_factory()) as client:
        resp = await client.post("/api/results/decode?format=text", content=b"x")
    assert resp.text == "plain"


async def test_health_ok(app_factory: Any, client_factory: Any, fake_service: Any) -> None:
    fake_service.health["prefect"]["url"] = "http://user:pw@127.0.0.1:4200/api"
    async with client_factory(app_factory()) as client:
        resp = await client.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["prefect"]["ok"] is True
    assert body["prefect"]["version"] == "3.9.1"
    assert body["prefect"]["url"] == "http://127.0.0.1:4200/api"  # no user:password


async def test_health_is_503_when_prefect_is_down(
    app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    fake_service.health = {
        "prefect": {"ok": False, "url": "http://127.0.0.1:9/api", "version": None, "error": "cannot connect"}
    }
    async with client_factory(app_factory()) as client:
        resp = await client.get("/health")
        live = await client.get("/health/live")
    assert resp.status_code == 503
    assert resp.json()["status"] == "degraded"
    assert resp.json()["prefect"]["error"] == "cannot connect"
    assert live.status_code == 200
    assert live.json()["status"] == "ok"


async def test_metrics(app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any) -> None:
    fake_service.results["m"] = ("flow_run_state", helpers.make_result("v"))
    async with client_factory(app_factory()) as client:
        await client.get("/api/flow_run_states/m/result")
        await client.get("/api/flow_run_states/m/result")
        await client.get("/api/flow_run_states/nope/result")
        await client.get("/api/results/m?format=bogus")
        resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    route = "/api/flow_run_states/{id}/result"
    assert f'resultgate_http_requests_total{{method="GET",route="{route}",status="200"}} 2.0' in text
    assert f'resultgate_http_requests_total{{method="GET",route="{route}",status="404"}} 1.0' in text
    assert f'resultgate_http_request_duration_seconds_count{{method="GET",route="{route}"}} 3.0' in text
    assert 'resultgate_errors_total{code="id-not-found"} 1.0' in text
    assert 'resultgate_errors_total{code="bad-request"} 1.0' in text
    assert "resultgate_cache_hits_total 3.0" in text
    assert "resultgate_cache_misses_total 2.0" in text
    assert "resultgate_cache_bytes 1234.0" in text
    assert "resultgate_cache_entries 1.0" in text
    # the raw id never becomes a label
    assert "nope" not in text


async def test_metrics_of_two_apps_do_not_collide(app_factory: Any, client_factory: Any) -> None:
    first, second = app_factory(), app_factory()
    async with client_factory(first) as c1, client_factory(second) as c2:
        await c1.get("/health")
        text = (await c2.get("/metrics")).text
    assert 'route="/health"' not in text


async def test_openapi_docs(app_factory: Any, client_factory: Any) -> None:
    async with client_factory(app_factory()) as client:
        docs = await client.get("/docs")
        spec = (await client.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    paths = spec["paths"]
    for collection, _ in KIND_ROUTES:
        assert f"/api/{collection}/{{id}}/result" in paths
        assert f"/api/accounts/{{account}}/workspaces/{{workspace}}/{collection}/{{id}}/result" in paths
    assert "/api/results/{id}" in paths
    assert "/api/flow_runs/{id}/results" in paths
    assert "post" in paths["/api/results/decode"]
    params = {p["name"] for p in paths["/api/flow_runs/{id}/results"]["get"]["parameters"]}
    assert {"id", "limit", "offset"} <= params
    scoped = paths["/api/accounts/{account}/workspaces/{workspace}/flow_runs/{id}/result"]["get"]
    assert {"account", "workspace", "id", "format"} <= {p["name"] for p in scoped["parameters"]}


async def test_static_page_is_served_at_root(app_factory: Any, client_factory: Any) -> None:
    from resultgate.server.app import STATIC_DIR

    if not (STATIC_DIR / "index.html").exists():
        pytest.skip("the page is not in this tree")
    async with client_factory(app_factory()) as client:
        resp = await client.get("/")
    assert resp.status_code == 200
    assert "html" in resp.headers["content-type"]


async def test_lifespan_closes_only_a_service_the_app_built(
    settings_factory: Any, fake_service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resultgate.server.app import create_app

    app = create_app(settings_factory(), service=fake_service)
    async with app.router.lifespan_context(app):
        pass
    assert fake_service.closed is False

    built: list[Any] = []

    class Recording:
        def __init__(self, settings: Any, *, trust_block_basepaths: bool = True) -> None:
            self.trust_block_basepaths = trust_block_basepaths
            self.closed = False
            built.append(self)

        async def aclose(self) -> None:
            self.closed = True

    import resultgate._service

    monkeypatch.setattr(resultgate._service, "ResultService", Recording)
    owned = create_app(settings_factory())
    async with owned.router.lifespan_context(owned):
        pass
    assert built[0].closed is True
    # in the gateway a block document's basepath is not an allowed root by itself
    assert built[0].trust_block_basepaths is False


def test_import_resultgate_does_not_import_fastapi() -> None:
    code = (
        "import sys, resultgate, resultgate.server, resultgate.server.cli;"
        "bad = [m for m in ('fastapi', 'starlette', 'uvicorn', 'prometheus_client') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_serve_command_defaults_to_loopback() -> None:
    from resultgate.server.cli import serve_command

    params = {p.name: p for p in serve_command.params}
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 8080
    assert params["workers"].default == 1
    assert {"api_url", "api_key", "maps", "roots"} <= set(params)


def test_serve_overrides_build_settings(settings_factory: Any) -> None:
    from resultgate._config import Settings
    from resultgate.server.cli import _overrides

    overrides = _overrides("http://127.0.0.1:4200/api", "k", ("/a=/b",), ("/data",))
    settings = Settings.load(overrides, {"PREFECT_HOME": "/nonexistent-home"})
    assert settings.api_url == "http://127.0.0.1:4200/api"
    assert settings.api_key == "k"
    assert settings.path_map == (("/a", "/b"),)
    assert settings.allowed_roots == ("/data",)


# ---------------------------------------------------------------- against the real service


def _case(name: str) -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "fixtures" / "cases" / name / "case.json"
    return dict(json.loads(path.read_text()))


async def test_real_service_the_original_question(real_app_factory: Any, client_factory: Any) -> None:
    case = _case("p3_pickle_str_default")
    async with client_factory(real_app_factory()) as client:
        for path in (
            f"/api/flow_run_states/{case['flow_state_id']}/result",
            f"/api/flow_runs/{case['flow_run_id']}/result",
            f"/api/results/{case['flow_state_id']}",
            f"/api/results/{case['flow_run_id']}",
        ):
            resp = await client.get(path)
            assert resp.status_code == 200, (path, resp.text)
            body = resp.json()
            assert body["value"] == "hello world"
            assert body["value_type"] == "builtins.str"
            assert body["truncated"] is False
            assert body["state"]["id"] == case["flow_state_id"]
            assert body["flow_run_id"] == case["flow_run_id"]
            assert body["serializer"]["type"] == "pickle"
            assert body["safety"]["carries_code"] is False
            assert body["size"] == 37
        text = await client.get(f"/api/flow_run_states/{case['flow_state_id']}/result?format=text")
        assert text.text == "hello world"
        rep = await client.get(f"/api/flow_run_states/{case['flow_state_id']}/result?format=repr")
        assert rep.text == "'hello world'"
        raw = await client.get(body["raw_url"])
        assert raw.status_code == 200
        assert (
            raw.content
            == (Path(__file__).resolve().parents[1] / "fixtures/cases/p3_pickle_str_default/result")
            .joinpath("138d4d2c3f1a4eef86f9fec4ea56ad75")
            .read_bytes()
        )
        assert raw.headers["content-length"] == "37"


async def test_real_service_json_and_failed(real_app_factory: Any, client_factory: Any) -> None:
    json_case, failed = _case("p3_json_dict"), _case("p3_failed_flow")
    async with client_factory(real_app_factory()) as client:
        body = (await client.get(f"/api/flow_run_states/{json_case['flow_state_id']}/result")).json()
        assert body["value"] == json_case["expected"]["json"]
        resp = await client.get(f"/api/flow_runs/{failed['flow_run_id']}/result")
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"]["type"] == "FAILED"


async def test_real_service_results_page(real_app_factory: Any, client_factory: Any) -> None:
    case = _case("p3_tasks_default")
    async with client_factory(real_app_factory()) as client:
        resp = await client.get(f"/api/flow_runs/{case['flow_run_id']}/results")
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert page["total"] == 1 + len(case["task_runs"])
        assert page["items"][0]["kind"] == "flow_run"
        assert page["items"][0]["value"] == case["expected"]["json"]
        by_name = {i["run_name"]: i for i in page["items"][1:]}
        for task in case["task_runs"]:
            item = by_name[task["task_run_name"]]
            assert item["kind"] == "task_run"
            assert item["status"] in ("ok", "no-result", "missing"), item
            if item["status"] == "ok":
                one = (await client.get(item["result_url"])).json()
                assert one["value"] == item["value"]
        small = (await client.get(f"/api/flow_runs/{case['flow_run_id']}/results?limit=1&offset=1")).json()
    assert len(small["items"]) == 1
    assert small["items"][0]["kind"] == "task_run"


async def test_real_service_inline_limit_gives_a_preview(real_app_factory: Any, client_factory: Any) -> None:
    case = _case("p3_tasks_default")
    async with client_factory(real_app_factory(inline_limit=8)) as client:
        body = (await client.get(f"/api/flow_runs/{case['flow_run_id']}/result")).json()
    assert body["truncated"] is True
    assert body["raw_url"].endswith("?format=raw")


async def test_real_service_decode_upload(real_app_factory: Any, client_factory: Any) -> None:
    data = (Path(__file__).resolve().parents[1] / "fixtures/cases/p3_pickle_str_default/result").joinpath(
        "138d4d2c3f1a4eef86f9fec4ea56ad75"
    )
    async with client_factory(real_app_factory()) as client:
        resp = await client.post("/api/results/decode?serializer=pickle", content=data.read_bytes())
        text = await client.post("/api/results/decode?format=text", content=data.read_bytes())
        bad = await client.post("/api/results/decode?serializer=yaml", content=b"x")
        junk = await client.post("/api/results/decode?serializer=pickle", content=b"\x80\x04\x95")
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == "hello world"
    assert resp.json()["kind"] == "upload"
    assert text.text == "hello world"
    assert bad.status_code == 415
    assert junk.status_code == 422


def test_worker_app_builds_from_the_flags_passed_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With --workers > 1 each worker rebuilds its app from the same flags (via the environment)."""
    from resultgate.server.cli import _OVERRIDES_ENV, _overrides, worker_app

    overrides = _overrides("http://127.0.0.1:4200/api", None, ("/a=/b",), (str(tmp_path),))
    monkeypatch.setenv(_OVERRIDES_ENV, json.dumps(overrides))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    app = worker_app()
    service = app.state.gateway.service
    assert service.settings.api_url == "http://127.0.0.1:4200/api"
    assert service.settings.path_map == (("/a", "/b"),)
    assert service.settings.allowed_roots == (str(tmp_path),)


def test_serve_without_an_api_url_is_a_config_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from resultgate._errors import ConfigError
    from resultgate.server.cli import serve_command

    env = {
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_API_URL": "",
        "PREFECT_PROFILES_PATH": str(tmp_path / "none"),
    }
    result = CliRunner().invoke(serve_command, ["--port", "0"], env=env)
    assert isinstance(result.exception, ConfigError)


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions the routes sent to a worker thread."""
    import resultgate.server.routes as routes

    calls: list[str] = []
    real = routes.run_in_threadpool

    async def spy(fn: Any, *args: Any, **kwargs: Any) -> Any:
        # never repr(fn): a bound method's repr shows the whole result
        calls.append(fn.__name__ if hasattr(fn, "__name__") else type(fn).__name__)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(routes, "run_in_threadpool", spy)
    return calls


def _real_result(value: Any, helpers: Any) -> Any:
    import dataclasses
    import pickle

    from resultgate._result import decode_record

    result = decode_record(pickle.dumps(value, protocol=4), "pickle")
    return dataclasses.replace(result, state=helpers.make_state(), etag="e")


async def test_small_renderings_stay_on_the_loop(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any, thread_calls: list[str]
) -> None:
    fake_service.results["s"] = ("flow_run_state", _real_result({"a": [1, 2, 3]}, helpers))
    async with client_factory(app_factory()) as client:
        body = (await client.get("/api/flow_run_states/s/result")).json()
        text = (await client.get("/api/flow_run_states/s/result?format=text")).text
        rep = (await client.get("/api/flow_run_states/s/result?format=repr")).text
    assert body["value"] == {"a": [1, 2, 3]}
    assert body["truncated"] is False
    assert json.loads(text) == {"a": [1, 2, 3]}
    assert rep == "{'a': [1, 2, 3]}"
    assert thread_calls == []  # a thread hop would cost more than the rendering


async def test_big_renderings_go_to_a_worker_thread(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any, thread_calls: list[str]
) -> None:
    big = list(range(50_000))
    fake_service.results["b"] = ("flow_run_state", _real_result(big, helpers))
    async with client_factory(app_factory()) as client:
        body = (await client.get("/api/flow_run_states/b/result")).json()
        text = (await client.get("/api/flow_run_states/b/result?format=text")).text
    assert body["value"] == big
    assert json.loads(text) == big
    assert len(thread_calls) == 2


async def test_a_small_file_with_a_huge_rendering_is_cut_in_a_thread(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any, thread_calls: list[str]
) -> None:
    shared: Any = ["x" * 10]
    for _ in range(40):  # 2**40 leaves by shared references, a few hundred bytes pickled
        shared = [shared, shared]
    result = _real_result(shared, helpers)
    assert len(result.raw) < 2000
    fake_service.results["dag"] = ("flow_run_state", result)
    async with client_factory(app_factory(inline_limit=64 * 1024)) as client:
        resp = await client.get("/api/flow_run_states/dag/result")
    body = resp.json()
    assert body["truncated"] is True
    assert len(resp.content) < 200 * 1024
    assert thread_calls  # the loop only tried a bounded first slice


async def test_page_items_are_cut_to_a_smaller_preview(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    from resultgate.server.envelope import PAGE_ITEM_BYTES

    big = list(range(60_000))  # about 400 KB of JSON: inline alone, cut in a page
    item = helpers.export_item("flow_run", "fr", "f", result=_real_result(big, helpers))
    fake_service.pages["fr"] = ResultsPage({"id": "fr", "name": "f", "state": None}, 1, 50, 0, [item])
    fake_service.results["s"] = ("flow_run_state", _real_result(big, helpers))
    async with client_factory(app_factory()) as client:
        page = await client.get("/api/flow_runs/fr/results")
        one = await client.get("/api/flow_run_states/s/result")
    assert page.json()["items"][0]["truncated"] is True
    assert len(page.content) < 2 * PAGE_ITEM_BYTES
    assert one.json()["truncated"] is False
    assert one.json()["value"] == big
