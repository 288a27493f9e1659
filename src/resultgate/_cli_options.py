"""The command-line flags that say how to reach Prefect and its storage, shared by
`get`, `export` and `serve`, and the one place they become :class:`Settings`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from resultgate._config import Settings

__all__ = ["connection_options", "settings_from_flags"]

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(fn: F) -> F:
    """``--api-url``, ``--api-key``, ``--map`` (repeatable), ``--allow-root`` (repeatable), ``--timeout``."""
    options = [
        click.option(
            "--api-url",
            metavar="URL",
            help="Prefect API URL, e.g. http://127.0.0.1:4200/api "
            "(else PREFECT_API_URL or the active profile).",
        ),
        click.option(
            "--api-key",
            metavar="KEY",
            help="Prefect API key, sent as Bearer (prefer PREFECT_API_KEY: flags show in ps).",
        ),
        click.option(
            "--map",
            "maps",
            multiple=True,
            metavar="FROM=TO",
            help="Read a result written under FROM on the flow's machine from TO on this one "
            "(repeatable; also RESULTGATE_PATH_MAP).",
        ),
        click.option(
            "--allow-root",
            "roots",
            multiple=True,
            metavar="DIR",
            help="Also allow local reads under DIR (repeatable; also RESULTGATE_ALLOWED_ROOTS). "
            "The local Prefect storage folder and --map targets are always allowed.",
        ),
        click.option("--timeout", type=float, metavar="SECONDS", help="Timeout of each Prefect API call."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def settings_from_flags(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    maps: tuple[str, ...] = (),
    roots: tuple[str, ...] = (),
    timeout: float | None = None,
    **extra: Any,
) -> Settings:
    """Flags > environment > the active Prefect profile > defaults (read here, once)."""
    from resultgate._config import Settings

    overrides = flag_overrides(api_url=api_url, api_key=api_key, maps=maps, roots=roots, timeout=timeout)
    overrides.update({k: v for k, v in extra.items() if v is not None})
    return Settings.load(overrides, os.environ)


def flag_overrides(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    maps: tuple[str, ...] = (),
    roots: tuple[str, ...] = (),
    timeout: float | None = None,
) -> dict[str, Any]:
    """The settings overrides the connection flags stand for (only those given)."""
    overrides: dict[str, Any] = {}
    if api_url:
        overrides["api_url"] = api_url
    if api_key:
        overrides["api_key"] = api_key
    if maps:
        overrides["path_map"] = ";".join(maps)
    if roots:
        overrides["allowed_roots"] = os.pathsep.join(roots)
    if timeout is not None:
        overrides["timeout"] = timeout
    return overrides
