"""A polite regulations.gov v4 client: pacing, retries and typed errors in one place.

One `requests.Session`, the key in the `X-Api-Key` header (never in a URL),
square brackets in parameter names percent-encoded. Retries live here and only
here: 429, 5xx, dropped connections and truncated or invalid JSON bodies are
retried with jittered exponential backoff (honouring `Retry-After`); any other
4xx is raised at once as a typed `ApiError`.

Pacing keeps every key under its hourly budget with a sliding window over the
rolling hour (exactly the rule the API enforces), and reads the
`X-RateLimit-Remaining` header: a key that reports fewer than `reserve`
requests left is rested, because the header can lag the true count. Several
keys are used in turn; when all are rested the client waits and says why
through `on_wait` and the log.

Nothing here imports Prefect; tests inject `sleep` and `clock` so every wait
takes no real time.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import requests

from comments import __version__, settings

log = logging.getLogger(__name__)

# 500s that name a data problem on regulations.gov's side (API_NOTES: some ids always
# answer "Incorrect result size: expected 1, actual 2"): one retry, then give up.
PERMANENT_500_MARKERS = ("Incorrect result size",)
USER_AGENT = f"comments/{__version__} (public-comment aggregation; python-requests/{requests.__version__})"
BODY_EXCERPT = 300


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An API call that failed for good. `url` never carries a key."""

    def __init__(self, status: int | None, url: str, body_excerpt: str = "", message: str | None = None):
        self.status = status
        self.url = url
        self.body_excerpt = body_excerpt
        self.message = message or _message_from_body(body_excerpt)
        super().__init__(self.describe())

    def describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else "no response"
        text = f"{what} from {self.url}"
        if self.message:
            text += f": {self.message}"
        return " ".join(text.split())

    @classmethod
    def from_response(cls, response: requests.Response, url: str, keys=()) -> ApiError:
        body = _redact(response.text[:BODY_EXCERPT], keys)
        code = _error_code(response)
        status = response.status_code
        if code in ("API_KEY_INVALID", "API_KEY_MISSING", "API_KEY_DISABLED", "API_KEY_UNAUTHORIZED") or status in (401, 403):
            kind: type[ApiError] = AuthError
        elif code == "OVER_RATE_LIMIT" or status == 429:
            kind = RateLimited
        elif status == 404:
            kind = NotFound
        elif status >= 500:
            kind = ServerError
        else:
            kind = BadRequest
        error = kind(status, url, body)
        error.code = code
        return error

    code: str | None = None


class NotFound(ApiError):
    """404: the docket, document or comment does not exist (or is not public)."""


class AuthError(ApiError):
    """The key is missing, invalid or disabled (API_KEY_INVALID / API_KEY_MISSING)."""


class RateLimited(ApiError):
    """429 OVER_RATE_LIMIT that outlasted every retry."""


class ServerError(ApiError):
    """5xx that outlasted every retry (e.g. 500 "Incorrect result size")."""


class BadRequest(ApiError):
    """Another 4xx: a malformed request, not worth retrying."""


class TransportError(ApiError):
    """The connection kept failing (refused, reset, timed out)."""


class InvalidResponse(ApiError):
    """The body kept arriving truncated or as something other than JSON."""


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("code"):
            return str(err["code"])
    return None


def _message_from_body(body: str) -> str:
    """The human part of an error body: api.data.gov's message or JSON:API's title/detail."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:120]
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            return " ".join(str(err.get(k)) for k in ("code", "message") if err.get(k))
        errors = parsed.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return " ".join(str(first.get(k)) for k in ("title", "detail") if first.get(k))
    return body[:120]


def _redact(text: str, keys) -> str:
    for key in keys:
        if key:
            text = text.replace(key, "[key]")
    return text


# --------------------------------------------------------------------------- pacing


@dataclass
class _Key:
    """One API key's budget: our own record of the last hour plus what the API says."""

    secret: str = field(repr=False)
    label: str
    key_id: str = ""  # a stable, non-reversible name for the key (shared pacers use it)
    sent: deque = field(default_factory=deque)  # clock times of requests in the last hour
    remaining: int | None = None  # the lowest recent X-RateLimit-Remaining (see _note_budget)
    remaining_sent_at: float = float("-inf")  # when the request that reported it was sent
    limit: int | None = None  # last X-RateLimit-Limit seen
    rested_until: float = 0.0  # after a 429 or a low Remaining header
    rest_reason: str = ""
    requests: int = 0

    def __repr__(self) -> str:  # never the secret
        return f"_Key({self.label}, remaining={self.remaining})"


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)


