"""Sync one docket from regulations.gov into DuckDB: complete, incremental, resumable.

Fetching is separate from saving: `comment_pages()` yields list pages (the
5,000-result cap handled by re-querying from the last `lastModifiedDate`, in
US Eastern time); `DocketSync.process_page()` fetches the details a page needs
and saves them together with the cursor in ONE transaction, so a process
killed at any point loses at most the page in flight.

The cursor (`sync_state.cursor_last_modified`) means "every comment listed
before this instant is stored or recorded in sync_errors". The next run lists
only from the cursor (`ge`: overlapping, de-duplicated on id), then checks the
API's total against what is stored and relists the whole docket when
something is missing (self-healing: a comment posted with an old
lastModifiedDate, or one that slid between pages while we paged).

A comment whose detail keeps failing is written to `sync_errors` with its
reason and retried at the start of the next run; one bad item never stops a run.

`sync_docket()` runs every stage (`STAGES`, in order); the Prefect flow makes each a task.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from comments import records, store
from comments.client import ApiError, AuthError, RateLimited, RegulationsClient
from comments.progress import noop

log = logging.getLogger(__name__)

EASTERN = ZoneInfo("America/New_York")
PAGE_SIZE = 250  # the API's largest page
MAX_PAGE_NUMBER = 20  # page[number] above 20 is a 400: one query reaches 5,000 results
MAX_FULL_PASSES = 3  # relists of the whole docket in one run before calling it partial


# --------------------------------------------------------------------------- time


def eastern_filter_value(utc: datetime) -> str:
    """The `filter[lastModifiedDate][ge]` value for a UTC instant: US Eastern wall time.

    When that wall time is ambiguous (the repeated hour when daylight saving
    ends), the server may read it as the later of the two instants, which
    would skip comments: step back an hour so either reading is at or before
    the instant (`ge` overlaps; duplicates are dropped on id).
    """
    if utc.tzinfo is None:
        utc = utc.replace(tzinfo=UTC)
    instant = utc.replace(microsecond=0)
    local = instant.astimezone(EASTERN)
    other_fold = local.replace(fold=1 - local.fold)
    if other_fold.utcoffset() != local.utcoffset():  # ambiguous wall time
        local = (instant - timedelta(hours=1)).astimezone(EASTERN)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def list_modified(item: dict) -> datetime | None:
    return records.parse_ts((item.get("attributes") or {}).get("lastModifiedDate"))


# --------------------------------------------------------------------------- fetching


@dataclass
class ListPage:
    items: list[dict]
    total: int | None  # totalElements of the query this page belongs to
    filtered: bool  # True when that query had a lastModifiedDate filter


class ListStuck(Exception):
    """More than 5,000 comments share one lastModifiedDate: the cursor cannot move past them."""


def comment_pages(client: RegulationsClient, docket_id: str, since: datetime | None = None) -> Iterator[ListPage]:
    """A docket's comment list, page by page, sorted by lastModifiedDate then documentId.

    Past 20 pages the query restarts at the last item's lastModifiedDate
    (`ge`, Eastern time), so the pages overlap: callers de-duplicate on id.
    """
    ge = eastern_filter_value(since) if since else None
    while True:
        last_item = None
        for number in range(1, MAX_PAGE_NUMBER + 1):
            body = client.comment_list(docket_id, page_number=number, page_size=PAGE_SIZE, last_modified_ge=ge)
            items = body.get("data") or []
            meta = body.get("meta") or {}
            yield ListPage(items, _int(meta.get("totalElements")), ge is not None)
            if items:
                last_item = items[-1]
            if not items or not _has_next(meta, number, len(items)):
                return
        modified = list_modified(last_item) if last_item else None
        if modified is None:
            raise ListStuck(f"list item {last_item and last_item.get('id')} has no lastModifiedDate")
        next_ge = eastern_filter_value(modified)
        if next_ge == ge:
            raise ListStuck(f"more than 5,000 comments share lastModifiedDate {modified:%Y-%m-%d %H:%M:%S} UTC")
        ge = next_ge


def _has_next(meta: dict, number: int, count: int) -> bool:
    if "hasNextPage" in meta:
        return bool(meta["hasNextPage"])
    pages = _int(meta.get("totalPages"))
    return count >= PAGE_SIZE and (pages is None or number < pages)


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- result


@dataclass
class SyncResult:
    docket_id: str
    run_id: str
    status: str = "running"  # complete | partial | failed
    requests: int = 0
    list_requests: int = 0
    detail_requests: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    retried_ok: int = 0
    api_total: int | None = None
    stored_total: int = 0
    duration_s: float = 0.0
    rate_remaining: int | None = None
    passes: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def summary(self) -> str:
        total = f"{self.stored_total:,}" + (f" of {self.api_total:,}" if self.api_total is not None else "")
        text = (
            f"{self.docket_id}: {self.status}; {total} comments stored; "
            f"{self.new:,} new, {self.updated:,} updated, {self.failed:,} failed; "
            f"{self.requests:,} requests in {self.duration_s:.1f} s"
        )
        if self.rate_remaining is not None:
            text += f"; {self.rate_remaining:,} requests left this hour"
        if self.message:
            text += f" ({self.message})"
        return text

    def as_dict(self) -> dict:
        return asdict(self) | {"complete": self.complete}


# --------------------------------------------------------------------------- the run


class DocketSync:
    """One sync run of one docket. Stages: start, metadata, retry_failed, comments, finish."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        client: RegulationsClient,
        docket_id: str,
        *,
        max_comments: int | None = None,
        progress: Callable[..., None] = noop,
    ):
        self.con = con
        self.client = client
        self.docket_id = docket_id
        self.max_comments = max_comments
        self.progress = progress
        self.result = SyncResult(docket_id=docket_id, run_id=uuid.uuid4().hex)
        self._started = time.monotonic()
        self._requests_at_start = client.stats.requests
        self._kinds_at_start = dict(client.stats.by_kind)
        self._attempted: set[str] = set()  # ids whose detail this run already asked for
        self._details = 0
        self.stopped = False  # max_comments reached
        self._list_broken = False  # a list page failed for good

    # ------------------------------------------------------------ stages

    def start(self) -> None:
        now = records.now_utc()
        self.con.execute(
            "update sync_runs set status = 'failed', message = 'interrupted: the process ended before the run finished'"
            " where docket_id = ? and status = 'running'",
            [self.docket_id],
        )
        self.con.execute(
            "insert into sync_runs (run_id, docket_id, started_at, status) values (?, ?, ?, 'running')",
            [self.result.run_id, self.docket_id, now],
        )
        self._set_state(last_started_at=now, last_run_id=self.result.run_id)

    def metadata(self) -> None:
        """The docket and its documents. A docket that does not exist raises NotFound."""
        detail = self.client.docket(self.docket_id)
        documents = list(self.client.documents(self.docket_id))
        self.con.execute("begin transaction")
        try:
            records.save_docket(self.con, detail)
            records.save_documents(self.con, documents)
            self._set_state(documents_synced_at=records.now_utc())
            self.con.execute("commit")
        except Exception:
            self.con.execute("rollback")
            raise

    def retry_failed(self) -> None:
        """Ask again for every comment that failed in an earlier run."""
        rows = self.con.execute(
            "select item_id, last_modified from sync_errors"
            " where docket_id = ? and item_type = 'comment' and resolved_at is null order by item_id",
            [self.docket_id],
        ).fetchall()
        if not rows:
            return
        items = [
            {"id": item_id, "attributes": {"lastModifiedDate": modified.isoformat() + "Z" if modified else None}}
            for item_id, modified in rows
        ]
        before = self.result.failed
        self.progress(0, total=len(items))
        for start in range(0, len(items), PAGE_SIZE):
            self.process_page(items[start : start + PAGE_SIZE], advance_cursor=False, force=True)
            if self.stopped:
                break
        self.result.retried_ok = len(items) - (self.result.failed - before)

    def comments(self) -> None:
        """List from the cursor (or from the start), fetch what is new or changed, then check the total."""
        cursor = self._cursor()
        passes = 0
        since = cursor
        while True:
            kind = "incremental" if since else "full"
            self.result.passes.append(kind)
            total = self._list_pass(since)
            if self.stopped or self._list_broken:
                return  # what was done is saved; the cursor says where the next run starts
            api_total = total if kind == "full" and total is not None else self._api_total()
            self.result.api_total = api_total
            missing = api_total - self._known_count()
            if missing <= 0:
                self._resolve_list_errors()
                return
            passes += kind == "full"
            if passes >= MAX_FULL_PASSES:
                self.result.message = f"{missing:,} listed comments still missing after {passes} full passes"
                return
            log.info("%s: %d comments missing after a %s pass; relisting the whole docket", self.docket_id, missing, kind)
            since = None

    def finish(self, error: BaseException | None = None) -> SyncResult:
        r = self.result
        r.duration_s = time.monotonic() - self._started
        r.requests = self.client.stats.requests - self._requests_at_start
        kinds = self.client.stats.by_kind
        r.list_requests = kinds.get("comment_list", 0) - self._kinds_at_start.get("comment_list", 0)
        r.detail_requests = kinds.get("comment_detail", 0) - self._kinds_at_start.get("comment_detail", 0)
        r.rate_remaining = self.client.rate_remaining()
        r.stored_total = store.scalar(self.con, "select count(*) from comments where docket_id = ?", [self.docket_id]) or 0
        if error is not None:
            r.status = "failed"
            r.message = r.message or _one_line(error)
        elif self.stopped:
            r.status = "partial"
            r.message = r.message or f"stopped after {self.max_comments:,} comment details (--max-comments)"
        elif r.api_total is not None and self._known_count() >= r.api_total and not r.message:
            r.status = "complete"
        else:
            r.status = "partial"
        now = records.now_utc()
        self.con.execute(
            """update sync_runs set finished_at = ?, status = ?, requests = ?, list_requests = ?,
               detail_requests = ?, new_comments = ?, updated = ?, unchanged = ?, failed = ?,
               duration_s = ?, rate_remaining = ?, message = ?, passes = ?, api_total = ?
               where run_id = ?""",
            [now, r.status, r.requests, r.list_requests, r.detail_requests, r.new, r.updated, r.unchanged,
             r.failed, r.duration_s, r.rate_remaining, r.message or None, ",".join(r.passes) or None,
             r.api_total, r.run_id],
        )
        state = {"last_finished_at": now}
        if r.api_total is not None:
            state["api_total"] = r.api_total
        if r.status == "complete":
            state["last_complete_at"] = now
        self._set_state(**state)
        return r

    # ------------------------------------------------------------ one page

    def process_page(self, items: list[dict], *, advance_cursor: bool = True, force: bool = False) -> None:
        """Fetch the details this page needs and save them with the cursor in one transaction.

        `force` fetches every item (the retry of earlier failures); otherwise an
        item is fetched when it is not stored or its lastModifiedDate changed.
        """
        modified = {i["id"]: list_modified(i) for i in items}
        stored = self._stored_modified(list(modified))
        todo, processed = [], []
        for item in items:
            cid = item["id"]
            if not force and (cid in self._attempted or (cid in stored and stored[cid] == modified[cid])):
                processed.append(item)
                if cid in stored:
                    self.result.unchanged += 1
                continue
            if self.max_comments is not None and self._details >= self.max_comments:
                self.stopped = True
                break
            todo.append(item)
            processed.append(item)
            self._details += 1
        details, failures = [], []
        for item in todo:
            self._attempted.add(item["id"])
            try:
                details.append(self.client.comment(item["id"]))
            except (AuthError, RateLimited):
                raise  # the whole run cannot go on; what is saved stays saved
            except ApiError as exc:
                failures.append((item, exc))
            self.progress(1)
        if self.max_comments is None:
            self.progress(len(processed) - len(todo))
        cursor = None
        if advance_cursor and processed:
            cursor = max((modified[i["id"]] for i in processed if modified[i["id"]]), default=None)
        self._commit(details, failures, modified, cursor)

    def _commit(self, details, failures, modified, cursor) -> None:
        ok_ids = [d["data"]["id"] for d in details]

        def bookkeeping(con):
            if failures:
                _record_failures(con, self.docket_id, self.result.run_id, failures, modified)
            if ok_ids:
                con.execute(
                    "update sync_errors set resolved_at = ? where item_type = 'comment' and resolved_at is null"
                    " and item_id in (select unnest(?::varchar[]))",
                    [records.now_utc(), ok_ids],
                )
            if cursor is not None:
                self._set_state(con=con, cursor_last_modified=cursor)

        if details:
            counts = records.save_comments(
                self.con, details, last_modified={cid: modified.get(cid) for cid in ok_ids}, source="api", also=bookkeeping
            )
            self.result.new += counts["new"]
            self.result.updated += counts["updated"]
        elif failures or cursor is not None:
            self.con.execute("begin transaction")
            try:
                bookkeeping(self.con)
                self.con.execute("commit")
            except Exception:
                self.con.execute("rollback")
                raise
        self.result.failed += len(failures)

    # ------------------------------------------------------------ helpers

    def _list_pass(self, since: datetime | None) -> int | None:
        """One listing from `since` (None: the whole docket). Returns the first query's total."""
        seen: set[str] = set()
        first_total = None
        try:
            for page in comment_pages(self.client, self.docket_id, since):
                if first_total is None:
                    first_total = page.total
                    if page.total is not None and self.max_comments is None:
                        self.progress(0, total=page.total)
                    elif self.max_comments is not None:
                        self.progress(0, total=self.max_comments)
                fresh = [i for i in page.items if i.get("id") and i["id"] not in seen]
                seen.update(i["id"] for i in fresh)
                if fresh:
                    self.process_page(fresh)
                if self.stopped:
                    return first_total
        except (AuthError, RateLimited):
            raise
        except (ApiError, ListStuck) as exc:
            _record_failures(self.con, self.docket_id, self.result.run_id, [({"id": f"list:{self.docket_id}"}, exc)], {}, item_type="list")
            self.result.message = f"listing stopped: {_one_line(exc)}"
            self._list_broken = True
            return None
        return first_total

    def _api_total(self) -> int:
        body = self.client.comment_list(self.docket_id, page_number=1, page_size=5)
        return _int((body.get("meta") or {}).get("totalElements")) or 0

    def _known_count(self) -> int:
        """Comments stored, plus those recorded as failing (retried next run, not missing)."""
        return store.scalar(
            self.con,
            """select (select count(*) from comments where docket_id = $1)
                    + (select count(*) from sync_errors e where e.docket_id = $1 and e.item_type = 'comment'
                       and e.resolved_at is null
                       and not exists (select 1 from comments c where c.comment_id = e.item_id))""",
            [self.docket_id],
        ) or 0

    def _resolve_list_errors(self) -> None:
        self.con.execute(
            "update sync_errors set resolved_at = ? where docket_id = ? and item_type = 'list' and resolved_at is null",
            [records.now_utc(), self.docket_id],
        )

    def _cursor(self) -> datetime | None:
        return store.scalar(self.con, "select cursor_last_modified from sync_state where docket_id = ?", [self.docket_id])

    def _stored_modified(self, ids: list[str]) -> dict[str, datetime | None]:
        if not ids:
            return {}
        rows = self.con.execute(
            "select comment_id, last_modified from comments where comment_id in (select unnest(?::varchar[]))", [ids]
        ).fetchall()
        return dict(rows)

    def _set_state(self, con=None, **values) -> None:
        con = con or self.con
        cols = ["docket_id", *values]
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)
        con.execute(
            f"insert into sync_state ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})"
            f" on conflict (docket_id) do update set {updates}",
            [self.docket_id, *values.values()],
        )


