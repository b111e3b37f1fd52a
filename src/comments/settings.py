"""Settings in one place: environment variables with documented defaults.

Explicit arguments win over the environment; secrets come only from the
environment (never from options, so they stay out of shell history and logs).

| variable | default | meaning |
|---|---|---|
| REGULATIONS_GOV_API_KEY | (none) | one key, or several comma-separated |
| REGULATIONS_GOV_BASE_URL | https://api.regulations.gov/v4 | API root |
| REGULATIONS_GOV_RATE_LIMIT | 1000 | requests per hour per key |
| COMMENTS_DB | ./data/comments.duckdb | default database path |
| COMMENTS_ATTACHMENT_HOSTS | downloads.regulations.gov | hosts attachments may come from |
| COMMENTS_ATTACHMENT_MAX_BYTES | 52428800 (50 MB) | largest attachment downloaded |
| COMMENTS_ATTACHMENT_TIMEOUT | 120 | seconds one attachment download may take in all |
| COMMENTS_PREFECT | auto | run commands as Prefect flows: auto (when a Prefect API is configured), on, off |
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from comments.errors import ConfigError

DEFAULT_BASE_URL = "https://api.regulations.gov/v4"
DEFAULT_RATE_LIMIT = 1000
DEFAULT_DB = Path("data") / "comments.duckdb"
DEFAULT_ATTACHMENT_HOSTS = ("downloads.regulations.gov",)
DEFAULT_ATTACHMENT_MAX_BYTES = 50 * 1024 * 1024
# A total deadline per file, whatever the server does (one byte every few
# seconds never trips a per-read timeout): 50 MB, the size cap, at 0.42 MB/s.
DEFAULT_ATTACHMENT_TIMEOUT_S = 120.0
PREFECT_MODES = ("auto", "on", "off")
KEY_HELP = (
    "set REGULATIONS_GOV_API_KEY (one key, or several comma-separated); "
    "get a free key at https://open.gsa.gov/api/regulationsgov/"
)


def api_keys(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """The API keys from REGULATIONS_GOV_API_KEY, or a ConfigError saying where to get one."""
    env = os.environ if env is None else env
    raw = env.get("REGULATIONS_GOV_API_KEY", "")
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"no API key: {KEY_HELP}")
    return keys


def base_url(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("REGULATIONS_GOV_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def rate_limit_per_hour(env: dict[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    raw = env.get("REGULATIONS_GOV_RATE_LIMIT") or str(DEFAULT_RATE_LIMIT)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"REGULATIONS_GOV_RATE_LIMIT must be a number of requests per hour, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"REGULATIONS_GOV_RATE_LIMIT must be positive, got {raw!r}")
    return value


def db_path(explicit: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    return Path(env.get("COMMENTS_DB") or DEFAULT_DB)


def attachment_hosts(env: dict[str, str] | None = None) -> tuple[str, ...]:
    env = os.environ if env is None else env
    raw = env.get("COMMENTS_ATTACHMENT_HOSTS")
    if not raw:
        return DEFAULT_ATTACHMENT_HOSTS
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def attachment_max_bytes(env: dict[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = env.get("COMMENTS_ATTACHMENT_MAX_BYTES")
    if not raw:
        return DEFAULT_ATTACHMENT_MAX_BYTES
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"COMMENTS_ATTACHMENT_MAX_BYTES must be a whole number of bytes, got {raw!r}") from None


def attachment_timeout(env: dict[str, str] | None = None) -> float:
    """Seconds one attachment download may take from its first request to its last byte."""
    env = os.environ if env is None else env
    raw = env.get("COMMENTS_ATTACHMENT_TIMEOUT")
    if not raw:
        return DEFAULT_ATTACHMENT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"COMMENTS_ATTACHMENT_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def prefect_mode(env: dict[str, str] | None = None) -> str:
    """COMMENTS_PREFECT: `auto` (flows when a Prefect API is configured), `on` or `off`."""
    env = os.environ if env is None else env
    raw = (env.get("COMMENTS_PREFECT") or "auto").strip().lower()
    if raw not in PREFECT_MODES:
        raise ConfigError(f"COMMENTS_PREFECT must be one of {', '.join(PREFECT_MODES)}, got {raw!r}")
    return raw
