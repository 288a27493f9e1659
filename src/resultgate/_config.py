"""Settings, read once at the edge.

:meth:`Settings.load` is the only place that reads the environment or the Prefect
profile file. Precedence, highest first: ``overrides`` (command-line flags) >
environment > the active Prefect profile > defaults::

    settings = Settings.load({"api_url": "http://127.0.0.1:4200/api", "timeout": 5})
    settings.api_root, settings.scope      # ("http://127.0.0.1:4200/api", "")

Prefect's own names are honoured (``PREFECT_API_URL``, ``PREFECT_API_KEY``,
``PREFECT_API_AUTH_STRING``, ``PREFECT_PROFILE``, ``PREFECT_PROFILES_PATH``,
``PREFECT_HOME``, ``PREFECT_RESULTS_LOCAL_STORAGE_PATH``); resultgate's own are
``RESULTGATE_*`` (see :data:`ENV`). Override keys are the field names of
:class:`Settings`; a ``None`` override means "not given".
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from resultgate._errors import ConfigError
from resultgate._limits import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_PROTOCOLS", "ENV", "Settings", "parse_profiles", "split_api_url"]

MiB = 1024 * 1024
DEFAULT_PROTOCOLS = ("file", "s3", "gs", "gcs", "az", "abfs")
_NO_URL_HINT = (
    "set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api) or pass --api-url, "
    "or activate a Prefect profile that sets it"
)
#: field name -> the RESULTGATE_ environment variable that sets it
ENV: dict[str, str] = {
    "timeout": "RESULTGATE_TIMEOUT",
    "retries": "RESULTGATE_RETRIES",
    "path_map": "RESULTGATE_PATH_MAP",
    "allowed_roots": "RESULTGATE_ALLOWED_ROOTS",
    "allowed_protocols": "RESULTGATE_ALLOWED_PROTOCOLS",
    "allowed_remote": "RESULTGATE_ALLOWED_REMOTE",
    "storage_options": "RESULTGATE_STORAGE_OPTIONS",
    "result_wait": "RESULTGATE_RESULT_WAIT",
    "max_decompressed": "RESULTGATE_MAX_DECOMPRESSED",
    "local_storage_path": "RESULTGATE_LOCAL_STORAGE_PATH",
    "tokens": "RESULTGATE_TOKENS",
    "tokens_file": "RESULTGATE_TOKENS_FILE",
    "cors_origins": "RESULTGATE_CORS_ORIGINS",
    "cache_bytes": "RESULTGATE_CACHE_BYTES",
    "inline_limit": "RESULTGATE_INLINE_LIMIT",
    "max_upload": "RESULTGATE_MAX_UPLOAD",
}
#: field name -> the Prefect setting (environment, then profile) that sets it
_PREFECT: dict[str, str] = {
    "api_url": "PREFECT_API_URL",
    "api_key": "PREFECT_API_KEY",
    "auth_string": "PREFECT_API_AUTH_STRING",
}
_FLAG = {"api_url": "--api-url", "api_key": "--api-key", "auth_string": "--auth-string", "path_map": "--map"}
_SCOPE_RE = re.compile(r"^(?P<root>.*?)(?P<scope>/accounts/[^/]+/workspaces/[^/]+)$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    """Everything resultgate needs to know, typed and validated; secrets kept out of ``repr``."""

    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    auth_string: str | None = field(default=None, repr=False)
    #: seconds per HTTP call
    timeout: float = 10.0
    #: retries after the first attempt (connection errors, 429, 5xx)
    retries: int = 3
    #: ordered (from, to) prefix rewrites applied to storage locations
    path_map: tuple[tuple[str, str], ...] = ()
    allowed_roots: tuple[str, ...] = ()
    allowed_protocols: tuple[str, ...] = DEFAULT_PROTOCOLS
    #: remote URL prefixes ("s3://bucket") the HTTP service may read though block basepaths are not trusted
    allowed_remote: tuple[str, ...] = ()
    #: URL prefix (e.g. "s3://bucket") -> fsspec options
    storage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    #: seconds to keep retrying a result file that is not written yet
    result_wait: float = 2.5
    max_decompressed: int = DEFAULT_LIMITS.max_decompressed_bytes
    local_storage_path: str = str(Path("~/.prefect/storage").expanduser())
    prefect_home: str = str(Path("~/.prefect").expanduser())
    #: the active Prefect profile's name, if one was read
    profile: str | None = None
    tokens: tuple[str, ...] = field(default=(), repr=False)
    cors_origins: tuple[str, ...] = ()
    cache_bytes: int = 256 * MiB
    inline_limit: int = 1 * MiB
    max_upload: int = 64 * MiB

    # -- derived -----------------------------------------------------------------------
    def require_api_url(self) -> str:
        """The API URL, or :class:`ConfigError` saying how to set one."""
        if not self.api_url:
            raise ConfigError("no Prefect API URL is set", hint=_NO_URL_HINT)
        return self.api_url

    @property
    def api_root(self) -> str:
        """The API root without a Cloud workspace scope (``https://api.prefect.cloud/api``)."""
        return split_api_url(self.require_api_url())[0]

    @property
    def scope(self) -> str:
        """The Cloud ``/accounts/{a}/workspaces/{w}`` prefix, or ``""`` for a self-hosted server."""
        return split_api_url(self.require_api_url())[1]

    @property
    def auth_header(self) -> str | None:
        """``Authorization`` value: Basic auth string if set (Prefect >= 3.4.1), else Bearer key."""
        if self.auth_string:
            import base64

            return "Basic " + base64.b64encode(self.auth_string.encode()).decode("ascii")
        if self.api_key:
            return f"Bearer {self.api_key}"
        return None

    @property
    def limits(self) -> Limits:
        return Limits(max_decompressed_bytes=self.max_decompressed)

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from flags > environment > active Prefect profile > defaults."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        flags = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = set(flags) - {f.name for f in fields(cls)} - {"tokens_file"}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")

        home = _expand(env.get("PREFECT_HOME") or "~/.prefect")
        profile_name, profile = _active_profile(env, home, flags.get("profile"))
        values: dict[str, Any] = {"prefect_home": home, "profile": profile_name}

        def pick(name: str, *env_names: str) -> tuple[Any, str] | None:
            if name in flags:
                return flags[name], _FLAG.get(name, name)
            for var in env_names:
                if env.get(var):
                    return env[var], var
            for var in env_names:
                if var.startswith("PREFECT_") and profile.get(var):
                    return profile[var], f"{var} (profile {profile_name!r})"
            return None

        for name, var in _PREFECT.items():
            got = pick(name, var)
            if got is not None:
                values[name] = _text(*got)
        # Prefect (>= 3.4.1) sends the auth string when both are set; an explicit --api-key
        # flag still beats an auth string that only the environment or profile supplied
        if "api_key" in flags and "auth_string" not in flags:
            values.pop("auth_string", None)
        if values.get("api_url"):
            values["api_url"] = _check_url(values["api_url"], pick("api_url", "PREFECT_API_URL"))

        parsers: dict[str, Callable[[Any, str], Any]] = {
            "timeout": lambda v, s: _number(v, s, float, minimum=0.001),
            "retries": lambda v, s: _number(v, s, int, minimum=0, maximum=20),
            "path_map": _path_map,
            "allowed_roots": lambda v, s: tuple(_expand(p) for p in _split(v, s, os.pathsep)),
            "allowed_protocols": lambda v, s: tuple(p.lower() for p in _split(v, s, ",")),
            "allowed_remote": lambda v, s: tuple(_split(v, s, ",")),
            "storage_options": _storage_options,
            "result_wait": lambda v, s: _number(v, s, float, minimum=0),
            "max_decompressed": _size,
            "cors_origins": lambda v, s: tuple(_split(v, s, ",")),
            "cache_bytes": lambda v, s: _size(v, s, minimum=0),  # 0 turns the cache off
            "inline_limit": _size,
            "max_upload": _size,
        }
        for name, parse in parsers.items():
            got = pick(name, ENV[name])
            if got is not None:
                values[name] = parse(*got)

        got = pick(
            "local_storage_path",
            ENV["local_storage_path"],
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH",
            "PREFECT_LOCAL_STORAGE_PATH",
        )
        values["local_storage_path"] = _expand(_text(*got)) if got else str(Path(home) / "storage")

        tokens: list[str] = []
        got = pick("tokens", ENV["tokens"])
        if got is not None:
            tokens += _split(*got, ",")
        got = pick("tokens_file", ENV["tokens_file"])
        if got is not None:
            tokens += _tokens_file(*got)
        if tokens:
            values["tokens"] = tuple(dict.fromkeys(tokens))
        return cls(**values)


