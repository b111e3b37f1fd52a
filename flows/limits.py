"""Limits every process that talks to one Prefect server shares: API keys, downloads, one writer per docket.

- **Per API key**: a global concurrency limit used as a rate limit,
  `regs-key-<key_id>` (`comments.client.key_id`: a truncated SHA-256, never the
  key). The client calls `key_pacer()` with a key's id before every request it
  sends with it (retries included), and `rate_limit(name, strict=True)` blocks
  until the key may send. With limit C and slots decaying at d per second, any
  window of T seconds holds at most C + d*T acquisitions, so
  d = (budget - C) / (window + slack) keeps every rolling window under the key's
  budget even for a request that reaches the API `slack` seconds after its
  slot was taken (`rate_limit_settings`). The client's own pacing and its
  `X-RateLimit-Remaining`/429 handling stay on as a second guard.
- **Downloads**: `regs-downloads`, a rate limit shared by every attachment
  download of every worker (`download_pacer()`).
- **One writer per docket**: `docket-<DOCKET_ID>`, a limit of 1 held around
  sync, attachments, analysis and the changes step (`docket_lock`). A run that
  dies holding it loses it when its lease lapses (60 s without renewal).

`strict=True` everywhere: Prefect skips a missing limit silently otherwise, and
a missing key limit would let every worker spend the key at its own pace. Key
and download limits are made by `comments keys setup` (`setup_limits`); docket
limits are made on first use.

All of this is on when a Prefect API is configured (PREFECT_API_URL in the
environment, ./prefect.toml or the Prefect profile: a server the workers
share; the same rule as COMMENTS_PREFECT's `auto`, `comments.commands.runner`)
and off otherwise: the throwaway local server a command starts for itself
(flows/local_api.py) serves no one else, so it turns them off for its
process and children. The deployments in prefect.yaml set
COMMENTS_SHARED_LIMITS=on for their runs. COMMENTS_SHARED_LIMITS=on|off
overrides the detection.

The pacers are small classes, not closures: the download pacer travels to
Dask workers with the extraction batches (pickled by reference).
"""

from __future__ import annotations

import contextvars
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import flows  # noqa: F401  (quiet Prefect defaults before Prefect loads)
from comments import settings
from comments.errors import ConfigError

KEY_LIMIT_PREFIX = "regs-key-"
DOWNLOAD_LIMIT = "regs-downloads"
DOCKET_LIMIT_PREFIX = "docket-"
DOCKET_LEASE_S = 60  # Prefect's shortest lease: a dead holder's slot frees within about a minute
DEFAULT_SLACK_S = 5.0  # a request may reach the API this long after its slot was taken
DEFAULT_DOWNLOADS_PER_SECOND = 4.0  # one download every 0.25 s across all workers (the old per-process pace)

SETUP_HINT = "run `comments keys setup` (with REGULATIONS_GOV_API_KEY set) against this Prefect server"


def enabled(env: dict[str, str] | None = None) -> bool:
    """On when a Prefect API is configured (see the module doc); COMMENTS_SHARED_LIMITS=on|off overrides."""
    mode = settings.shared_limits_mode(env)
    if mode != "auto":
        return mode == "on"
    if env is not None:
        return bool(env.get("PREFECT_API_URL"))
    from comments.commands.runner import prefect_api_url

    return prefect_api_url() is not None


# --------------------------------------------------------------------------- rate limits


def key_limit_name(key_id: str) -> str:
    return f"{KEY_LIMIT_PREFIX}{key_id}"