class RegulationsClient:
    """GET access to regulations.gov v4 under each key's hourly budget.

    `api_keys`, `base_url` and `rate_limit_per_hour` default to the settings
    (environment). `sleep`/`clock` are injectable so tests wait no real time;
    `backoff_base`/`backoff_max` scale retry waits. `on_wait(seconds, reason)`
    is told about every wait longer than a second (the CLI shows it).
    """

    def __init__(
        self,
        api_keys: str | tuple[str, ...] | list[str] | None = None,
        base_url: str | None = None,
        rate_limit_per_hour: float | None = None,
        *,
        timeout: tuple[float, float] = (5, 60),
        max_retries: int = 6,
        max_rate_limit_waits: int = 30,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        reserve: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[float, str], None] | None = None,
        session: requests.Session | None = None,
        pacer: Callable[[str], None] | None = None,
        rate_window_s: float | None = None,
    ):
        if api_keys is None:
            keys = settings.api_keys()
        elif isinstance(api_keys, str):
            keys = tuple(k.strip() for k in api_keys.split(",") if k.strip())
        else:
            keys = tuple(k for k in api_keys if k)
        if not keys:
            from comments.errors import ConfigError

            raise ConfigError(f"no API key: {settings.KEY_HELP}")
        self._keys = [_Key(secret=k, label=f"key {i + 1}", key_id=key_id(k)) for i, k in enumerate(keys)]
        # Called with a key's key_id before every request sent with it (retries included),
        # after the in-process pacing: a limiter shared by several processes (Prefect's
        # global concurrency limits in flows/) blocks here until that key may send.
        self.pacer = pacer
        self.base_url = (base_url or settings.base_url()).rstrip("/")
        # Each key's hourly budget: the API's own X-RateLimit-Limit once a response has said it
        # (a key with a raised limit gets its due), the default 1,000 before that. A limit the
        # caller or REGULATIONS_GOV_RATE_LIMIT sets caps it (to leave room for other tools).
        cap = rate_limit_per_hour or settings.rate_limit_cap()
        self.rate_limit_cap = float(cap) if cap else None
        self.rate_limit_per_hour = self.rate_limit_cap or float(settings.DEFAULT_RATE_LIMIT)
        # the budget's rolling window: an hour on regulations.gov (REGULATIONS_GOV_RATE_WINDOW)
        self.window_s = float(rate_window_s or settings.rate_window())
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_rate_limit_waits = max_rate_limit_waits
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # Stop a little before 0: Remaining can lag the true count.
        self.reserve = reserve if reserve is not None else max(1, min(10, math.ceil(self.rate_limit_per_hour * 0.01)))
        self._sleep = sleep
        self._clock = clock
        self.on_wait = on_wait
        self._random = random.Random()
        self._next = 0  # round-robin position
        # Several threads may send at once (the sync fetches details concurrently): key choice,
        # budgets and counters change under this lock; waits and requests happen outside it.
        self._lock = threading.Lock()
        self._reported_until = 0.0  # end of the last wait told to on_wait (one message for many threads)
        self.stats = ClientStats()
        self.session = session or _session_for(self.base_url)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/vnd.api+json, application/json"})

    # ------------------------------------------------------------ public calls

    def get(self, path: str, params: Mapping[str, object] | None = None, *, kind: str = "other") -> dict:
        """GET `path` (relative to the base URL) and return the JSON body, retrying what is worth it."""
        url = self._url(path, params)
        return self._request(url, kind)

    def docket(self, docket_id: str) -> dict:
        return self.get(f"dockets/{quote(docket_id, safe='')}", kind="docket")

    def documents(self, docket_id: str, *, page_size: int = 250) -> Iterator[dict]:
        """Every document of a docket (list items), page by page."""
        for page_number in range(1, 21):
            body = self.get(
                "documents",
                {"filter[docketId]": docket_id, "page[size]": page_size, "page[number]": page_number, "sort": "postedDate"},
                kind="documents",
            )
            yield from body.get("data") or []
            if not (body.get("meta") or {}).get("hasNextPage"):
                return

    def comment_list(
        self,
        docket_id: str,
        *,
        page_number: int = 1,
        page_size: int = 250,
        last_modified_ge: str | None = None,
        last_modified_le: str | None = None,
        comment_on_id: str | None = None,
        posted_date: str | None = None,
        sort: str = "lastModifiedDate,documentId",
    ) -> dict:
        """One page of a docket's comment list (no text).

        `last_modified_ge`/`_le` are US Eastern 'yyyy-MM-dd HH:mm:ss'; `comment_on_id` is a
        document's objectId; `posted_date` one day, 'yyyy-MM-dd'.
        """
        params: dict[str, object] = {"filter[docketId]": docket_id}
        if comment_on_id:
            params["filter[commentOnId]"] = comment_on_id
        if last_modified_ge:
            params["filter[lastModifiedDate][ge]"] = last_modified_ge
        if last_modified_le:
            params["filter[lastModifiedDate][le]"] = last_modified_le
        if posted_date:
            params["filter[postedDate]"] = posted_date
        params.update({"sort": sort, "page[size]": page_size, "page[number]": page_number})
        return self.get("comments", params, kind="comment_list")

    def comment(self, comment_id: str) -> dict:
        """One comment's detail, with its attachment records in `included`."""
        return self.get(f"comments/{quote(comment_id, safe='')}", {"include": "attachments"}, kind="comment_detail")

    # ------------------------------------------------------------ budget

    @property
    def requests_made(self) -> int:
        return self.stats.requests

    def rate_remaining(self) -> int | None:
        """Requests left across all keys, as the API last reported them (None before any response)."""
        seen = [k.remaining for k in self._keys if k.remaining is not None]
        return sum(seen) if seen else None

    def key_budgets(self) -> list[dict]:
        """Per key (by position, never the key itself): requests sent, last Remaining, last Limit."""
        return [{"key": k.label, "requests": k.requests, "remaining": k.remaining, "limit": k.limit} for k in self._keys]

    # ------------------------------------------------------------ internals

    def _url(self, path: str, params: Mapping[str, object] | None) -> str:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            # quote (not quote_plus) with nothing safe: brackets, commas, spaces and colons all encoded
            url += "?" + urlencode([(k, str(v)) for k, v in params.items()], quote_via=quote, safe="")
        return url

    def allow_concurrency(self, n: int) -> None:
        """Keep up to `n` connections open, for `n` threads sending at once."""
        from requests.adapters import HTTPAdapter

        for prefix in ("http://", "https://"):
            self.session.mount(prefix, HTTPAdapter(pool_connections=4, pool_maxsize=max(10, n)))

    def _take_key(self, kind: str) -> tuple[_Key, float]:
        """The next key with budget left, its slot in the rolling hour taken at once (so threads
        never overspend a key); waits (and says why) when every key is spent."""
        while True:
            with self._lock:
                now = self._clock()
                for key in self._keys:
                    while key.sent and key.sent[0] <= now - self.window_s:
                        key.sent.popleft()
                ready_at = []
                for offset in range(len(self._keys)):
                    key = self._keys[(self._next + offset) % len(self._keys)]
                    at = self._ready_at(key, now)
                    if at <= now:
                        self._next = (self._next + offset + 1) % len(self._keys)
                        key.sent.append(now)
                        key.requests += 1
                        self.stats.requests += 1
                        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
                        return key, now
                    ready_at.append((at, key))
                at, key = min(ready_at, key=lambda pair: pair[0])
                wait = max(at - now, 0.001)
                reason = self._budget_reason(key)
            what = "resting" if reason.startswith("rate limited") else "out of hourly request budget"
            self._wait(wait, f"all {len(self._keys)} key(s) {what} ({reason}); waiting")

    def limit_of(self, key: _Key) -> float:
        """The requests `key` may send in a rolling hour."""
        if key.limit is None or key.limit <= 0:
            return self.rate_limit_per_hour
        return min(float(key.limit), self.rate_limit_cap or math.inf)

    def _ready_at(self, key: _Key, now: float) -> float:
        at = key.rested_until
        limit = self.limit_of(key)
        if len(key.sent) >= limit:
            # our own count of the rolling hour is full: the oldest request must age out
            index = len(key.sent) - int(limit)
            at = max(at, key.sent[index] + self.window_s)
        return at

    def _budget_reason(self, key: _Key) -> str:
        if key.rest_reason and key.rested_until > self._clock():
            return key.rest_reason
        if key.remaining is not None and key.remaining <= self.reserve:
            return f"X-RateLimit-Remaining {key.remaining}"
        return f"{len(key.sent)} requests in the last hour, limit {self.limit_of(key):g}/h for this key"

    def _wait(self, seconds: float, reason: str) -> None:
        with self._lock:
            self.stats.waited_s += seconds
            until = self._clock() + seconds
            tell = seconds >= 1 and until > self._reported_until + 1
            if tell:
                self._reported_until = until
        if tell:
            log.info("%s %.0f s", reason, seconds)
            if self.on_wait:
                self.on_wait(seconds, reason)
        self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        # full jitter: a random wait up to base * 2**attempt, capped
        cap = min(self.backoff_max, self.backoff_base * (2**attempt))
        with self._lock:
            return self._random.uniform(cap / 2, cap)

    def _note_budget(self, key: _Key, response: requests.Response, sent_at: float) -> None:
        remaining = _int_header(response, "X-RateLimit-Remaining")
        limit = _int_header(response, "X-RateLimit-Limit")
        if limit is not None:
            key.limit = limit
        if remaining is not None:
            # Concurrent requests reach the server in any order, so answers sent close together
            # are compared by value (each request the server counts lowers Remaining); one more
            # than a minute newer replaces it (the rolling hour may have freed slots since).
            if key.remaining is None or remaining < key.remaining or sent_at - key.remaining_sent_at > 60:
                key.remaining, key.remaining_sent_at = remaining, sent_at
            if remaining <= self.reserve:
                # Rest the key: about one slot frees per (window / limit) on a rolling window.
                per_slot = self.window_s / self.limit_of(key)
                key.rested_until = max(key.rested_until, self._clock() + per_slot * (self.reserve - remaining + 1))
                key.rest_reason = f"X-RateLimit-Remaining {remaining}"

    def _request(self, url: str, kind: str) -> dict:
        secrets = [k.secret for k in self._keys]
        failures = 0
        rate_limited = 0
        while True:
            key, sent_at = self._take_key(kind)
            if self.pacer is not None:
                self.pacer(key.key_id)
            problem: ApiError
            try:
                response = self.session.get(url, headers={"X-Api-Key": key.secret}, timeout=self.timeout)
                body_bytes = response.content  # a dropped connection mid-body raises here
            except requests.RequestException as exc:
                problem = TransportError(None, url, message=_redact(_one_line(exc), secrets))
            else:
                with self._lock:
                    self._note_budget(key, response, sent_at)
                status = response.status_code
                if status == 200:
                    try:
                        return json.loads(body_bytes)
                    except ValueError:
                        problem = InvalidResponse(status, url, message="response body is not complete JSON")
                else:
                    problem = ApiError.from_response(response, url, secrets)
                    if status == 429:
                        rate_limited += 1
                        if rate_limited > self.max_rate_limit_waits:
                            raise problem
                        retry_after = _retry_after(response)
                        if retry_after is None:
                            retry_after = self._backoff(min(rate_limited, 6))
                        # the key rests for every thread; other keys go on (the next _take_key
                        # waits only when every key rests)
                        with self._lock:
                            key.rested_until = max(key.rested_until, self._clock() + retry_after)
                            key.rest_reason = "rate limited (HTTP 429)"
                            self.stats.retries += 1
                        continue
                    if status < 500:
                        raise problem  # other 4xx: retrying will not help
            failures += 1
            permanent = isinstance(problem, ServerError) and any(m in problem.body_excerpt for m in PERMANENT_500_MARKERS)
            if failures > (min(1, self.max_retries) if permanent else self.max_retries):
                raise problem
            with self._lock:
                self.stats.retries += 1
            delay = self._backoff(failures - 1)
            log.debug("retrying after %s (attempt %d) in %.2f s", problem, failures, delay)
            self._wait(delay, f"{problem}; retrying")


def key_id(secret: str) -> str:
    """A name for a key that is safe to show and stable across processes: a truncated SHA-256."""
    import hashlib

    return "k" + hashlib.sha256(secret.encode()).hexdigest()[:10]


def _session_for(base_url: str) -> requests.Session:
    """A Session that reads proxy and CA settings from the environment once, not on every request.

    (requests re-reads the environment per request when trust_env is on: about
    a fifth of the client's time against a fast server.)
    """
    import os

    session = requests.Session()
    proxies = requests.utils.get_environ_proxies(base_url)
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.trust_env = False
    session.proxies.update(proxies)
    if ca_bundle:
        session.verify = ca_bundle
    return session


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
