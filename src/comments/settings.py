"""Settings in one place: environment variables with documented defaults.

Explicit arguments win over the environment; secrets come only from the
environment (never from options, so they stay out of shell history and logs).

| variable | default | meaning |
|---|---|---|
| REGULATIONS_GOV_API_KEY | (none) | one key, or several comma-separated |
| REGULATIONS_GOV_BASE_URL | https://api.regulations.gov/v4 | API root |
| REGULATIONS_GOV_RATE_LIMIT | 1000 | requests per hour per key |
| REGULATIONS_GOV_RATE_WINDOW | 3600 | the rate limit's rolling window in seconds (an hour on regulations.gov; a stand-in may compress it) |
| COMMENTS_DB | ./data/comments.duckdb | default database path |
| COMMENTS_ATTACHMENT_HOSTS | downloads.regulations.gov | hosts attachments may come from |
| COMMENTS_ATTACHMENT_MAX_BYTES | 52428800 (50 MB) | largest attachment downloaded |
| COMMENTS_SYNC_CONCURRENCY | 8 | comment details in flight at once during a sync (1-64) |
| COMMENTS_ATTACHMENT_TIMEOUT | 120 | seconds one attachment download may take in all |
| COMMENTS_PREFECT | auto | run commands as Prefect flows: auto (when a Prefect API is configured), on, off |
| COMMENTS_DB_WAIT | 120 | seconds to wait while another process holds the database |
| COMMENTS_SHARED_LIMITS | auto | per-key rate limits and one writer per docket on the Prefect server: auto (when a Prefect API is configured), on, off |
| COMMENTS_WATCHLIST | ./watchlist.toml | the watchlist `comments track` and the planner deployment read |
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

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
    for n, key in enumerate(keys, start=1):
        # An HTTP header carries printable ASCII only; the key itself is never shown.
        if not _KEY_CHARS.fullmatch(key):
            which = f"key {n} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ConfigError(
                f"REGULATIONS_GOV_API_KEY: {which} holds a character no API key has (a space, a quote, "
                "a non-ASCII or control character): paste it again"
            )
    return keys


_KEY_CHARS = re.compile(r"[\x21-\x7e]+")


def base_url(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    url = (env.get("REGULATIONS_GOV_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable():
        raise ConfigError(
            f"REGULATIONS_GOV_BASE_URL must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url[:80]!r}"
        )
    return url


def rate_limit_per_hour(env: dict[str, str] | None = None) -> float:
    """The hourly budget per key before the API has said a key's own (see rate_limit_cap)."""
    return rate_limit_cap(env) or float(DEFAULT_RATE_LIMIT)


def rate_limit_cap(env: dict[str, str] | None = None) -> float | None:
    """REGULATIONS_GOV_RATE_LIMIT, or None when unset: the API's X-RateLimit-Limit then rules."""
    env = os.environ if env is None else env
    raw = env.get("REGULATIONS_GOV_RATE_LIMIT")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"REGULATIONS_GOV_RATE_LIMIT must be a number of requests per hour, got {raw[:40]!r}") from None
    if not math.isfinite(value) or value <= 0:  # nan, inf and 1e400 (= inf) parse as floats
        raise ConfigError(f"REGULATIONS_GOV_RATE_LIMIT must be a positive, finite number of requests per hour, got {raw[:40]!r}")
    return value


def rate_window(env: dict[str, str] | None = None) -> float:
    """REGULATIONS_GOV_RATE_WINDOW: seconds of the rolling window REGULATIONS_GOV_RATE_LIMIT counts in.

    An hour on regulations.gov. A stand-in server may count in a shorter
    window (`python -m comments.replay --rate-window`, the scale test), and the
    client must pace and rest its keys by the same window.
    """
    return _seconds("REGULATIONS_GOV_RATE_WINDOW", 3600.0, env)


def _seconds(name: str, default: float, env: dict[str, str] | None, *, zero: bool = False) -> float:
    """A setting that is a number of seconds: positive (or 0 when `zero`), finite; `default` when unset."""
    env = os.environ if env is None else env
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        what = "a number of seconds, not negative" if zero else "a positive number of seconds"
        raise ConfigError(f"{name} must be {what}, got {raw[:40]!r}")
    return value


