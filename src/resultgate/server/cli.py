"""``resultgate serve``: the HTTP gateway under uvicorn.

The lead's command group attaches :data:`serve_command`; ``python -m
resultgate.server.cli`` runs it alone. FastAPI and uvicorn are imported only when
the command runs, so the rest of the command line starts fast without them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from resultgate._errors import MissingExtra

__all__ = ["serve_command", "worker_app"]

#: how flags reach worker processes when --workers > 1 (each builds its own app)
_OVERRIDES_ENV = "RESULTGATE_SERVE_OVERRIDES"


def _overrides(
    api_url: str | None, api_key: str | None, maps: tuple[str, ...], roots: tuple[str, ...]
) -> dict[str, Any]:
    """The settings overrides of serve's flags (the same mapping `get` and `export` use)."""
    from resultgate._cli_options import flag_overrides

    return flag_overrides(api_url=api_url, api_key=api_key, maps=maps, roots=roots)


def _require_server_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"'resultgate serve' needs {exc.name}", hint="pip install 'resultgate[server]'"
        ) from exc


def worker_app() -> Any:
    """The app of one worker process (uvicorn factory for ``--workers > 1``)."""
    from resultgate._config import Settings
    from resultgate.server.app import create_app

    overrides = json.loads(os.environ.get(_OVERRIDES_ENV) or "{}")
    return create_app(Settings.load(overrides, os.environ))


@click.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told)."
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--api-url", default=None, help="Prefect API URL (else PREFECT_API_URL or the active profile).")
@click.option("--api-key", default=None, help="Prefect API key (prefer PREFECT_API_KEY: flags show in ps).")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FROM=TO",
    help="Map a storage path the flow saw to one seen here.",
)
@click.option(
    "--allow-root",
    "roots",
    multiple=True,
    metavar="DIR",
    help="A directory local results may be read from (repeatable).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve_command(
    host: str,
    port: int,
    workers: int,
    api_url: str | None,
    api_key: str | None,
    maps: tuple[str, ...],
    roots: tuple[str, ...],
    log_level: str,
) -> None:
    """Serve results over HTTP: GET /api/flow_run_states/ID/result and friends.

    Gateway tokens, CORS origins and size limits come from RESULTGATE_TOKENS,
    RESULTGATE_TOKENS_FILE, RESULTGATE_CORS_ORIGINS, RESULTGATE_INLINE_LIMIT,
    RESULTGATE_MAX_UPLOAD and RESULTGATE_CACHE_BYTES.
    """
    _require_server_extra()
    import uvicorn

    from resultgate._config import Settings
    from resultgate.server.app import create_app

    overrides = _overrides(api_url, api_key, maps, roots)
    settings = Settings.load(overrides, os.environ)
    settings.require_api_url()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    # several processes: each worker builds its own app from the same flags
    create_app(settings)  # fail here, once, on a bad configuration
    os.environ[_OVERRIDES_ENV] = json.dumps(overrides)
    uvicorn.run("resultgate.server.cli:worker_app", factory=True, workers=workers, **common)


if __name__ == "__main__":  # pragma: no cover - `python -m resultgate.server.cli`
    serve_command()
