"""Download one attachment file safely into the file store.

Rules (issue 3): only allowed hosts (every redirect hop is checked too),
http/https only, a size cap checked against the announced size, the
Content-Length header and the bytes actually streamed; timeouts; retries
with backoff on 429/5xx/connection errors (none on other 4xx); polite pacing
shared by all download threads; no API key is ever sent.

Each file also has a total deadline (`deadline_s`, COMMENTS_ATTACHMENT_TIMEOUT):
a server that sends one byte every few seconds never trips a per-read
timeout, so a watchdog thread shuts the fetch's sockets down when the deadline
passes (or when the run is interrupted: `Downloader.cancel`), which ends any
blocking read at once. The file then fails with "timed out after N s".

A host that cannot be reached at all (no network, DNS down, the host down)
would cost every pending file its full retries: `HOST_DOWN_AFTER` files in a
row failing on connection errors, with no answer from the host in between,
stop the run's downloads (`Downloader.stopped`); the files not tried stay
pending for the next run, which tries the host again.

A small backoff lives here rather than in the API client so this module
stands alone; it follows the same rules (honour Retry-After, exponential
otherwise, capped).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from comments.attachments.filestore import FileStore

USER_AGENT = "comments-pipeline/0.1 (public comment research; attachment download)"
CHUNK = 64 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
DEFAULT_DEADLINE_S = 120.0
INTERRUPTED = "interrupted"
# Files in a row that failed on connection errors (after their retries) before a run stops downloading.
HOST_DOWN_AFTER = 5


@dataclass
class Downloaded:
    """What a download ended as. status is 'downloaded', 'too_large' or 'failed'."""

    status: str
    sha256: str | None = None
    stored_bytes: int | None = None
    reason: str | None = None
    http_status: int | None = None
    content_type: str | None = None


def url_problem(url: str | None, hosts: tuple[str, ...]) -> str | None:
    """Why `url` may not be downloaded, or None when it may."""
    if not url:
        return "no file URL"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "malformed URL"
    if parts.scheme not in ("http", "https"):
        return f"URL scheme not allowed: {parts.scheme or '(none)'}"
    if parts.username or parts.password:
        return "URL with credentials not allowed"
    if host not in hosts:
        return f"host not allowed: {host or '(none)'}"
    name = PurePosixPath(parts.path).name
    if not name or name.endswith(".") or "." not in name:
        # regulations.gov sometimes lists `attachment_1.` with no extension: no such file exists
        return "malformed URL: file name has no extension"
    return None


class Pacer:
    """At least `interval` seconds between request starts, across threads."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def backoff_delay(attempt: int, retry_after: str | None, base: float, cap: float = 60.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    if retry_after:
        try:
            return min(cap, max(0.0, float(retry_after)))
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    return min(cap, base * (2 ** (attempt - 1)))