def rate_limit_settings(
    budget: float, window_s: float = 3600.0, *, burst: int | None = None, slack_s: float = DEFAULT_SLACK_S,
) -> tuple[int, float]:
    """(limit, slot decay per second) so that no `window_s` window holds more than `budget` requests.

    Acquisitions in any window of T seconds are at most limit + decay*T; with a
    request arriving up to `slack_s` after its slot was taken, requests in a
    window come from acquisitions in T + slack_s seconds. The burst (the
    limit) defaults to 1% of the budget, at least 1 and at most 10.
    """
    if budget < 2:
        raise ConfigError(f"a key's budget must be at least 2 requests per window, got {budget:g}")
    if window_s <= 0:
        raise ConfigError(f"the budget's window must be positive, got {window_s:g} s")
    if burst is None:
        burst = max(1, min(10, math.floor(budget * 0.01)))
    if not 1 <= burst < budget:
        raise ConfigError(f"the burst must be from 1 to {budget - 1:g}, got {burst}")
    decay = (budget - burst) / (window_s + slack_s)
    return burst, decay


def _translated(acquire: Callable[[], None], what: str) -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    try:
        acquire()
    except ConcurrencySlotAcquisitionError as exc:
        if "must be created" in str(exc):
            raise ConfigError(f"no Prefect limit for {what}: {SETUP_HINT}") from None
        raise


