"""Hostile states made real: states set through the real Prefect API whose data
points outside what resultgate may read. Each is refused and nothing is read."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import pytest

from resultgate import Refused, fetch_result
from resultgate._config import Settings
from support.hostile import Counter, metadata, new_flow_run, set_state

pytestmark = [pytest.mark.prefect]


@pytest.fixture(scope="module")
def api(prefect_server: Any) -> str:
    return str(prefect_server.api_url)


@pytest.fixture(scope="module")
def settings(prefect_server: Any) -> Settings:
    return Settings.load(
        None,
        {
            "PREFECT_API_URL": prefect_server.api_url,
            "RESULTGATE_LOCAL_STORAGE_PATH": str(prefect_server.storage_path),
            "HOME": os.environ.get("HOME", "/root"),
        },
    )


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened in this process while the test runs."""
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(os.fsdecode(file) if isinstance(file, (str, bytes, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(os.fsdecode(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


def test_a_state_pointing_at_etc_passwd_is_refused(api: str, settings: Settings, opened: list[str]) -> None:
    run = new_flow_run(api)
    state_id = set_state(api, run, metadata("/etc/passwd"))
    for id in (state_id, run):
        with pytest.raises(Refused) as info:
            fetch_result(id, settings=settings)
        assert "/etc/passwd" in str(info.value)
    assert not [p for p in opened if "passwd" in p]


def test_a_dotdot_escape_from_storage_is_refused(
    api: str, settings: Settings, prefect_server: Any, opened: list[str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    escape = str(prefect_server.storage_path) + "/.." * 12 + str(secret)
    state_id = set_state(api, new_flow_run(api), metadata(escape))
    with pytest.raises(Refused):
        fetch_result(state_id, settings=settings)
    assert not [p for p in opened if "secret.txt" in p]


def test_a_block_with_an_http_basepath_is_refused_and_never_contacted(
    api: str, settings: Settings, prefect_server: Any, listener: tuple[str, type[Counter]]
) -> None:
    url, counter = listener
    counter.hits = 0
    out = prefect_server.run_flow_script(
        f"""
        import json
        from prefect.filesystems import RemoteFileSystem
        block_id = RemoteFileSystem(basepath="{url}/results").save("rg-evil-http", overwrite=True)
        print(json.dumps({{"block_id": str(block_id)}}))
        """
    )
    state_id = set_state(api, new_flow_run(api), metadata("abc", out["block_id"]))
    with pytest.raises(Refused) as info:
        fetch_result(state_id, settings=settings)
    assert "http" in str(info.value)
    assert counter.hits == 0
