"""Settings.load: precedence, the Prefect profile file, the Cloud URL split, auth, secrets."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from resultgate._config import DEFAULT_PROTOCOLS, Settings, _parse_simple_toml, parse_profiles, split_api_url
from resultgate._errors import ConfigError
from resultgate._limits import Limits

PROFILES = """\
# Prefect profiles
active = "local"

[profiles.local]
PREFECT_API_URL = "http://127.0.0.1:4200/api"
PREFECT_API_KEY = "profile-key"
PREFECT_RESULTS_LOCAL_STORAGE_PATH = "/srv/results"

[profiles.cloud]
PREFECT_API_URL = "https://api.prefect.cloud/api/accounts/A1/workspaces/W1"  # a comment
PREFECT_API_KEY = 'pnu_literal'

[profiles."with space"]
PREFECT_API_URL = "http://other:4200/api"
PREFECT_SERVER_ANALYTICS_ENABLED = false
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "profiles.toml").write_text(PROFILES)
    return tmp_path


def test_defaults_without_anything(tmp_path: Path) -> None:
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path)})
    assert s.api_url is None
    assert s.timeout == 10.0
    assert s.retries == 3
    assert s.result_wait == 2.5
    assert s.allowed_protocols == DEFAULT_PROTOCOLS
    assert s.cache_bytes == 256 * 1024 * 1024
    assert s.inline_limit == 1024 * 1024
    assert s.max_upload == 64 * 1024 * 1024
    assert s.local_storage_path == str(tmp_path / "storage")
    assert s.profile is None
    assert s.auth_header is None
    assert s.limits == Limits()


def test_missing_api_url_is_lazy() -> None:
    s = Settings.load(environ={"PREFECT_PROFILES_PATH": "/nonexistent/profiles.toml"})
    with pytest.raises(ConfigError) as info:
        s.require_api_url()
    assert info.value.message == "no Prefect API URL is set"
    assert info.value.hint is not None
    assert "PREFECT_API_URL" in info.value.hint
    assert "--api-url" in info.value.hint
    with pytest.raises(ConfigError):
        _ = s.api_root


def test_precedence_flags_env_profile_default(home: Path) -> None:
    env = {"PREFECT_HOME": str(home)}
    s = Settings.load(environ=env)
    assert s.profile == "local"
    assert s.api_url == "http://127.0.0.1:4200/api"
    assert s.api_key == "profile-key"
    assert s.local_storage_path == "/srv/results"

    env["PREFECT_API_URL"] = "http://env-host:4200/api/"
    s = Settings.load(environ=env)
    assert s.api_url == "http://env-host:4200/api"  # trailing slash dropped
    assert s.api_key == "profile-key"  # still from the profile

    s = Settings.load({"api_url": "http://flag-host:1/api", "api_key": None}, environ=env)
    assert s.api_url == "http://flag-host:1/api"
    assert s.api_key == "profile-key"  # a None override means "not given"


def test_prefect_profile_env_overrides_active(home: Path) -> None:
    s = Settings.load(environ={"PREFECT_HOME": str(home), "PREFECT_PROFILE": "cloud"})
    assert s.profile == "cloud"
    assert s.api_root == "https://api.prefect.cloud/api"
    assert s.scope == "/accounts/A1/workspaces/W1"
    assert s.auth_header == "Bearer pnu_literal"
    s = Settings.load({"profile": "with space"}, environ={"PREFECT_HOME": str(home)})
    assert s.api_url == "http://other:4200/api"


def test_unknown_profile_named_explicitly(home: Path) -> None:
    with pytest.raises(ConfigError, match="PREFECT_PROFILE names profile 'nope'"):
        Settings.load(environ={"PREFECT_HOME": str(home), "PREFECT_PROFILE": "nope"})