class KeyPacer:
    """The client's pacer: one slot of the key's shared rate limit per request, taken strictly.

    Slots are taken several at a time (`chunk`, at most half the limit's
    burst) and handed to this process's requests; a slot not used within
    `HOLD_S` of being taken is dropped, never saved for later. The budget
    still holds: a request leaves at most HOLD_S after its slot was taken,
    inside the limit's slack (`rate_limit_settings`; `comments keys setup
    --slack`, 5 s by default).

    The slots are asked for with the Prefect API's own increment call, and
    retried here, in a way that keeps up with a busy server: Prefect's
    `rate_limit` waits the Retry-After the server sends, which grows with
    every request denied meanwhile, and its HTTP client answers the 503 a
    SQLite-backed server gives when its file is locked (3% of increments
    with three workers) with a 2, 4 then 8 s back-off. Together they held
    three workers on two keys at 10-15 requests/s against a limit of 80.
    Here a denied request waits the time `chunk` slots take to come back,
    a 503 a tenth of a second, both with jitter (docs/scale.md). A limit
    that does not exist is an error, as `rate_limit(strict=True)` makes it.
    """

    CHUNK = 4
    HOLD_S = 0.5

    def __init__(self, chunk: int = CHUNK, hold_s: float = HOLD_S) -> None:
        self.chunk, self.hold_s = chunk, hold_s
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._held: dict[str, tuple[int, float]] = {}   # key id -> (slots in hand, usable until)
        self._limits: dict[str, tuple[int, float]] = {}  # key id -> (slots per call, slot decay per second)
        self._client = None

    def __call__(self, key_id: str) -> None:
        with self._lock:
            key_lock = self._key_locks.setdefault(key_id, threading.Lock())
        with key_lock:  # one call to the server per key at a time; the other threads take its slots
            n, until = self._held.get(key_id, (0, 0.0))
            if n > 0 and time.monotonic() < until:
                self._held[key_id] = (n - 1, until)
                return
            size = self._take(key_id)
            self._held[key_id] = (size - 1, time.monotonic() + self.hold_s)

    def _take(self, key_id: str) -> int:
        """Block until `size` slots of the key's limit are ours; returns `size`."""
        from prefect.exceptions import ObjectNotFound

        name = key_limit_name(key_id)
        client = self._prefect()
        if key_id not in self._limits:
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                raise ConfigError(f"no Prefect limit for API key {key_id} ({name}): {SETUP_HINT}") from None
            # never the whole burst: taking it needs an empty bucket, and the other processes starve
            self._limits[key_id] = (max(1, min(self.chunk, limit.limit // 2)), limit.slot_decay_per_second or 1.0)
        size, decay = self._limits[key_id]
        while True:
            response = self._increment(client, name, size)
            if response.status_code == 423:  # not yet: about when `size` slots are back
                time.sleep(size / decay * random.uniform(0.5, 1.5))
                continue
            if response.status_code == 503:  # the server's database was busy: ask again shortly
                time.sleep(random.uniform(0.05, 0.15))
                continue
            response.raise_for_status()
            if not any(limit.get("name") == name for limit in response.json()):  # deleted since we read it
                self._limits.pop(key_id, None)
                raise ConfigError(f"no Prefect limit for API key {key_id} ({name}): {SETUP_HINT}")
            return size

    def _increment(self, client, name: str, size: int):
        """One increment request, without the Prefect client's own retries (see the class doc)."""
        import httpx

        http = client._client  # the Prefect client's HTTP client: its base URL, headers and auth
        request = http.build_request("POST", "/v2/concurrency_limits/increment",
                                     json={"names": [name], "slots": size, "mode": "rate_limit"})
        try:
            return httpx.Client.send(http, request)  # httpx's send, not Prefect's retrying override
        except (httpx.TransportError, OSError):
            return httpx.Response(503)  # a dropped connection: ask again, as for a busy server

    def _prefect(self):
        with self._lock:
            if self._client is None:
                from prefect.client.orchestration import get_client

                self._client = get_client(sync_client=True)
                self._client.__enter__()
            return self._client


class DownloadPacer:
    """Called before every attachment download request: one slot of the shared download limit."""

    def __call__(self) -> None:
        from prefect.concurrency.sync import rate_limit

        _translated(lambda: rate_limit(DOWNLOAD_LIMIT, occupy=1, strict=True), f"downloads ({DOWNLOAD_LIMIT})")


def key_pacer() -> Callable[[str], None] | None:
    """A `KeyPacer` when shared limits are on, else None (the client paces itself only)."""
    return KeyPacer() if enabled() else None


def download_pacer() -> Callable[[], None] | None:
    """A `DownloadPacer` when shared limits are on, else None."""
    return DownloadPacer() if enabled() else None


def setup_limits(
    keys: tuple[str, ...],
    budget: float,
    window_s: float = 3600.0,
    *,
    burst: int | None = None,
    slack_s: float = DEFAULT_SLACK_S,
    downloads_per_second: float = DEFAULT_DOWNLOADS_PER_SECOND,
) -> list[dict]:
    """Create or update the key and download limits on the configured Prefect server; what was set, per limit."""
    from prefect.client.orchestration import get_client

    from comments.client import key_id

    limit, decay = rate_limit_settings(budget, window_s, burst=burst, slack_s=slack_s)
    wanted = [
        {"name": key_limit_name(key_id(k)), "what": f"API key {i + 1}", "limit": limit, "slot_decay_per_second": decay}
        for i, k in enumerate(keys)
    ]
    download_burst = max(1, math.ceil(downloads_per_second))
    wanted.append({"name": DOWNLOAD_LIMIT, "what": "attachment downloads", "limit": download_burst,
                   "slot_decay_per_second": float(downloads_per_second)})
    with get_client(sync_client=True) as client:
        for item in wanted:
            client.upsert_global_concurrency_limit_by_name(item["name"], item["limit"], item["slot_decay_per_second"])
    return wanted


# --------------------------------------------------------------------------- one writer per docket

# Dockets whose limit this flow run holds; a context variable, so a subflow (same thread or a
# copied context) sees it and does not wait for its own parent.
_held: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("comments_dockets_held", default=frozenset())


def docket_limit_name(docket_id: str) -> str:
    return DOCKET_LIMIT_PREFIX + docket_id


@contextmanager
def docket_lock(docket_id: str) -> Iterator[None]:
    """Hold the docket's limit of 1 for the block: no other run writes this docket meanwhile.

    Re-entrant: a sync flow that runs the attachment flow as a subflow takes
    it once. A no-op when shared limits are off.
    """
    if docket_id in _held.get() or not enabled():
        yield
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = docket_limit_name(docket_id)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another run made it first
    with concurrency(name, occupy=1, strict=True, lease_duration=DOCKET_LEASE_S, holder=_holder()):
        token = _held.set(_held.get() | {docket_id})
        try:
            yield
        finally:
            _held.reset(token)


def _holder():
    """This flow run, as the holder Prefect shows for the slot (None outside a flow run)."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return None
    return ConcurrencyLeaseHolder(type="flow_run", id=ctx.flow_run.id)
