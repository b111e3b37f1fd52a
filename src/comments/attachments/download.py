"""Download one attachment file safely into the file store.

Rules (issue 3): only allowed hosts (every redirect hop is checked too),
http/https only, a size cap checked against the announced size, the
Content-Length header and the bytes actually streamed; timeouts; retries
with backoff on 429/5xx/connection errors (none on other 4xx); polite pacing
shared by all download threads; no API key is ever sent.

A small backoff lives here rather than in the API client so this module
stands alone; it follows the same rules (honour Retry-After, exponential
otherwise, capped).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests

from comments.attachments.filestore import FileStore

USER_AGENT = "comments-pipeline/0.1 (public comment research; attachment download)"
CHUNK = 64 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5


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
    ) -> None:
        self.store = store
        self.hosts = tuple(h.lower() for h in hosts)
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.pacer = Pacer(pace_s)
        self.requests = 0
        self._count_lock = threading.Lock()

    def fetch(self, url: str | None, announced_size: int | None = None) -> Downloaded:
        problem = url_problem(url, self.hosts)
        if problem:
            return Downloaded("failed", reason=problem)
        if announced_size is not None and announced_size > self.max_bytes:
            return Downloaded("too_large", reason=f"announced size {announced_size:,} bytes exceeds the {self.max_bytes:,}-byte cap")
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._fetch_once(url)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if attempt <= self.retries:
                    time.sleep(backoff_delay(attempt, None, self.backoff_base))
                    continue
                return Downloaded("failed", reason=f"connection error: {type(exc).__name__}")
            except requests.RequestException as exc:
                return Downloaded("failed", reason=f"request error: {type(exc).__name__}")
            if isinstance(result, _Retry):
                if attempt <= self.retries:
                    time.sleep(backoff_delay(attempt, result.retry_after, self.backoff_base))
                    continue
                return Downloaded("failed", reason=f"HTTP {result.status} after {attempt} attempts", http_status=result.status)
            return result

    def _fetch_once(self, url: str) -> Downloaded | _Retry:
        # Redirects are followed by hand so every hop's host is checked.
        for _hop in range(MAX_REDIRECTS + 1):
            self.pacer.wait()
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
                return self._save_body(resp)
        return Downloaded("failed", reason=f"more than {MAX_REDIRECTS} redirects")

    def _save_body(self, resp: requests.Response) -> Downloaded:
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