def test_profiles_path_variable(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://x:1/api"\n')
    s = Settings.load(environ={"PREFECT_PROFILES_PATH": str(path), "PREFECT_HOME": "/nonexistent"})
    assert s.api_url == "http://x:1/api"


def test_bad_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("active = [unclosed\n")
    with pytest.raises(ConfigError, match=r"p\.toml"):
        Settings.load(environ={"PREFECT_PROFILES_PATH": str(path)})


def test_simple_parser_matches_tomllib() -> None:
    assert _parse_simple_toml(PROFILES) == {
        "active": "local",
        "profiles": {
            "local": {
                "PREFECT_API_URL": "http://127.0.0.1:4200/api",
                "PREFECT_API_KEY": "profile-key",
                "PREFECT_RESULTS_LOCAL_STORAGE_PATH": "/srv/results",
            },
            "cloud": {
                "PREFECT_API_URL": "https://api.prefect.cloud/api/accounts/A1/workspaces/W1",
                "PREFECT_API_KEY": "pnu_literal",
            },
            "with space": {
                "PREFECT_API_URL": "http://other:4200/api",
                "PREFECT_SERVER_ANALYTICS_ENABLED": False,
            },
        },
    }
    if sys.version_info >= (3, 11):
        import tomllib

        assert _parse_simple_toml(PROFILES) == tomllib.loads(PROFILES)
    assert _parse_simple_toml('[profiles]\n[profiles.a]\nK = "a\\"b#c" # x\nN = 3\n') == {
        "profiles": {"a": {"K": 'a"b#c', "N": 3}}
    }


@pytest.mark.parametrize(
    "text",
    ["[tool.x]\n", "nonsense\n", 'K = "unterminated\n', "K = 'x' y\n", "K = [1]\n", "[profiles]\nK = 1\n"],
)
def test_simple_parser_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        _parse_simple_toml(text, "p.toml")


def test_parse_profiles_non_string_values() -> None:
    active, profiles = parse_profiles(PROFILES)
    assert active == "local"
    assert profiles["with space"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


@pytest.mark.parametrize(
    ("url", "root", "scope"),
    [
        (
            "https://api.prefect.cloud/api/accounts/A/workspaces/W",
            "https://api.prefect.cloud/api",
            "/accounts/A/workspaces/W",
        ),
        (
            "https://api.prefect.cloud/api/accounts/A/workspaces/W/",
            "https://api.prefect.cloud/api",
            "/accounts/A/workspaces/W",
        ),
        ("http://host:4200/api", "http://host:4200/api", ""),
        ("http://host:4200/prefix/api/", "http://host:4200/prefix/api", ""),
    ],
)
def test_split_api_url(url: str, root: str, scope: str) -> None:
    assert split_api_url(url) == (root, scope)
    s = Settings(api_url=url.rstrip("/"))
    assert (s.api_root, s.scope) == (root, scope)


def test_auth_precedence() -> None:
    basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    both = Settings.load(
        environ={
            "PREFECT_API_KEY": "pnu_key",
            "PREFECT_API_AUTH_STRING": "admin:s3cret",
            "PREFECT_HOME": "/x",
        }
    )
    assert both.auth_header == basic  # like Prefect >= 3.4.1
    assert Settings(api_key="pnu_key").auth_header == "Bearer pnu_key"
    assert Settings(auth_string="admin:s3cret").auth_header == basic


def test_secrets_never_in_repr(home: Path) -> None:
    s = Settings.load(
        {"tokens": "tok-one,tok-two", "storage_options": {"s3://b": {"secret": "aws-secret-value"}}},
        environ={"PREFECT_HOME": str(home), "PREFECT_API_AUTH_STRING": "admin:hunter2-pass"},
    )
    text = repr(s) + str(s)
    for secret in ("profile-key", "hunter2-pass", "tok-one", "aws-secret-value", "Bearer", "Basic"):
        assert secret not in text
    assert "127.0.0.1:4200" in text


def test_resultgate_env_values(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# comment\nfile-token\n\ntok-b\n")
    env = {
        "PREFECT_HOME": str(tmp_path),
        "RESULTGATE_TIMEOUT": "2.5",
        "RESULTGATE_RETRIES": "0",
        "RESULTGATE_PATH_MAP": "/home/alice=/mnt/alice; /srv=/data",
        "RESULTGATE_ALLOWED_ROOTS": f"/a{__import__('os').pathsep}~/b",
        "RESULTGATE_ALLOWED_PROTOCOLS": "file, S3",
        "RESULTGATE_STORAGE_OPTIONS": '{"s3://bucket": {"endpoint_url": "http://127.0.0.1:9000"}}',
        "RESULTGATE_RESULT_WAIT": "0",
        "RESULTGATE_MAX_DECOMPRESSED": "64MiB",
        "RESULTGATE_LOCAL_STORAGE_PATH": "~/st",
        "RESULTGATE_TOKENS": "tok-a,tok-b",
        "RESULTGATE_TOKENS_FILE": str(tokens),
        "RESULTGATE_CORS_ORIGINS": "http://a.example,http://b.example",
        "RESULTGATE_CACHE_BYTES": "1GB",
        "RESULTGATE_INLINE_LIMIT": "4096",
        "RESULTGATE_MAX_UPLOAD": "1.5 KiB",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": "/ignored/because/resultgate/wins",
    }
    s = Settings.load(environ=env)
    assert s.timeout == 2.5
    assert s.retries == 0
    assert s.path_map == (("/home/alice", "/mnt/alice"), ("/srv", "/data"))
    assert s.allowed_roots == ("/a", str(Path("~/b").expanduser()))
    assert s.allowed_protocols == ("file", "s3")
    assert s.storage_options == {"s3://bucket": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert s.result_wait == 0
    assert s.max_decompressed == 64 * 1024 * 1024
    assert s.limits.max_decompressed_bytes == 64 * 1024 * 1024
    assert s.local_storage_path == str(Path("~/st").expanduser())
    assert s.tokens == ("tok-a", "tok-b", "file-token")
    assert s.cors_origins == ("http://a.example", "http://b.example")
    assert s.cache_bytes == 1_000_000_000
    assert s.inline_limit == 4096
    assert s.max_upload == 1536

    # flags replace the environment's value, --map included
    s = Settings.load({"path_map": ["/x=/y"], "timeout": 1, "retries": 5}, environ=env)
    assert s.path_map == (("/x", "/y"),)
    assert (s.timeout, s.retries) == (1.0, 5)


def test_local_storage_path_fallbacks(tmp_path: Path) -> None:
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path), "PREFECT_LOCAL_STORAGE_PATH": "/old/name"})
    assert s.local_storage_path == "/old/name"
    s = Settings.load(
        environ={
            "PREFECT_HOME": str(tmp_path),
            "PREFECT_LOCAL_STORAGE_PATH": "/old/name",
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": "/new/name",
        }
    )
    assert s.local_storage_path == "/new/name"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("RESULTGATE_TIMEOUT", "soon"),
        ("RESULTGATE_TIMEOUT", "0"),
        ("RESULTGATE_RETRIES", "-1"),
        ("RESULTGATE_RETRIES", "1.5"),
        ("RESULTGATE_PATH_MAP", "no-equals-sign"),
        ("RESULTGATE_PATH_MAP", "=/to"),
        ("RESULTGATE_STORAGE_OPTIONS", "{not json"),
        ("RESULTGATE_STORAGE_OPTIONS", '{"s3://b": 1}'),
        ("RESULTGATE_RESULT_WAIT", "-2"),
        ("RESULTGATE_MAX_DECOMPRESSED", "lots"),
        ("RESULTGATE_MAX_DECOMPRESSED", "0"),
        ("RESULTGATE_CACHE_BYTES", "12 parsecs"),
        ("RESULTGATE_TOKENS_FILE", "/nonexistent/tokens"),
        ("PREFECT_API_URL", "127.0.0.1:4200/api"),
        ("PREFECT_API_URL", "ftp://host/api"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={var: value, "PREFECT_HOME": "/nonexistent"})
    assert var in str(info.value)


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--api-url"):
        Settings.load({"api_url": "nope"}, environ={})
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load({"colour": "red"}, environ={})


def test_load_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_API_URL", "http://from-os-environ:4200/api")
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    assert Settings.load().api_url == "http://from-os-environ:4200/api"


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.timeout = 3  # type: ignore[misc]


def test_builtin_profiles(tmp_path: Path) -> None:
    # `local` is Prefect's built-in profile pointing at a local server, even when the file lacks it
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "local"})
    assert (s.profile, s.api_url) == ("local", "http://127.0.0.1:4200/api")
    (tmp_path / "profiles.toml").write_text(
        'active = "ephemeral"\n[profiles.mine]\nPREFECT_API_URL = "http://m:1/api"\n'
    )
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path)})
    assert (s.profile, s.api_url) == ("ephemeral", None)
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "local"})
    assert s.api_url == "http://127.0.0.1:4200/api"
    (tmp_path / "profiles.toml").write_text(
        '[profiles.local]\nPREFECT_API_URL = "http://10.0.0.1:4200/api"\n'
    )
    s = Settings.load(environ={"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "local"})
    assert s.api_url == "http://10.0.0.1:4200/api"  # the user's file wins over the built-in


def test_api_key_flag_beats_an_auth_string_from_below() -> None:
    env = {"PREFECT_API_AUTH_STRING": "admin:pw", "PREFECT_HOME": "/nonexistent"}
    assert Settings.load({"api_key": "flag-key"}, environ=env).auth_header == "Bearer flag-key"
    both = Settings.load({"api_key": "flag-key", "auth_string": "u:p"}, environ=env)
    assert both.auth_header == "Basic " + base64.b64encode(b"u:p").decode()


def test_an_empty_tokens_file_refuses_to_start(tmp_path: Path) -> None:
    empty = tmp_path / "tokens"
    empty.write_text("# no tokens yet\n\n")
    with pytest.raises(ConfigError, match="holds no token"):
        Settings.load(None, {"RESULTGATE_TOKENS_FILE": str(empty)})


def test_a_zero_cache_size_turns_the_cache_off() -> None:
    assert Settings.load(None, {"RESULTGATE_CACHE_BYTES": "0"}).cache_bytes == 0
    with pytest.raises(ConfigError):
        Settings.load(None, {"RESULTGATE_MAX_UPLOAD": "0"})