def _record_failures(con, docket_id, run_id, failures, modified, *, item_type: str = "comment") -> None:
    """Upsert failing items into sync_errors in one statement (attempts counted up)."""
    now = records.now_utc()
    batch = pa.Table.from_pylist(
        [
            {
                "docket_id": docket_id,
                "item_type": item_type,
                "item_id": item["id"],
                "status_code": getattr(exc, "status", None),
                "reason": _one_line(exc),
                "last_modified": modified.get(item["id"]),
                "run_id": run_id,
            }
            for item, exc in failures
        ],
        schema=pa.schema(
            [("docket_id", pa.string()), ("item_type", pa.string()), ("item_id", pa.string()),
             ("status_code", pa.int32()), ("reason", pa.string()), ("last_modified", pa.timestamp("us")),
             ("run_id", pa.string())]
        ),
    )
    con.register("_sync_failures", batch)
    try:
        con.execute(
            """insert into sync_errors
                 (docket_id, item_type, item_id, status_code, reason, attempts, first_seen, last_seen, run_id, last_modified)
               select docket_id, item_type, item_id, status_code, reason, 1, $now, $now, run_id, last_modified
               from _sync_failures
               on conflict (item_type, item_id) do update set
                 status_code = excluded.status_code, reason = excluded.reason,
                 attempts = sync_errors.attempts + 1, last_seen = excluded.last_seen,
                 resolved_at = null, run_id = excluded.run_id,
                 last_modified = coalesce(excluded.last_modified, sync_errors.last_modified)""",
            {"now": now},
        )
    finally:
        con.unregister("_sync_failures")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]