# -- API URL ---------------------------------------------------------------------------
def split_api_url(url: str) -> tuple[str, str]:
    """``(api_root, scope)``: Cloud's ``/accounts/A/workspaces/W`` suffix split off the root.

    >>> split_api_url("https://api.prefect.cloud/api/accounts/A/workspaces/W")
    ('https://api.prefect.cloud/api', '/accounts/A/workspaces/W')
    >>> split_api_url("http://127.0.0.1:4200/api/")
    ('http://127.0.0.1:4200/api', '')
    """
    url = url.rstrip("/")
    m = _SCOPE_RE.match(url)
    if m:
        return m["root"], m["scope"]
    return url, ""


def _check_url(url: str, got: tuple[Any, str] | None) -> str:
    source = got[1] if got else "PREFECT_API_URL"
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(
            f"{source} is not an http(s) URL: {url!r}",
            hint="it should look like http://127.0.0.1:4200/api",
        )
    return url.rstrip("/")


# -- value parsers (each names its source on error) ------------------------------------
def _text(value: Any, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source} must be a string, got {type(value).__name__}")
    return value.strip()


def _expand(path: str) -> str:
    return str(Path(os.path.expandvars(path)).expanduser())


def _number(
    value: Any, source: str, kind: type[int] | type[float], *, minimum: float, maximum: float | None = None
) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source} must be a number, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{source} must be {bound}, got {value!r}")
    return number