class _Deadline:
    """One fetch's total time limit, enforced from outside the thread that downloads."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reason: str | None = None
        self._end = time.monotonic() + seconds
        self._connections: list = []
        self._lock = threading.Lock()
        self._wake = threading.Event()  # the deadline passed, the run was cancelled, or the fetch ended
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="download-deadline", daemon=True).start()

    def add(self, conn) -> None:
        with self._lock:
            self._connections.append(conn)
        if self.reason:
            _shut(conn)

    def abort(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._wake.set()

    def finish(self) -> None:
        self._done.set()
        self._wake.set()

    def sleep(self, seconds: float) -> None:
        """A backoff pause that ends early when the fetch is aborted."""
        self._wake.wait(max(0.0, min(seconds, self._end - time.monotonic())))

    def _watch(self) -> None:
        if not self._wake.wait(self.seconds):
            self.abort(f"timed out after {self.seconds:g} s")
        # Until the fetch ends: a connection opened while we shut the others would block too.
        while not self._done.is_set():
            with self._lock:
                connections = list(self._connections)
            for conn in connections:
                _shut(conn)
            self._done.wait(0.2)


def _shut(conn) -> None:
    # `sock` is dropped from the connection once a response that closes the connection
    # (HTTP/1.0, `Connection: close`) has taken it over: keep our own reference.
    sock = getattr(conn, "watched_sock", None) or getattr(conn, "sock", None)
    if sock is not None:
        try:
            # socket.socket's own shutdown: for TLS too, it acts on the descriptor under the SSL layer
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


_local = threading.local()  # the deadline of the fetch running on this thread


def _register(conn) -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.add(conn)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.watched_sock = self.sock


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.watched_sock = self.sock


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        _register(conn)
        return conn


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        _register(conn)
        return conn


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections the running fetch's deadline can reach (to shut them down)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:  # not SOCKS: its own pools
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class Downloader:
    def __init__(
        self,
        store: FileStore,
        *,
        hosts: tuple[str, ...],
        max_bytes: int,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        retries: int = 4,
        backoff_base: float = 1.0,
        pace_s: float = 0.25,
        deadline_s: float = DEFAULT_DEADLINE_S,
        pacer: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.hosts = tuple(h.lower() for h in hosts)
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        # A given session gets our adapter too: the deadline must reach every download's sockets.
        adapter = _WatchedAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeout = timeout
        self.deadline_s = deadline_s
        self._active: set[_Deadline] = set()
        self._cancelled = False
        self.retries = retries
        self.backoff_base = backoff_base
        self.pacer = Pacer(pace_s)
        # called before every request, after the local pacing: a limit shared with other
        # processes (a Prefect rate limit, flows/limits.py) blocks here until a download may start
        self.shared_pacer = pacer
        self.requests = 0
        self._count_lock = threading.Lock()
        self._unreachable_in_a_row = 0
        self.stopped: str | None = None  # why downloads stopped early (the host cannot be reached)

    def fetch(self, url: str | None, announced_size: int | None = None) -> Downloaded:
        problem = url_problem(url, self.hosts)
        if problem:
            return Downloaded("failed", reason=problem)
        if announced_size is not None and announced_size > self.max_bytes:
            return Downloaded("too_large", reason=f"announced size {announced_size:,} bytes exceeds the {self.max_bytes:,}-byte cap")
        deadline = _Deadline(self.deadline_s)
        with self._count_lock:
            self._active.add(deadline)
        if self._cancelled or self.stopped:
            deadline.abort(INTERRUPTED)
        _local.deadline = deadline
        try:
            result = self._fetch(url, deadline)
            self._note_reachability(url, result)
            return result
        finally:
            _local.deadline = None
            deadline.finish()
            with self._count_lock:
                self._active.discard(deadline)

    def _note_reachability(self, url: str, result: Downloaded) -> None:
        unreachable = result.status == "failed" and (result.reason or "").startswith("connection error")
        with self._count_lock:
            if not unreachable:
                if result.reason != INTERRUPTED:
                    self._unreachable_in_a_row = 0  # the host answered (or the file was refused before asking)
                return
            self._unreachable_in_a_row += 1
            if self._unreachable_in_a_row >= HOST_DOWN_AFTER and not self.stopped:
                host = urlsplit(url).hostname or "the download host"
                self.stopped = (f"{host} could not be reached ({HOST_DOWN_AFTER} files in a row failed with "
                                "connection errors); the files not tried stay pending: run `comments attachments` later")

    def cancel(self) -> None:
        """End every download under way now (they fail as 'interrupted'; callers do not record those)."""
        self._cancelled = True
        with self._count_lock:
            active = list(self._active)
        for deadline in active:
            deadline.abort(INTERRUPTED)

    def _fetch(self, url: str, deadline: _Deadline) -> Downloaded:
        attempt = 0
        while True:
            attempt += 1
            if deadline.reason:
                return Downloaded("failed", reason=deadline.reason)
            try:
                result = self._fetch_once(url, deadline)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if deadline.reason:  # its sockets were shut down on purpose
                    return Downloaded("failed", reason=deadline.reason)
                if attempt <= self.retries:
                    deadline.sleep(backoff_delay(attempt, None, self.backoff_base))
                    continue
                return Downloaded("failed", reason=f"connection error: {type(exc).__name__}")
            except requests.RequestException as exc:
                return Downloaded("failed", reason=deadline.reason or f"request error: {type(exc).__name__}")
            except Exception:
                if deadline.reason:  # whatever a read on a shut socket raised
                    return Downloaded("failed", reason=deadline.reason)
                raise
            if isinstance(result, _Retry):
                if attempt <= self.retries:
                    deadline.sleep(backoff_delay(attempt, result.retry_after, self.backoff_base))
                    continue
                return Downloaded("failed", reason=f"HTTP {result.status} after {attempt} attempts", http_status=result.status)
            return result

    def _fetch_once(self, url: str, deadline: _Deadline) -> Downloaded | _Retry:
        # Redirects are followed by hand so every hop's host is checked.
        for _hop in range(MAX_REDIRECTS + 1):
            self.pacer.wait()
            if self.shared_pacer is not None:
                self.shared_pacer()
            with self._count_lock:
                self.requests += 1
            resp = self.session.get(
                url,
                stream=True,
                timeout=self.timeout,
                allow_redirects=False,
                # None removes a header a shared session may carry: downloads need no key
                headers={"User-Agent": USER_AGENT, "X-Api-Key": None, "Authorization": None},
            )
            with resp:
                if resp.is_redirect:
                    target = urljoin(url, resp.headers.get("Location", ""))
                    problem = url_problem(target, self.hosts)
                    if problem and problem.startswith(("host", "URL scheme", "URL with")):
                        return Downloaded("failed", reason=f"redirect refused: {problem}", http_status=resp.status_code)
                    url = target
                    continue
                if resp.status_code in RETRY_STATUSES:
                    return _Retry(resp.status_code, resp.headers.get("Retry-After"))
                if resp.status_code != 200:
                    reason = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
                    return Downloaded("failed", reason=reason, http_status=resp.status_code)
                return self._save_body(resp, deadline)
        return Downloaded("failed", reason=f"more than {MAX_REDIRECTS} redirects")

    def _save_body(self, resp: requests.Response, deadline: _Deadline) -> Downloaded:
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip() or None
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            return Downloaded(
                "too_large", reason=f"Content-Length {int(length):,} bytes exceeds the {self.max_bytes:,}-byte cap",
                http_status=resp.status_code, content_type=ctype,
            )
        writer = self.store.writer()
        try:
            for chunk in resp.iter_content(CHUNK):
                writer.write(chunk)
                if writer.size > self.max_bytes:
                    return Downloaded(
                        "too_large", reason=f"body exceeds the {self.max_bytes:,}-byte cap",
                        http_status=resp.status_code, content_type=ctype,
                    )
            if deadline.reason:  # a body without Content-Length ends like this when its socket is shut
                return Downloaded("failed", reason=deadline.reason, http_status=resp.status_code)
            encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
            if length and length.isdigit() and not encoded and writer.size != int(length):
                return Downloaded("failed", reason=f"truncated: got {writer.size:,} of {int(length):,} bytes", http_status=resp.status_code)
            sha, size = writer.commit()
            return Downloaded("downloaded", sha256=sha, stored_bytes=size, http_status=resp.status_code, content_type=ctype)
        finally:
            writer.discard()


@dataclass
class _Retry:
    status: int
    retry_after: str | None