def db_path(explicit: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    raw = explicit or env.get("COMMENTS_DB") or DEFAULT_DB
    if "\x00" in str(raw):
        source = "--db" if explicit else "COMMENTS_DB"
        raise ConfigError(f"{source} holds a NUL character: not a usable file name")
    return Path(raw)


def attachment_hosts(env: dict[str, str] | None = None) -> tuple[str, ...]:
    env = os.environ if env is None else env
    raw = env.get("COMMENTS_ATTACHMENT_HOSTS")
    if not raw:
        return DEFAULT_ATTACHMENT_HOSTS
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for host in hosts or ("",):
        if not _HOST.fullmatch(host):
            raise ConfigError(
                "COMMENTS_ATTACHMENT_HOSTS takes host names separated by commas "
                f"(e.g. {DEFAULT_ATTACHMENT_HOSTS[0]}), got {host[:80]!r}"
            )
    return hosts


# A DNS name, an IPv4 address, or an IPv6 address as urlsplit gives it (no brackets, no port).
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|[0-9a-f:.]*:[0-9a-f:.]*")


def attachment_max_bytes(env: dict[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = env.get("COMMENTS_ATTACHMENT_MAX_BYTES")
    if not raw:
        return DEFAULT_ATTACHMENT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"COMMENTS_ATTACHMENT_MAX_BYTES must be a whole number of bytes, got {raw[:40]!r}") from None
    if value <= 0:
        raise ConfigError(f"COMMENTS_ATTACHMENT_MAX_BYTES must be a positive number of bytes, got {raw[:40]!r}")
    return value


def attachment_timeout(env: dict[str, str] | None = None) -> float:
    """Seconds one attachment download may take from its first request to its last byte."""
    return _seconds("COMMENTS_ATTACHMENT_TIMEOUT", DEFAULT_ATTACHMENT_TIMEOUT_S, env)


def prefect_mode(env: dict[str, str] | None = None) -> str:
    """COMMENTS_PREFECT: `auto` (flows when a Prefect API is configured), `on` or `off`."""
    return _mode("COMMENTS_PREFECT", env)


def _mode(name: str, env: dict[str, str] | None) -> str:
    env = os.environ if env is None else env
    raw = (env.get(name) or "auto").strip().lower()
    if raw not in PREFECT_MODES:
        raise ConfigError(f"{name} must be one of {', '.join(PREFECT_MODES)}, got {raw!r}")
    return raw


DEFAULT_SYNC_CONCURRENCY = 8


def sync_concurrency(env: dict[str, str] | None = None) -> int:
    """COMMENTS_SYNC_CONCURRENCY: comment details in flight at once during a sync (1-64)."""
    env = os.environ if env is None else env
    raw = (env.get("COMMENTS_SYNC_CONCURRENCY") or "").strip()
    if not raw:
        return DEFAULT_SYNC_CONCURRENCY
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigError(f"COMMENTS_SYNC_CONCURRENCY must be a whole number from 1 to 64, got {raw!r}")
    return int(raw)


def check_all(env: dict[str, str] | None = None) -> None:
    """Every setting parsed once, so a malformed one is a one-line ConfigError before any
    flow starts (not a traceback from inside a run). A missing key is not an error here:
    only the commands that call the API need one, and they say so themselves."""
    env = os.environ if env is None else env
    if (env.get("REGULATIONS_GOV_API_KEY") or "").strip(", "):
        api_keys(env)
    base_url(env)
    rate_limit_per_hour(env)
    rate_window(env)
    db_path(env=env)
    attachment_hosts(env)
    attachment_max_bytes(env)
    sync_concurrency(env)
    attachment_timeout(env)
    prefect_mode(env)
    db_wait(env)
    shared_limits_mode(env)


DEFAULT_DB_WAIT_S = 120.0


def db_wait(env: dict[str, str] | None = None) -> float:
    """COMMENTS_DB_WAIT: seconds to wait while another process holds the database (default 120)."""
    return _seconds("COMMENTS_DB_WAIT", DEFAULT_DB_WAIT_S, env, zero=True)


def shared_limits_mode(env: dict[str, str] | None = None) -> str:
    """COMMENTS_SHARED_LIMITS: `auto` (on when a Prefect API is configured), `on` or `off`."""
    return _mode("COMMENTS_SHARED_LIMITS", env)