def _size(value: Any, source: str, minimum: int = 1) -> int:
    """Bytes: an int, or text like ``"64MiB"``, ``"1.5 GB"``, ``"4096"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = float(value)
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise ConfigError(f"{source} must be a size in bytes (e.g. 1048576 or 64MiB), got {value!r}")
        unit = (m[2] or "").lower()
        base = 1024 if "i" in unit else 1000
        scale = base ** "bkmgt".index(unit[0]) if unit and unit[0] != "b" else 1
        number = float(m[1]) * scale
    if number < minimum:
        raise ConfigError(f"{source} must be at least {minimum} byte(s), got {value!r}")
    return int(number)


def _split(value: Any, source: str, sep: str) -> list[str]:
    items = list(value) if isinstance(value, (list, tuple)) else _text(value, source).split(sep)
    return [_text(i, source) for i in items if str(i).strip()]


def _path_map(value: Any, source: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = []
        for item in _split(value, source, ";"):
            if isinstance(item, str) and "=" in item:
                src, _, dst = item.partition("=")
                pairs.append((src.strip(), dst.strip()))
            else:
                raise ConfigError(f"{source}: {item!r} is not FROM=TO", hint="e.g. /home/alice=/mnt/alice")
    for src, dst in pairs:
        if not src or not dst:
            raise ConfigError(f"{source}: {src}={dst} needs both FROM and TO")
    return tuple(pairs)


def _storage_options(value: Any, source: str) -> dict[str, dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()
    ):
        raise ConfigError(
            f"{source} must be a JSON object of objects",
            hint='e.g. {"s3://bucket": {"endpoint_url": "http://127.0.0.1:9000"}}',
        )
    return {k: dict(v) for k, v in value.items()}


def _tokens_file(value: Any, source: str) -> list[str]:
    path = _expand(_text(value, source))
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read {path}: {exc.strerror}") from None
    tokens = [
        line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    if not tokens:
        # failing open here would turn token checks off without a word
        raise ConfigError(
            f"{source}: {path} holds no token",
            hint="put one token per line, or unset the variable to forward callers' credentials to Prefect",
        )
    return tokens


# -- Prefect profiles ------------------------------------------------------------------
#: Prefect's built-in profiles (3.x template; 2.x has "default"): usable without being in the file
_BUILTIN_PROFILES: dict[str, dict[str, str]] = {
    "default": {},
    "ephemeral": {},
    "local": {"PREFECT_API_URL": "http://127.0.0.1:4200/api"},
    "test": {},
    "cloud": {},
}


def _active_profile(env: Mapping[str, str], home: str, flag: Any) -> tuple[str | None, dict[str, str]]:
    path = Path(_expand(env.get("PREFECT_PROFILES_PATH") or str(Path(home) / "profiles.toml")))
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise ConfigError(f"cannot read the Prefect profiles file {path}: {exc.strerror}") from None
    active, profiles = parse_profiles(text, str(path)) if text is not None else (None, {})
    chosen = flag or env.get("PREFECT_PROFILE")
    name = str(chosen or active or "")
    if not name:
        return None, {}
    if name not in profiles and name not in _BUILTIN_PROFILES and chosen:
        source = "--profile" if flag else "PREFECT_PROFILE"
        known = ", ".join(sorted(set(profiles) | set(_BUILTIN_PROFILES)))
        raise ConfigError(f"{source} names profile {name!r}, which {path} does not define (known: {known})")
    return name, {**_BUILTIN_PROFILES.get(name, {}), **profiles.get(name, {})}


def parse_profiles(text: str, where: str = "profiles.toml") -> tuple[str | None, dict[str, dict[str, str]]]:
    """``(active, {name: {SETTING: value}})`` from a Prefect ``profiles.toml``.

    Uses :mod:`tomllib` where it exists (3.11+), else :func:`_parse_simple_toml`.
    """
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            doc: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the Prefect profiles file {where} is not valid TOML: {exc}") from None
    else:  # pragma: no cover - exercised on 3.10 and by calling the fallback directly
        doc = _parse_simple_toml(text, where)
    return _profiles_from_doc(doc, where)


def _profiles_from_doc(doc: Mapping[str, Any], where: str) -> tuple[str | None, dict[str, dict[str, str]]]:
    active = doc.get("active")
    if active is not None and not isinstance(active, str):
        raise ConfigError(f"{where}: 'active' must be a string")
    raw = doc.get("profiles") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'profiles' must be a table")
    profiles: dict[str, dict[str, str]] = {}
    for name, settings in raw.items():
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{where}: profile {name!r} must be a table")
        profiles[str(name)] = {
            str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in settings.items() if v is not None
        }
    return active, profiles


_HEADER_RE = re.compile(r'^\[\s*profiles\.(?:"([^"]+)"|\'([^\']+)\'|([A-Za-z0-9_-]+))\s*\]\s*(?:#.*)?$')
_KEY_RE = re.compile(r"^([A-Za-z0-9_-]+)\s*=\s*(.+)$")


def _parse_simple_toml(text: str, where: str = "profiles.toml") -> dict[str, Any]:
    """The subset of TOML a ``profiles.toml`` uses (for Python 3.10, which has no tomllib).

    ``active = "x"``, ``[profiles.x]`` (bare or quoted name), ``KEY = "value"`` with basic
    or literal strings, booleans and numbers, ``#`` comments. Anything else is a ConfigError.
    """
    doc: dict[str, Any] = {}
    profiles: dict[str, dict[str, Any]] = {}
    table: dict[str, Any] | None = doc
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            m = _HEADER_RE.match(line)
            if m:
                name = m[1] or m[2] or m[3]
                table = profiles.setdefault(name, {})
                continue
            if re.match(r"^\[\s*profiles\s*\]\s*(?:#.*)?$", line):
                table = None
                continue
            raise ConfigError(f"{where}:{lineno}: unsupported table {line!r}")
        m = _KEY_RE.match(line)
        if not m or table is None:
            raise ConfigError(f"{where}:{lineno}: cannot parse {line!r}")
        table[m[1]] = _simple_value(m[2].strip(), where, lineno)
    if profiles:
        doc["profiles"] = profiles
    return doc


def _simple_value(text: str, where: str, lineno: int) -> Any:
    if text.startswith('"'):
        end = 1
        while end < len(text):
            if text[end] == "\\":
                end += 2
                continue
            if text[end] == '"':
                break
            end += 1
        rest = text[end + 1 :].strip()
        if end >= len(text) or (rest and not rest.startswith("#")):
            raise ConfigError(f"{where}:{lineno}: bad string {text!r}")
        try:
            return json.loads(text[: end + 1])
        except ValueError:
            raise ConfigError(f"{where}:{lineno}: bad string {text!r}") from None
    if text.startswith("'"):
        end = text.find("'", 1)
        rest = text[end + 1 :].strip() if end > 0 else "x"
        if end < 0 or (rest and not rest.startswith("#")):
            raise ConfigError(f"{where}:{lineno}: bad string {text!r}")
        return text[1:end]
    bare = text.split("#", 1)[0].strip()
    if bare in ("true", "false"):
        return bare == "true"
    try:
        return int(bare)
    except ValueError:
        pass
    try:
        return float(bare)
    except ValueError:
        raise ConfigError(f"{where}:{lineno}: unsupported value {text!r}") from None
