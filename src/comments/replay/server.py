"""A regulations.gov v4-compatible HTTP server over a Snapshot, on loopback.

It reproduces what a client must cope with (see shared API_NOTES.md): lists
without comment text, page size 5..250 and page number 1..20 (HTTP 400
beyond), so at most 5,000 results per query while `totalElements` tells the
truth; `lastModifiedDate` filters read as US Eastern wall time; `X-Api-Key`
checks; per-key hourly rate limits with `X-RateLimit-*` headers and 429s;
and switchable faults (see `Faults`).

Paging meta is the least generous reading of the real API (API_NOTES: "do
not read 'is there more?' from the paging flags on page 20"): a query pages at
most 20 pages, and its meta describes only what that query can page, so page
20 of a 6,000-result query says `hasNextPage: false`, `lastPage: true` and
`totalPages: 20`, while `totalElements` tells the truth. Page 21 is a 400. A
client that trusts the flags stops at 5,000; one that decides by counts (20
full pages: re-query from the last item's lastModifiedDate) gets everything.
"""

from __future__ import annotations

import json
import math
import mimetypes
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from comments.replay.faults import Faults, FaultState
from comments.replay.snapshot import (
    _NONE_TS,
    DOWNLOADS_PREFIX,
    CommentQuery,
    Snapshot,
    eastern_day_bounds,
    eastern_to_epoch,
    search_terms,
    sort_records,
    to_epoch,
)

MIN_PAGE_SIZE, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER = 5, 250, 25, 20
ROUTE_KINDS = ("docket", "dockets_search", "documents", "document", "comments_list", "comment_detail", "file")
_SIGNUP = "https://api.data.gov:443/signup"


