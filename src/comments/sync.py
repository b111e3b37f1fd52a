"""Sync one docket from regulations.gov into DuckDB: complete, incremental, resumable, concurrent.

Fetching is separate from saving: `comments.listing.Lister` yields list pages
(past the 5,000-result cap, decided by counts, never by paging flags);
`DocketSync.process_page()` fetches the details a page needs, several at a
time over the keys, and saves them together with the page's listed ids and
the cursor in ONE transaction, so a process killed at any point loses at most
the page in flight and duplicates nothing.

Completeness is by identity: every listing records the ids it saw
(`listed_comments`). The run is complete when every id the API lists is
stored; ids that keep failing are recorded in `sync_errors` with their reason
("complete except N failing"); ids stored but absent from the last complete
full listing are reported as removed.

The cursor (`sync_state.cursor_last_modified`) means "every comment listed
before this instant is stored or recorded in sync_errors". The next run lists
only from the cursor, then compares the API's total with the ids it knows to
be listed; when they differ it relists the whole docket once, and again only
while a relist still finds ids no listing had shown (a relist that finds
nothing new is not repeated).

Comments imported from a bulk-download CSV are kept when the list says they
have not changed since the file was made (their lastModifiedDate is not later
than the file's newest posted date): a sync after `comments import bulk-csv`
fetches only what the file lacked or what changed since.

`sync_docket()` runs every stage (`STAGES`, in order); the Prefect flow makes each a task.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from comments import records, settings, store
from comments.client import ApiError, AuthError, RateLimited, RegulationsClient
from comments.errors import UserError
from comments.listing import (  # noqa: F401  (eastern_filter_value: part of this module's API)
    PAGE_SIZE,
    Lister,
    ListPage,
    ListStuck,
    api_total,
    eastern_filter_value,
    list_modified,
)
from comments.progress import noop
from comments.sync_status import (  # noqa: F401  (part of this module's API)
    DEAD_RUN,
    HEARTBEAT_STALE_S,
    IdStatus,
    id_status,
    run_is_live,
    this_process,
)

log = logging.getLogger(__name__)

MAX_FULL_PASSES = 3  # relists of the whole docket in one run, each only while the last found new ids


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
    listed: int | None = None  # ids the API lists (known from listings, removed ones excluded)
    failing: int = 0  # listed ids not stored: their details keep failing (see sync_errors)
    missing: int = 0  # listed ids neither stored nor recorded as failing
    removed: int = 0  # stored ids the last complete full listing no longer showed
    from_bulk_csv: int = 0  # listed ids this run kept from a bulk CSV import instead of fetching
    by_source: dict[str, int] = field(default_factory=dict)  # stored comments per source
    duration_s: float = 0.0
    rate_remaining: int | None = None
    passes: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def summary(self) -> str:
        if self.listed is not None:
            stored_listed = self.listed - self.failing - self.missing
            total = f"{stored_listed:,} of {self.listed:,} listed comments stored"
        else:
            total = f"{self.stored_total:,}" + (f" of {self.api_total:,}" if self.api_total is not None else "") + " comments stored"
        status = self.status
        if status == "complete" and self.failing:
            status = f"complete except {self.failing:,} failing (ids in `comments status {self.docket_id}`)"
        text = f"{self.docket_id}: {status}; {total}"
        if len(self.by_source) > 1 or self.from_bulk_csv:
            text += " (" + ", ".join(f"{n:,} from {_SOURCE_NAMES.get(s, s)}" for s, n in sorted(self.by_source.items())) + ")"
        text += f"; {self.new:,} new, {self.updated:,} updated, {self.failed:,} failed"
        if self.from_bulk_csv:
            text += f", {self.from_bulk_csv:,} kept from the bulk CSV"
        if self.removed:
            text += f"; {self.removed:,} stored but no longer listed"
        text += f"; {self.requests:,} requests in {self.duration_s:.1f} s"
        if self.rate_remaining is not None:
            text += f"; {self.rate_remaining:,} requests left this hour"
        if self.message:
            text += f" ({self.message})"
        return text

    def as_dict(self) -> dict:
        return asdict(self) | {"complete": self.complete}


_SOURCE_NAMES = {"api": "the API", "bulk_csv": "a bulk CSV", "mirrulations": "Mirrulations"}


@dataclass
class _Listing:
    """One pass over the list: the ids it saw and how many no earlier listing had shown."""

    listing_id: str
    kind: str  # full | incremental
    started_at: datetime
    seen: set[str] = field(default_factory=set)
    new_ids: int = 0
    total: int | None = None
    status: str = "running"


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
        concurrency: int | None = None,
    ):
        self.con = con
        self.client = client
        self.docket_id = docket_id
        self.max_comments = max_comments
        self.progress = progress
        self.concurrency = concurrency or settings.sync_concurrency()
        self.result = SyncResult(docket_id=docket_id, run_id=uuid.uuid4().hex)
        self._started = time.monotonic()
        self._requests_at_start = client.stats.requests
        self._kinds_at_start = dict(client.stats.by_kind)
        self._attempted: set[str] = set()  # ids whose detail this run already asked for
        self._details = 0
        self._documents: list[str] = []  # objectIds of the docket's documents (to split big list windows)
        self._csv_as_of: datetime | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._unpaged: list[str] = []
        self.stopped = False  # max_comments reached
        self._list_broken = False  # a list page failed for good

    # ------------------------------------------------------------ stages

    def start(self) -> None:
        """Record the run as this process's; a live run of the docket elsewhere is an error, a dead one is closed.

        One transaction: with the database shared by turns (`store.shared`) no
        other process can start a run of this docket between the check and the insert.
        """
        now = records.now_utc()
        owner = this_process()
        self.con.execute("begin transaction")
        try:
            for run_id, started, host, pid, pid_started, heartbeat in self.con.execute(
                "select run_id, started_at, host, pid, pid_started, heartbeat_at from sync_runs"
                " where docket_id = ? and status = 'running'", [self.docket_id],
            ).fetchall():
                if run_is_live(host, pid, pid_started, heartbeat, now=now):
                    raise DocketBusy(
                        f"docket {self.docket_id} is being synced by process {pid} on {host} (since "
                        f"{started:%Y-%m-%d %H:%M} UTC): wait for that run to finish"
                    )
                self.con.execute(
                    "update sync_runs set status = 'failed', message = ? where run_id = ?", [DEAD_RUN, run_id]
                )
            self.con.execute(
                "update listings set status = 'broken', finished_at = ? where docket_id = ? and status = 'running'",
                [now, self.docket_id],
            )
            self.con.execute(
                "insert into sync_runs (run_id, docket_id, started_at, status, host, pid, pid_started, heartbeat_at)"
                " values (?, ?, ?, 'running', ?, ?, ?, ?)",
                [self.result.run_id, self.docket_id, now, owner["host"], owner["pid"], owner["pid_started"], now],
            )
            self._set_state(last_started_at=now, last_run_id=self.result.run_id)
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise

    def metadata(self) -> None:
        """The docket and its documents. A docket that does not exist raises NotFound."""
        self._release()
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
        self._documents = sorted({
            str(d.get("attributes", {}).get("objectId")) for d in documents
            if isinstance(d, dict) and (d.get("attributes") or {}).get("objectId")
        })

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
            self.process_page(items[start : start + PAGE_SIZE], force=True)
            if self.stopped:
                break
        self.result.retried_ok = len(items) - (self.result.failed - before)

    def comments(self) -> None:
        """List from the cursor (or the whole docket), fetch what is new or changed, then reconcile ids."""
        self._csv_as_of = store.scalar(
            self.con, "select max(posted_date) from comments where docket_id = ? and source = 'bulk_csv'", [self.docket_id]
        )
        since = self._cursor()
        full_passes = 0
        while True:
            kind = "incremental" if since else "full"
            self.result.passes.append(kind)
            listing = self._list_pass(kind, since)
            if self.stopped or self._list_broken:
                return  # what was done is saved; the cursor says where the next run starts
            if kind == "full":
                full_passes += 1
                total = listing.total
            else:
                self._release()
                total = api_total(self.client, self.docket_id)
            self.result.api_total = total
            if self._unpaged or total is None:
                return
            self._fetch_missing()
            listed = self._listed_count()
            # after a full listing, more listed than counted means comments arrived while it ran;
            # after an incremental one, any difference needs a full listing to say which ids
            if listed == total or (kind == "full" and listed > total):
                self._resolve_list_errors()
                return
            if kind == "full" and listing.new_ids == 0:
                # relisting again would cost as much and find nothing: say what disagrees
                self.result.message = (
                    f"the API counts {total:,} comments but its list shows {listed:,} "
                    f"(a relist found no new id)"
                )
                return
            if full_passes >= MAX_FULL_PASSES:
                self.result.message = f"the API counts {total:,} comments, its list still shows {listed:,} after {full_passes} full passes"
                return
            log.info("%s: the API counts %d comments, %d are listed; relisting the whole docket", self.docket_id, total, listed)
            since = None

    def finish(self, error: BaseException | None = None) -> SyncResult:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        r = self.result
        r.duration_s = time.monotonic() - self._started
        r.requests = self.client.stats.requests - self._requests_at_start
        kinds = self.client.stats.by_kind
        r.list_requests = kinds.get("comment_list", 0) - self._kinds_at_start.get("comment_list", 0)
        r.detail_requests = kinds.get("comment_detail", 0) - self._kinds_at_start.get("comment_detail", 0)
        r.rate_remaining = self.client.rate_remaining()
        ids = id_status(self.con, self.docket_id)
        r.stored_total, r.by_source = ids.stored, ids.by_source
        r.failing, r.missing, r.removed = ids.failing, ids.missing, ids.removed
        r.listed = ids.listed if ids.ever_listed else None
        if self._unpaged:
            r.message = "; ".join([*self._unpaged, *([r.message] if r.message else [])])
        if error is not None:
            r.status = "failed"
            r.message = r.message or _one_line(error)
        elif self.stopped:
            r.status = "partial"
            r.message = r.message or f"stopped after {self.max_comments:,} comment details (--max-comments)"
        elif (
            not self._list_broken and not self._unpaged and r.api_total is not None
            and ids.missing == 0 and ids.listed >= r.api_total and not r.message
        ):
            r.status = "complete"
        else:
            r.status = "partial"
            if not r.message and ids.missing:
                r.message = f"{ids.missing:,} listed comments not stored yet: run the same command again"
        now = records.now_utc()
        self.con.execute(
            """update sync_runs set finished_at = ?, heartbeat_at = ?, status = ?, requests = ?, list_requests = ?,
               detail_requests = ?, new_comments = ?, updated = ?, unchanged = ?, failed = ?,
               duration_s = ?, rate_remaining = ?, message = ?, passes = ?, api_total = ?,
               listed = ?, missing = ?, removed = ?, from_bulk_csv = ?
               where run_id = ?""",
            [now, now, r.status, r.requests, r.list_requests, r.detail_requests, r.new, r.updated, r.unchanged,
             r.failed, r.duration_s, r.rate_remaining, r.message or None, ",".join(r.passes) or None,
             r.api_total, r.listed, r.missing, r.removed, r.from_bulk_csv, r.run_id],
        )
        state = {"last_finished_at": now}
        if r.api_total is not None:
            state["api_total"] = r.api_total
        if r.status == "complete":
            state["last_complete_at"] = now
        self._set_state(**state)
        return r

    # ------------------------------------------------------------ one page

    def process_page(
        self, items: list[dict], *, cursor: datetime | None = None, listing: _Listing | None = None,
        listed: list[dict] | None = None, force: bool = False,
    ) -> None:
        """Fetch the details this page needs and save them, the listed ids and the cursor in one transaction.

        `force` fetches every item (the retry of earlier failures); otherwise an
        item is fetched when it is not stored or its lastModifiedDate changed
        (a bulk-CSV row counts as current up to the file's newest posted date).
        `listed`: every item the page listed (`items` are those not yet seen in this listing).
        """
        modified = {i["id"]: list_modified(i) for i in items}
        stored = self._stored(list(modified))
        todo, processed, from_csv = [], [], []
        for item in items:
            cid = item["id"]
            if not force:
                known = stored.get(cid)
                if cid in self._attempted or (known is not None and known[0] == modified[cid]):
                    processed.append(item)
                    if known is not None:
                        self.result.unchanged += 1
                    continue
                if known is not None and known[0] is None and known[1] == "bulk_csv" and self._csv_current(modified[cid]):
                    processed.append(item)
                    from_csv.append(cid)
                    continue
            if self.max_comments is not None and self._details >= self.max_comments:
                self.stopped = True
                cursor = None  # the page was not finished: the cursor stays where it was
                break
            todo.append(item)
            processed.append(item)
            self._details += 1
        self._release()
        details, failures, fatal = self._fetch(todo)
        if self.max_comments is None:
            self.progress(len(processed) - len(todo))
        if fatal is not None:
            cursor = None  # save what arrived, then stop the run
        self._commit(details, failures, modified, cursor, listing, listed if fatal is None else None, from_csv)
        self._release()  # the next list page is a request too
        if fatal is not None:
            raise fatal

    def _fetch(self, todo: list[dict]) -> tuple[list[dict], list[tuple[dict, ApiError]], BaseException | None]:
        """Details of `todo`, `concurrency` at a time (the client spreads them over the keys).

        Returns (details, per-item failures, a fatal error that must stop the run).
        """
        details: list[dict] = []
        failures: list[tuple[dict, ApiError]] = []
        if not todo:
            return details, failures, None
        for item in todo:
            self._attempted.add(item["id"])
        if self.concurrency <= 1 or len(todo) == 1:
            for item in todo:
                try:
                    details.append(self.client.comment(item["id"]))
                except (AuthError, RateLimited) as exc:
                    return details, failures, exc
                except ApiError as exc:
                    failures.append((item, exc))
                self.progress(1)
            return details, failures, None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="comment-detail")
            self.client.allow_concurrency(self.concurrency)
        futures = {self._pool.submit(self.client.comment, item["id"]): item for item in todo}
        fatal: BaseException | None = None
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                item = futures[future]
                try:
                    details.append(future.result())
                except (AuthError, RateLimited) as exc:
                    fatal = fatal or exc
                except ApiError as exc:
                    failures.append((item, exc))
                except BaseException as exc:  # a bug or an interrupt: stop, keep what arrived
                    fatal = fatal or exc
                self.progress(1)
            if fatal is not None:
                for future in pending:
                    future.cancel()
                done_rest, _ = wait(pending)
                for future in done_rest:
                    if not future.cancelled() and future.exception() is None:
                        details.append(future.result())
                break
        return details, failures, fatal

    def _commit(self, details, failures, modified, cursor, listing, listed, from_csv) -> None:
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
            if from_csv:
                _keep_csv_rows(con, {cid: modified[cid] for cid in from_csv})
            if listing is not None and listed:
                listing.new_ids += _record_listed(con, self.docket_id, listed, listing.started_at)
            if cursor is not None:
                self._set_state(con=con, cursor_last_modified=cursor)
            con.execute("update sync_runs set heartbeat_at = ? where run_id = ?", [records.now_utc(), self.result.run_id])

        if details:
            counts = records.save_comments(
                self.con, details, last_modified={cid: modified.get(cid) for cid in ok_ids}, source="api", also=bookkeeping
            )
            self.result.new += counts["new"]
            self.result.updated += counts["updated"]
        elif failures or cursor is not None or from_csv or (listing is not None and listed):
            self.con.execute("begin transaction")
            try:
                bookkeeping(self.con)
                self.con.execute("commit")
            except Exception:
                self.con.execute("rollback")
                raise
        self.result.failed += len(failures)
        self.result.from_bulk_csv += len(from_csv)

    # ------------------------------------------------------------ helpers

    def _release(self) -> None:
        # Before every network wait: with a shared connection (`store.shared`) other
        # processes use the database meanwhile; a plain connection keeps the file.
        store.release(self.con)

    def _list_pass(self, kind: str, since: datetime | None) -> _Listing:
        """One listing from `since` (None: the whole docket), recorded with the ids it saw."""
        listing = _Listing(uuid.uuid4().hex, kind, records.now_utc())
        self.con.execute(
            "insert into listings (listing_id, docket_id, run_id, kind, started_at, status) values (?, ?, ?, ?, ?, 'running')",
            [listing.listing_id, self.docket_id, self.result.run_id, kind, listing.started_at],
        )
        lister = Lister(self.client, self.docket_id, self._documents)
        self._release()
        announced = False
        try:
            for page in lister.pages(since):
                if not announced:
                    announced = True
                    total = self.max_comments if self.max_comments is not None else page.total
                    if total is not None:
                        self.progress(0, total=total)
                fresh = [i for i in page.items if i["id"] not in listing.seen]
                listing.seen.update(i["id"] for i in fresh)
                if page.items or page.cursor is not None:
                    self.process_page(fresh, cursor=page.cursor, listing=listing, listed=page.items)
                if self.stopped:
                    listing.status = "stopped"
                    break
            else:
                listing.status = "complete" if not lister.unpaged else "broken"
        except (AuthError, RateLimited):
            listing.status = "broken"
            self._close_listing(listing)
            raise
        except (ApiError, ListStuck) as exc:
            _record_failures(self.con, self.docket_id, self.result.run_id, [({"id": f"list:{self.docket_id}"}, exc)], {}, item_type="list")
            self.result.message = f"listing stopped: {_one_line(exc)}"
            self._list_broken = True
            listing.status = "broken"
        listing.total = lister.first_total
        self._unpaged.extend(u.message(self.docket_id) for u in lister.unpaged)
        if listing.status == "complete" and kind == "full" and listing.total is not None and len(listing.seen) >= listing.total:
            # only a listing that saw at least as many ids as the API counts can tell what left the list:
            # one that lost items to comments moving while it paged cannot
            self._mark_removed(listing)
        self._close_listing(listing, "\\n".join(u.message(self.docket_id) for u in lister.unpaged) or None)
        return listing

    def _close_listing(self, listing: _Listing, unpaged: str | None = None) -> None:
        self.con.execute(
            "update listings set finished_at = ?, status = ?, ids_seen = ?, new_ids = ?, api_total = ?, unpaged = ?"
            " where listing_id = ?",
            [records.now_utc(), listing.status, len(listing.seen), listing.new_ids, listing.total, unpaged,
             listing.listing_id],
        )

    def _mark_removed(self, listing: _Listing) -> None:
        """After a complete full listing: ids it did not show are no longer listed."""
        self.con.execute("begin transaction")
        try:
            self.con.execute(
                "update listed_comments set removed_at = ? where docket_id = ? and last_listed_at < ? and removed_at is null",
                [records.now_utc(), self.docket_id, listing.started_at],
            )
            self._set_state(con=self.con, last_full_listing_at=listing.started_at)
            self.con.execute("commit")
        except Exception:
            self.con.execute("rollback")
            raise

    def _fetch_missing(self) -> None:
        """Ids a listing showed that are neither stored nor failing (e.g. rows deleted by hand): fetch them."""
        rows = self.con.execute(
            """select l.comment_id, l.list_last_modified from listed_comments l
               where l.docket_id = ? and l.removed_at is null
                 and l.comment_id not in (select comment_id from comments)
                 and l.comment_id not in (select item_id from sync_errors where item_type = 'comment' and resolved_at is null)
               order by l.comment_id""",
            [self.docket_id],
        ).fetchall()
        items = [
            {"id": cid, "attributes": {"lastModifiedDate": lm.isoformat() + "Z" if lm else None}}
            for cid, lm in rows if cid not in self._attempted
        ]
        for start in range(0, len(items), PAGE_SIZE):
            self.process_page(items[start : start + PAGE_SIZE], force=True)
            if self.stopped:
                return

    def _listed_count(self) -> int:
        return store.scalar(
            self.con, "select count(*) from listed_comments where docket_id = ? and removed_at is null", [self.docket_id]
        ) or 0

    def _csv_current(self, modified: datetime | None) -> bool:
        return modified is not None and self._csv_as_of is not None and modified <= self._csv_as_of

    def _resolve_list_errors(self) -> None:
        self.con.execute(
            "update sync_errors set resolved_at = ? where docket_id = ? and item_type = 'list' and resolved_at is null",
            [records.now_utc(), self.docket_id],
        )

    def _cursor(self) -> datetime | None:
        return store.scalar(self.con, "select cursor_last_modified from sync_state where docket_id = ?", [self.docket_id])

    def _stored(self, ids: list[str]) -> dict[str, tuple[datetime | None, str | None]]:
        """(last_modified, source) of the stored comments among `ids`."""
        if not ids:
            return {}
        rows = self.con.execute(
            "select comment_id, last_modified, source from comments where comment_id in (select unnest(?::varchar[]))", [ids]
        ).fetchall()
        return {cid: (lm, source) for cid, lm, source in rows}

    def _set_state(self, con=None, **values) -> None:
        con = con or self.con
        cols = ["docket_id", *values]
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)
        con.execute(
            f"insert into sync_state ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})"
            f" on conflict (docket_id) do update set {updates}",
            [self.docket_id, *values.values()],
        )


class DocketBusy(UserError):
    """Another live process is syncing this docket."""


def _record_listed(con, docket_id: str, items: list[dict], listed_at: datetime) -> int:
    """Upsert the ids a list page showed; returns how many no earlier listing had shown."""
    ids = [i["id"] for i in items]
    known = {r[0] for r in con.execute(
        "select comment_id from listed_comments where comment_id in (select unnest(?::varchar[]))", [ids]
    ).fetchall()}
    batch = pa.table({
        "docket_id": pa.array([docket_id] * len(ids), pa.string()),
        "comment_id": pa.array(ids, pa.string()),
        "list_last_modified": pa.array([list_modified(i) for i in items], pa.timestamp("us")),
        "listed_at": pa.array([listed_at] * len(ids), pa.timestamp("us")),
    })
    con.register("_listed_page", batch)
    try:
        con.execute(
            """insert into listed_comments (docket_id, comment_id, list_last_modified, first_listed_at, last_listed_at)
               select docket_id, comment_id, list_last_modified, listed_at, listed_at
               from (select *, row_number() over (partition by comment_id) as n from _listed_page) where n = 1
               on conflict (comment_id) do update set list_last_modified = excluded.list_last_modified,
                 last_listed_at = greatest(listed_comments.last_listed_at, excluded.last_listed_at), removed_at = null"""
        )
    finally:
        con.unregister("_listed_page")
    return len(set(ids) - known)


def _keep_csv_rows(con, modified: dict[str, datetime | None]) -> None:
    """Bulk-CSV rows the list says are unchanged: give them the list's lastModifiedDate (the sync's cursor value)."""
    batch = pa.table({
        "comment_id": pa.array(list(modified), pa.string()),
        "last_modified": pa.array(list(modified.values()), pa.timestamp("us")),
    })
    con.register("_csv_kept", batch)
    try:
        con.execute(
            "update comments set last_modified = k.last_modified from _csv_kept k where comments.comment_id = k.comment_id"
        )
    finally:
        con.unregister("_csv_kept")



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
    concurrency: int | None = None,
    stage: Callable[..., None] | None = None,
) -> SyncResult:
    """Bring one docket up to date: metadata, earlier failures, new and changed comments.

    Raises `NotFound` for a docket that does not exist and `AuthError` for a bad
    key (after recording the run as failed); anything per-comment is recorded
    in `sync_errors` and the run goes on. `stage(name, fn, run)` runs each of
    `STAGES` (default: a plain call); the Prefect flow passes one that makes
    each a task run, so both follow this one order.
    """
    run = DocketSync(con, client, docket_id, max_comments=max_comments, progress=progress, concurrency=concurrency)
    run.start()
    try:
        for name, step in STAGES:
            if not run.stopped:  # --max-comments reached
                (stage or _call)(name, step, run)
    except BaseException as exc:
        run.finish(exc)
        raise
    return run.finish()
