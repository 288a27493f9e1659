"""ETags from the result's storage location + serializer; If-None-Match -> 304."""

from __future__ import annotations

from typing import Any

import pytest

from resultgate.server.envelope import etag_matches, quote_etag, result_etag

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("fmt", ["json", "text", "repr"])
async def test_etag_and_304(
    fmt: str, app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["e"] = ("flow_run_state", helpers.make_result("hello"))
    url = f"/api/flow_run_states/e/result?format={fmt}"
    async with client_factory(app_factory()) as client:
        first = await client.get(url)
        etag = first.headers["etag"]
        again = await client.get(url, headers={"If-None-Match": etag})
        weak = await client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
        star = await client.get(url, headers={"If-None-Match": "*"})
        other = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert first.status_code == 200
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert "etag-abc" in etag
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert weak.status_code == 304
    assert star.status_code == 304
    assert other.status_code == 200
    assert other.content == first.content


async def test_raw_etag_and_304_closes_the_stream(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    chunks = helpers.ClosingChunks([b"a", b"b"])
    fake_service.raws["r"] = (2, "f", "loc-key", chunks)
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/results/r?format=raw", headers={"If-None-Match": '"loc-key"'})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers["etag"] == '"loc-key"'
    assert chunks.closed is True
    assert chunks.read == 0  # not a byte was read from storage


async def test_json_etag_changes_with_the_state_text_etag_does_not(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    # two states whose data point at one stored result (same location + serializer)
    fake_service.results["s1"] = (
        "flow_run_state",
        helpers.make_result("v", state=helpers.make_state("state-1")),
    )
    fake_service.results["s2"] = (
        "flow_run_state",
        helpers.make_result("v", state=helpers.make_state("state-2")),
    )
    async with client_factory(app_factory()) as client:
        j1 = (await client.get("/api/flow_run_states/s1/result")).headers["etag"]
        j2 = (await client.get("/api/flow_run_states/s2/result")).headers["etag"]
        t1 = (await client.get("/api/flow_run_states/s1/result?format=text")).headers["etag"]
        t2 = (await client.get("/api/flow_run_states/s2/result?format=text")).headers["etag"]
    assert j1 != j2  # the envelope shows the state, so its tag follows the state
    assert t1 == t2 == '"etag-abc"'


async def test_no_etag_when_the_result_has_none(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["n"] = ("flow_run_state", helpers.make_result("v", etag=None))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/n/result", headers={"If-None-Match": "*"})
    assert resp.status_code == 200
    assert "etag" not in resp.headers


async def test_result_responses_vary_on_authorization(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    fake_service.results["v"] = ("flow_run_state", helpers.make_result("v"))
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/flow_run_states/v/result")
    assert resp.headers["vary"] == "Authorization"
    assert "private" in resp.headers["cache-control"]


async def test_run_ids_are_asked_of_the_service_every_time(
    app_factory: Any, client_factory: Any, fake_service: Any, helpers: Any
) -> None:
    """A run's state moves: the app keeps nothing; each request goes to the service
    (which caches decoded results by location, never run -> state)."""
    fake_service.results["run"] = ("flow_run", helpers.make_result("v"))
    async with client_factory(app_factory()) as client:
        for _ in range(3):
            await client.get("/api/flow_runs/run/result")
    assert [c[0] for c in fake_service.calls] == ["afetch"] * 3


def test_etag_helpers(helpers: Any) -> None:
    assert quote_etag("abc") == '"abc"'
    assert quote_etag('"abc"') == '"abc"'
    assert quote_etag('W/"abc"') == 'W/"abc"'
    assert etag_matches('"a", "b"', '"b"')
    assert etag_matches('W/"b"', '"b"')
    assert not etag_matches('"a"', '"b"')
    assert not etag_matches(None, '"b"')
    assert not etag_matches("*", None)
    result = helpers.make_result("v")
    assert result_etag(result, "text") == '"etag-abc"'
    assert result_etag(result, "json", "flow_run_state") != result_etag(result, "json", "flow_run")


async def test_real_service_caches_by_location_and_answers_304(
    real_app_factory: Any, client_factory: Any
) -> None:
    state_id = "01a242b7-687c-7eab-b0f4-cdcd8cccb49c"  # p3_pickle_str_default
    run_id = "ec59a425-75e0-4ac4-b417-40350ea402de"
    app = real_app_factory()
    service = app.state.gateway.service
    async with client_factory(app) as client:
        first = await client.get(f"/api/flow_run_states/{state_id}/result")
        assert first.status_code == 200, first.text
        etag = first.headers["etag"]
        misses = service.cache_stats.misses
        hits = service.cache_stats.hits
        second = await client.get(f"/api/flow_run_states/{state_id}/result")
        by_run = await client.get(f"/api/flow_runs/{run_id}/result?format=text")
        not_modified = await client.get(
            f"/api/flow_run_states/{state_id}/result", headers={"If-None-Match": etag}
        )
        raw = await client.get(f"/api/flow_run_states/{state_id}/result?format=raw")
        raw_304 = await client.get(
            f"/api/flow_run_states/{state_id}/result?format=raw",
            headers={"If-None-Match": raw.headers["etag"]},
        )
        metrics = (await client.get("/metrics")).text
    assert second.content == first.content
    assert second.headers["etag"] == etag
    assert by_run.text == "hello world"
    assert service.cache_stats.hits >= hits + 2  # the state's and the run's fetch both hit
    assert service.cache_stats.misses == misses
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    # the raw bytes carry the same location tag as the text rendering
    assert raw.headers["etag"] == by_run.headers["etag"]
    assert raw_304.status_code == 304
    assert f"resultgate_cache_hits_total {float(service.cache_stats.hits)}" in metrics