# --------------------------------------------------------------------------- entry point

STAGES = (
    ("docket and documents", DocketSync.metadata),
    ("retry earlier failures", DocketSync.retry_failed),
    ("comments: list, fetch new and changed, save per page", DocketSync.comments),
)


def _call(name: str, fn: Callable, /, *args):
    return fn(*args)



def sync_docket(
    con: duckdb.DuckDBPyConnection,
    client: RegulationsClient,
    docket_id: str,
    *,
    max_comments: int | None = None,
    progress: Callable[..., None] = noop,
    stage: Callable[..., None] | None = None,
) -> SyncResult:
    """Bring one docket up to date: metadata, earlier failures, new and changed comments.

    Raises `NotFound` for a docket that does not exist and `AuthError` for a bad
    key (after recording the run as failed); anything per-comment is recorded
    in `sync_errors` and the run goes on. `stage(name, fn, run)` runs each of
    `STAGES` (default: a plain call); the Prefect flow passes one that makes
    each a task run, so both follow this one order.
    """
    run = DocketSync(con, client, docket_id, max_comments=max_comments, progress=progress)
    run.start()
    try:
        for name, step in STAGES:
            if not run.stopped:  # --max-comments reached
                (stage or _call)(name, step, run)
    except BaseException as exc:
        run.finish(exc)
        raise
    return run.finish()