class _HTTPError(Exception):
    """An error response: status, JSON body."""

    def __init__(self, status: int, body: dict, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _api_error(status: int, title: str, detail: str = "") -> _HTTPError:
    return _HTTPError(status, {"errors": [{"status": str(status), "title": title, "detail": detail or title}]})


def _gateway_error(status: int, code: str, message: str) -> _HTTPError:
    return _HTTPError(status, {"error": {"code": code, "message": message}})


# ---------------------------------------------------------------- stats
class Stats:
    """Thread-safe request counters: `stats["comment_detail"]`, `stats.total`, `stats.as_dict()`.

    Keys: "total"; one per route kind (docket, dockets_search, documents, document,
    comments_list, comment_detail, file, unknown), counted for every request that
    arrives whatever its outcome; "errors_injected" (faults); "status_<code>".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._per_key: Counter[str] = Counter()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def get(self, key: str, default: int = 0) -> int:
        with self._lock:
            return self._counts.get(key, default)

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    @property
    def total(self) -> int:
        return self["total"]

    @property
    def errors_injected(self) -> int:
        return self["errors_injected"]

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def count_key(self, key: str) -> None:
        with self._lock:
            self._per_key[key] += 1

    def per_key(self) -> dict[str, int]:
        """Accepted API requests per key (in memory only; never printed by the server)."""
        with self._lock:
            return dict(self._per_key)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._per_key.clear()

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()})"


# ---------------------------------------------------------------- rate limit
class _RateLimiter:
    """Requests per key over a rolling window, an hour by default (only accepted requests count)."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic, window_s: float = 3600.0):
        self.per_hour, self.clock, self.window_s = per_hour, clock, window_s
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int]:
        """(allowed, remaining after this request)."""
        with self._lock:
            now = self.clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.per_hour:
                return False, 0
            hits.append(now)
            return True, self.per_hour - len(hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


# ---------------------------------------------------------------- params
def _page(params: Mapping[str, str]) -> tuple[int, int]:
    def number(name: str, default: int, lo: int, hi: int, what: str) -> int:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _api_error(400, f"Invalid {name}", f"{name} must be a whole number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise _api_error(400, f"Invalid {name}", f"{what} must be between {lo} and {hi}, got {value}")
        return value

    size = number("page[size]", DEFAULT_PAGE_SIZE, MIN_PAGE_SIZE, MAX_PAGE_SIZE, "page size")
    page = number("page[number]", 1, 1, MAX_PAGE_NUMBER, "page number")
    return size, page


def _sort(params: Mapping[str, str], allowed: Iterable[str]) -> tuple[tuple[str, bool], ...]:
    raw = params.get("sort")
    if not raw:
        return ()
    result = []
    allowed = tuple(allowed)
    for part in raw.split(","):
        part = part.strip()
        descending = part.startswith("-")
        field = part.lstrip("-+")
        if field not in allowed:
            raise _api_error(400, "Invalid sort", f"sort field {field!r} is not one of {', '.join(allowed)}")
        result.append((field, descending))
    return tuple(result)


def _filters(params: Mapping[str, str], allowed: set[str]) -> dict[str, str]:
    """The filter[...] parameters, keyed without the `filter` prefix ('postedDate][ge')."""
    found = {}
    for name, value in params.items():
        if not name.startswith("filter["):
            continue
        inner = name[len("filter["):].rstrip("]")  # 'postedDate][ge' or 'docketId'
        if inner not in allowed:
            raise _api_error(400, "Invalid filter", f"{name} is not a supported filter on this endpoint")
        found[inner] = value
    return found


def _eastern(value: str, name: str) -> int:
    try:
        return eastern_to_epoch(value)
    except ValueError:
        raise _api_error(400, "Invalid date", f"filter[{name}] must be 'yyyy-MM-dd HH:mm:ss', got {value!r}") from None


def _day(value: str, name: str) -> tuple[int, int]:
    try:
        return eastern_day_bounds(value)
    except ValueError:
        raise _api_error(400, "Invalid date", f"filter[{name}] must be 'yyyy-MM-dd', got {value!r}") from None


def _day_range(filters: Mapping[str, str], field: str) -> tuple[int | None, int | None]:
    """[ge, lt) epoch bounds for a yyyy-MM-dd date filter with eq/ge/le forms."""
    ge = lt = None
    if field in filters:
        ge, lt = _day(filters[field], field)
    if f"{field}][ge" in filters:
        ge = _day(filters[f"{field}][ge"], f"{field}][ge")[0]
    if f"{field}][le" in filters:
        lt = _day(filters[f"{field}][le"], f"{field}][le")[1]
    return ge, lt


def _bool_param(value: str, name: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise _api_error(400, "Invalid filter", f"filter[{name}] must be true or false, got {value!r}")


def _date_filters(*fields: str, ranges: bool = True) -> set[str]:
    names = set()
    for f in fields:
        names |= {f, f"{f}][ge", f"{f}][le"} if ranges else {f}
    return names


_COMMENT_FILTERS = {"docketId", "commentOnId", "searchTerm", "agencyId"} | _date_filters("postedDate", "lastModifiedDate")
_DOCUMENT_FILTERS = {"docketId", "searchTerm", "agencyId", "documentType", "withinCommentPeriod", "frDocNum",
                     "subtype"} | _date_filters("postedDate", "commentEndDate", "lastModifiedDate")
_DOCKET_FILTERS = {"searchTerm", "agencyId", "docketType"} | _date_filters("lastModifiedDate")


def _meta(total: int, size: int, page: int, count: int) -> dict:
    # the pages this query can reach, not the pages its results would fill
    pages = min(math.ceil(total / size), MAX_PAGE_NUMBER) if total else 0
    return {
        "totalElements": total,
        "totalPages": pages,
        "pageNumber": page,
        "pageSize": size,
        "numberOfElements": count,
        "hasNextPage": page < pages,
        "hasPreviousPage": page > 1,
        "firstPage": page == 1,
        "lastPage": page >= pages,
    }


def _lm_of(attrs: Mapping) -> int:
    value = to_epoch(attrs.get("lastModifiedDate")) or to_epoch(attrs.get("modifyDate"))
    return _NONE_TS if value is None else value


def _ts_key(name: str) -> Callable:
    def key(record):
        value = to_epoch(record["data"]["attributes"].get(name))
        return _NONE_TS if value is None else value
    return key


# ---------------------------------------------------------------- the server
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's Session reuses its connection
    server_version = "comments-replay/1"
    wbufsize = 1 << 16  # headers and body leave in one write
    timeout = 120  # an idle keep-alive connection is closed after this

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.replay._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.replay._connections.discard(self.connection)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.replay._serve(self)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass  # silent: tests and the demo must not print a line per request


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    replay: ReplayServer

    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-response is normal here (and during fault tests)


class ReplayServer:
    """Serve a Snapshot as regulations.gov API v4 on 127.0.0.1 (use as a context manager)."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        api_keys: Iterable[str] | None = ("test-key",),
        rate_limit_per_hour: int | None = None,
        rate_limit_window_s: float = 3600.0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.snapshot = snapshot
        self.api_keys = None if api_keys is None else frozenset(api_keys)
        self.rate_limit_per_hour = rate_limit_per_hour
        # `rate_limit_window_s` shortens the rolling hour (a test of shared budgets in seconds)
        self._limiter = _RateLimiter(rate_limit_per_hour, window_s=rate_limit_window_s) if rate_limit_per_hour else None
        self._faults = FaultState.of(faults)
        self.host, self._port = host, port
        self.stats = Stats()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> ReplayServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.replay = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._connections):  # idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._port = self._httpd.server_address[1]  # a restart comes back on the same port
        self._httpd = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the replay server is not running")
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v4"

    @property
    def files_url(self) -> str:
        return f"{self.root_url}/files"

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def set_faults(self, faults: Faults | None) -> None:
        self._faults = FaultState.of(faults)

    def reset_rate_limits(self) -> None:
        if self._limiter:
            self._limiter.reset()

    # ------------------------------------------------------------ request handling
    def _serve(self, h: _Handler) -> None:
        faults = self._faults
        f = faults.faults
        url = urlsplit(h.path)
        kind, arg = self._route(url.path)
        self.stats.count("total")
        self.stats.count(kind)
        if f.latency:
            time.sleep(f.latency)
        if faults.roll(f.drop_rate):
            self.stats.count("errors_injected")
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        retry_after = {} if f.retry_after is None else {"Retry-After": _seconds(f.retry_after)}
        after: Callable[[], None] | None = None
        try:
            if kind != "file":
                self._check_key(h, params, headers)
            if faults.take_storm() or faults.roll(f.rate_limit_rate):
                self.stats.count("errors_injected")
                raise _gateway_error(429, "OVER_RATE_LIMIT", _OVER_LIMIT_MESSAGE)
            if faults.roll(f.server_error_rate):
                self.stats.count("errors_injected")
                status = faults.choice((500, 502, 503))
                if status == 500:
                    raise _api_error(500, "Internal Server Error", "An unexpected error occurred")
                self._send(h, status, _gateway_page(status), "text/html", {**headers, **(retry_after if status == 503 else {})})
                return
            status, body, content_type = self._dispatch(kind, arg, params)
            if kind == "comments_list" and f.change_while_paging:
                after = lambda: self.snapshot.touch_random(faults.sample, f.change_while_paging)  # noqa: E731
            if content_type == "application/json" and faults.roll(f.truncate_rate):
                self.stats.count("errors_injected")
                body = body[: len(body) // 2]
        except _HTTPError as err:
            status, content_type = err.status, "application/json"
            body = json.dumps(err.body).encode()
            headers.update(err.headers)
            if status in (429, 503):
                headers.update(retry_after)
        if after is not None:  # the page is already built; apply the changes before the client can see it
            after()
        self._send(h, status, body, content_type, headers)

    def _send(self, h: _Handler, status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> None:
        self.stats.count(f"status_{status}")
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _check_key(self, h: _Handler, params: Mapping[str, str], headers: dict[str, str]) -> None:
        key = h.headers.get("X-Api-Key") or params.get("api_key")
        if not key:
            raise _gateway_error(403, "API_KEY_MISSING", f"No api_key was supplied. Get one at {_SIGNUP}")
        if self.api_keys is not None and key not in self.api_keys:
            raise _gateway_error(403, "API_KEY_INVALID", f"An invalid api_key was supplied. Get one at {_SIGNUP}")
        if self._limiter is not None:
            allowed, remaining = self._limiter.hit(key)
            lag = self._faults.faults.remaining_lag if allowed else 0
            headers["X-RateLimit-Limit"] = str(self._limiter.per_hour)
            headers["X-RateLimit-Remaining"] = str(min(self._limiter.per_hour, remaining + lag))
            if not allowed:
                self.stats.count("over_limit")  # a client that overspent a key's rolling hour
                raise _gateway_error(429, "OVER_RATE_LIMIT", _OVER_LIMIT_MESSAGE)
        self.stats.count_key(key)

    @staticmethod
    def _route(path: str) -> tuple[str, str | None]:
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:1] == ["files"] and len(parts) > 1:
            return "file", "/".join(parts[1:])
        if parts[:1] != ["v4"] or len(parts) not in (2, 3):
            return "unknown", None
        collection, ident = parts[1], (parts[2] if len(parts) == 3 else None)
        kinds = {"dockets": ("dockets_search", "docket"), "documents": ("documents", "document"),
                 "comments": ("comments_list", "comment_detail")}
        if collection not in kinds:
            return "unknown", None
        return kinds[collection][0 if ident is None else 1], ident

    def _dispatch(self, kind: str, arg: str | None, params: Mapping[str, str]) -> tuple[int, bytes, str]:
        if kind == "file":
            content = self.snapshot.file_bytes(arg)
            if content is None:
                raise _api_error(404, "Not Found", "no such file")
            ctype = mimetypes.guess_type(arg)[0] or "application/octet-stream"
            return 200, content, ctype
        handler = {
            "comments_list": self._comments_list,
            "comment_detail": self._comment_detail,
            "documents": self._documents_list,
            "document": self._document_detail,
            "dockets_search": self._dockets_list,
            "docket": self._docket_detail,
        }.get(kind)
        if handler is None:
            raise _api_error(404, "Not Found", "no such endpoint")
        body = handler(arg, params) if arg is not None else handler(params)
        return 200, json.dumps(body, separators=(",", ":")).encode(), "application/json"

    # ------------------------------------------------------------ comments
    def _comments_list(self, params: Mapping[str, str]) -> dict:
        filters = _filters(params, _COMMENT_FILTERS)
        size, page = _page(params)
        if self._faults.faults.page_size_cap:
            size = min(size, self._faults.faults.page_size_cap)
        sort = _sort(params, ("lastModifiedDate", "postedDate", "documentId"))
        posted_ge, posted_lt = _day_range(filters, "postedDate")
        lm_ge = lm_le = None
        if "lastModifiedDate" in filters:  # an exact second
            lm_ge = lm_le = _eastern(filters["lastModifiedDate"], "lastModifiedDate")
        if "lastModifiedDate][ge" in filters:
            lm_ge = _eastern(filters["lastModifiedDate][ge"], "lastModifiedDate][ge")
        if "lastModifiedDate][le" in filters:
            lm_le = _eastern(filters["lastModifiedDate][le"], "lastModifiedDate][le")
        query = CommentQuery(
            docket_id=filters.get("docketId"), comment_on=filters.get("commentOnId"),
            agency_id=filters.get("agencyId"), search=filters.get("searchTerm") or None,
            posted_ge=posted_ge, posted_lt=posted_lt, lm_ge=lm_ge, lm_le=lm_le, sort=sort,
        )
        found = self.snapshot.select_comments(query)
        start = (page - 1) * size
        base_url = self.base_url
        items = [c.list_item(base_url) for c in found[start:start + size]]
        return {"data": items, "meta": _meta(len(found) + self._faults.faults.total_overcount, size, page, len(items))}

    def _comment_detail(self, comment_id: str, params: Mapping[str, str]) -> dict:
        if comment_id in self._faults.faults.failing_ids:
            self.stats.count("errors_injected")
            raise _api_error(500, "Internal Server Error", "Incorrect result size: expected 1, actual 2")
        comment = self.snapshot.get_comment(comment_id)
        if comment is None:
            raise _api_error(404, "The comment was not found", f"No comment with id {comment_id}")
        return self._detail_body(comment.detail, params)

    def _detail_body(self, detail: dict, params: Mapping[str, str]) -> dict:
        """The stored detail; `included` only with include=attachments; file URLs we serve rewritten."""
        data = detail["data"]
        attrs = data.get("attributes") or {}
        if attrs.get("fileFormats"):
            data = {**data, "attributes": {**attrs, "fileFormats": self._rewrite_formats(attrs["fileFormats"])}}
        body = {"data": data}
        wanted = {p.strip() for p in params.get("include", "").split(",")}
        if "attachments" in wanted and detail.get("included") is not None:
            body["included"] = [self._rewrite_attachment(item) for item in detail["included"]]
        return body

    def _rewrite_attachment(self, item: dict) -> dict:
        attrs = item.get("attributes") or {}
        if not attrs.get("fileFormats"):
            return item
        return {**item, "attributes": {**attrs, "fileFormats": self._rewrite_formats(attrs["fileFormats"])}}

    def _rewrite_formats(self, formats: list) -> list:
        out = []
        for ff in formats:
            url = (ff or {}).get("fileUrl") or ""
            if url.startswith(DOWNLOADS_PREFIX) and self.snapshot.has_file(url[len(DOWNLOADS_PREFIX):]):
                ff = {**ff, "fileUrl": f"{self.files_url}/{url[len(DOWNLOADS_PREFIX):]}"}
            out.append(ff)
        return out

    # ------------------------------------------------------------ documents
    def _documents_list(self, params: Mapping[str, str]) -> dict:
        filters = _filters(params, _DOCUMENT_FILTERS)
        size, page = _page(params)
        sort = _sort(params, ("postedDate", "lastModifiedDate", "documentId", "title", "commentEndDate"))
        posted = _day_range(filters, "postedDate")
        end = _day_range(filters, "commentEndDate")
        lm = self._lm_range(filters)
        within = _bool_param(filters["withinCommentPeriod"], "withinCommentPeriod") if "withinCommentPeriod" in filters else None
        terms = search_terms(filters.get("searchTerm") or "")
        now = int(datetime.now(UTC).timestamp())
        records = self.snapshot.document_records()

        def keep(record) -> bool:
            a = record["data"]["attributes"]
            for name in ("docketId", "documentType", "frDocNum", "subtype"):
                if name in filters and str(a.get(name) or "").lower() != filters[name].lower():
                    return False
            if "agencyId" in filters and str(a.get("agencyId") or "").lower() != filters["agencyId"].lower():
                return False
            if not (_in_range(to_epoch(a.get("postedDate")), *posted) and _in_range(to_epoch(a.get("commentEndDate")), *end)):
                return False
            if lm != (None, None) and not _in_range(_lm_of(a), lm[0], None if lm[1] is None else lm[1] + 1):
                return False
            if within is not None and _open(a, now) != within:
                return False
            text = " ".join(str(a.get(k) or "") for k in ("title", "docketId", "frDocNum", "documentType")).lower()
            return all(t in f"{record['data']['id'].lower()} {text}" for t in terms)

        found = sort_records((r for r in records if keep(r)), sort, {
            "postedDate": _ts_key("postedDate"), "commentEndDate": _ts_key("commentEndDate"),
            "lastModifiedDate": lambda r: _lm_of(r["data"]["attributes"]),
            "documentId": lambda r: r["data"]["id"], "title": lambda r: str(r["data"]["attributes"].get("title") or ""),
        }, lambda r: r["data"]["id"])
        start = (page - 1) * size
        items = [self._document_item(r) for r in found[start:start + size]]
        return {"data": items, "meta": _meta(len(found), size, page, len(items))}

    def _document_item(self, record: dict) -> dict:
        a = record["data"]["attributes"]
        names = ("agencyId", "commentStartDate", "commentEndDate", "docketId", "documentType", "frDocNum",
                 "lastModifiedDate", "objectId", "openForComment", "postedDate", "subtype", "title", "withdrawn")
        attrs = {name: a.get(name) for name in names}
        attrs["highlightedContent"] = ""
        doc_id = record["data"]["id"]
        return {"id": doc_id, "type": "documents", "attributes": attrs, "links": {"self": f"{self.base_url}/documents/{doc_id}"}}

    def _document_detail(self, document_id: str, params: Mapping[str, str]) -> dict:
        record = self.snapshot.documents.get(document_id)
        if record is None:
            raise _api_error(404, "The document was not found", f"No document with id {document_id}")
        return self._detail_body(record, params)

    # ------------------------------------------------------------ dockets
    def _dockets_list(self, params: Mapping[str, str]) -> dict:
        filters = _filters(params, _DOCKET_FILTERS)
        size, page = _page(params)
        sort = _sort(params, ("title", "docketId", "lastModifiedDate"))
        lm = self._lm_range(filters)
        terms = search_terms(filters.get("searchTerm") or "")
        records = self.snapshot.docket_records()

        def keep(record) -> bool:
            a = record["data"]["attributes"]
            for name in ("agencyId", "docketType"):
                if name in filters and str(a.get(name) or "").lower() != filters[name].lower():
                    return False
            if lm != (None, None) and not _in_range(_lm_of(a), lm[0], None if lm[1] is None else lm[1] + 1):
                return False
            keywords = a.get("keywords") or []
            text = " ".join([record["data"]["id"], str(a.get("title") or ""), str(a.get("dkAbstract") or ""),
                             *(str(k) for k in (keywords if isinstance(keywords, list) else [keywords]))]).lower()
            return all(t in text for t in terms)

        found = sort_records((r for r in records if keep(r)), sort, {
            "docketId": lambda r: r["data"]["id"], "title": lambda r: str(r["data"]["attributes"].get("title") or ""),
            "lastModifiedDate": lambda r: _lm_of(r["data"]["attributes"]),
        }, lambda r: r["data"]["id"])
        start = (page - 1) * size
        items = []
        for record in found[start:start + size]:
            a = record["data"]["attributes"]
            lm_value = _lm_of(a)
            items.append({
                "id": record["data"]["id"], "type": "dockets",
                "attributes": {"agencyId": a.get("agencyId"), "docketType": a.get("docketType"),
                               "highlightedContent": "",
                               "lastModifiedDate": None if lm_value == _NONE_TS else _iso(lm_value),
                               "objectId": a.get("objectId"), "title": a.get("title")},
                "links": {"self": f"{self.base_url}/dockets/{record['data']['id']}"},
            })
        return {"data": items, "meta": _meta(len(found), size, page, len(items))}

    def _docket_detail(self, docket_id: str, params: Mapping[str, str]) -> dict:
        record = self.snapshot.dockets.get(docket_id)
        if record is None:
            raise _api_error(404, "The docket was not found", f"No docket with id {docket_id}")
        return {"data": record["data"]}

    @staticmethod
    def _lm_range(filters: Mapping[str, str]) -> tuple[int | None, int | None]:
        ge = le = None
        if "lastModifiedDate][ge" in filters:
            ge = _eastern(filters["lastModifiedDate][ge"], "lastModifiedDate][ge")
        if "lastModifiedDate][le" in filters:
            le = _eastern(filters["lastModifiedDate][le"], "lastModifiedDate][le")
        return ge, le


_OVER_LIMIT_MESSAGE = ("You have exceeded your rate limit. Try again later or contact us at "
                       "https://api.data.gov:443/contact/ for assistance")


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _in_range(value: int | None, ge: int | None, lt: int | None) -> bool:
    if ge is None and lt is None:
        return True
    if value is None:
        return False
    return (ge is None or value >= ge) and (lt is None or value < lt)


def _open(attrs: Mapping, now: int) -> bool:
    start, end = to_epoch(attrs.get("commentStartDate")), to_epoch(attrs.get("commentEndDate"))
    if start is None and end is None:
        return bool(attrs.get("openForComment"))
    return (start is None or start <= now) and (end is None or now <= end)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _gateway_page(status: int) -> bytes:
    title = {502: "502 Bad Gateway", 503: "503 Service Unavailable"}.get(status, str(status))
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>".encode()
