"""Gateway tokens, forwarding the caller's Authorization to Prefect, and CORS."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest

from resultgate.server.auth import Authorizer, bearer_token, token_matches

pytestmark = pytest.mark.anyio

TOKENS = {"RESULTGATE_TOKENS": "tok-one,tok-two"}

PROTECTED = [
    ("GET", "/api/flow_run_states/i/result"),
    ("GET", "/api/task_run_states/i/result"),
    ("GET", "/api/flow_runs/i/result"),
    ("GET", "/api/task_runs/i/result"),
    ("GET", "/api/results/i"),
    ("GET", "/api/results/i?format=raw"),
    ("GET", "/api/flow_runs/i/results"),
    ("GET", "/api/accounts/a/workspaces/w/flow_run_states/i/result"),
    ("GET", "/api/accounts/a/workspaces/w/flow_runs/i/results"),
    ("POST", "/api/results/decode"),
]


@pytest.fixture
def stocked(fake_service: Any, helpers: Any) -> Any:
    fake_service.results["i"] = ("*", helpers.make_result("v"))
    fake_service.raws["i"] = (1, "f", None, helpers.ClosingChunks([b"z"]))
    fake_service.pages["i"] = __import__("resultgate._service", fromlist=["ResultsPage"]).ResultsPage(
        {"id": "i", "name": "n", "state": None}, 0, 50, 0, []
    )
    return fake_service


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer tok-one-and-more", "Basic dG9rLW9uZQ==", "tok-one", "Bearer "],
)
async def test_tokens_required_on_every_api_route(
    method: str, path: str, authorization: str | None, app_factory: Any, client_factory: Any, stocked: Any
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with client_factory(app_factory(env=TOKENS)) as client:
        resp = await client.request(method, path, headers=headers, content=b"x" if method == "POST" else None)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    body = resp.json()["error"]
    assert (body["code"], body["status"]) == ("unauthorized", 401)
    assert stocked.calls == []  # the service was never asked


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("token", ["tok-one", "tok-two"])
async def test_a_valid_token_passes_and_is_not_forwarded(
    method: str, path: str, token: str, app_factory: Any, client_factory: Any, stocked: Any
) -> None:
    headers = {"Authorization": f"bearer {token}"}  # the scheme is case-insensitive
    async with client_factory(app_factory(env=TOKENS)) as client:
        resp = await client.request(method, path, headers=headers, content=b"x" if method == "POST" else None)
    assert resp.status_code == 200, resp.text
    # the gateway token is ours: Prefect is called with the gateway's own credentials
    for call in stocked.calls:
        if call[0] in ("afetch", "araw"):
            assert call[3] is None
        if call[0] == "aresults":
            assert call[4] is None


async def test_health_metrics_docs_stay_open(app_factory: Any, client_factory: Any) -> None:
    async with client_factory(app_factory(env=TOKENS)) as client:
        for path in ("/health", "/health/live", "/metrics", "/docs", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_tokens_file(tmp_path: Path, app_factory: Any, client_factory: Any, stocked: Any) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# operators\nfile-token\n\n")
    async with client_factory(app_factory(env={"RESULTGATE_TOKENS_FILE": str(tokens)})) as client:
        bad = await client.get("/api/results/i")
        good = await client.get("/api/results/i", headers={"Authorization": "Bearer file-token"})
    assert bad.status_code == 401
    assert good.status_code == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_without_tokens_the_callers_authorization_is_forwarded(
    method: str, path: str, app_factory: Any, client_factory: Any, stocked: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.request(
            method,
            path,
            headers={"Authorization": "Bearer pnu_prefect_key"},
            content=b"x" if method == "POST" else None,
        )
    assert resp.status_code == 200
    for call in stocked.calls:
        if call[0] in ("afetch", "araw"):
            assert call[3] == "Bearer pnu_prefect_key"
        if call[0] == "aresults":
            assert call[4] == "Bearer pnu_prefect_key"


async def test_without_tokens_and_without_a_header_nothing_is_forwarded(
    app_factory: Any, client_factory: Any, stocked: Any
) -> None:
    async with client_factory(app_factory()) as client:
        assert (await client.get("/api/results/i")).status_code == 200
    assert stocked.calls == [("afetch", "i", None, None, "")]


async def test_prefect_refusing_the_forwarded_credentials_is_401(
    app_factory: Any, client_factory: Any, fake_service: Any
) -> None:
    from resultgate._errors import AuthError

    fake_service.errors["i"] = AuthError("Prefect refused the credentials (401)")
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/results/i", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token("") is None
    assert bearer_token(None) is None


def test_token_compare_is_constant_time_over_all_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert token_matches("t1", ["t1", "t2", "t3"]) is True
    # no early exit on the first match: every token is compared
    assert len(calls) == 3
    calls.clear()
    assert token_matches("zz", ["t1", "t2"]) is False
    assert len(calls) == 2
    assert token_matches("ünï", ["ünï"]) is True  # non-ASCII compares as bytes


def test_authorizer_modes() -> None:
    from resultgate._errors import AuthError

    assert Authorizer()("Bearer x") == "Bearer x"
    assert Authorizer()(None) is None
    assert Authorizer(["k"])("Bearer k") is None
    with pytest.raises(AuthError):
        Authorizer(["k"])("Bearer j")


async def test_no_cors_headers_unless_origins_are_configured(
    app_factory: Any, client_factory: Any, stocked: Any
) -> None:
    async with client_factory(app_factory()) as client:
        resp = await client.get("/api/results/i", headers={"Origin": "https://evil.example"})
        pre = await client.options(
            "/api/results/i",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in resp.headers
    assert "access-control-allow-origin" not in pre.headers


async def test_cors_for_configured_origins_only(app_factory: Any, client_factory: Any, stocked: Any) -> None:
    app = app_factory(env={"RESULTGATE_CORS_ORIGINS": "https://ui.example"})
    async with client_factory(app) as client:
        good = await client.get("/api/results/i", headers={"Origin": "https://ui.example"})
        bad = await client.get("/api/results/i", headers={"Origin": "https://evil.example"})
        pre = await client.options(
            "/api/results/i",
            headers={
                "Origin": "https://ui.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    assert good.headers["access-control-allow-origin"] == "https://ui.example"
    assert "etag" in good.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in bad.headers
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://ui.example"
