"""The explorer reads a private copy of the database, refreshed whenever no one is writing.

DuckDB allows one read-write process per file, and while it holds the file no
other process can open it, not even read-only; and a reader holding it would
in turn make `comments sync` fail. So the explorer never opens the database
to read it:

- Every couple of seconds it compares the file's size and modification time
  (and its write-ahead log's) with those of its copy. When they differ and
  no process holds a write lock on the file (asked with F_GETLK, which takes
  no lock: see comments.dblock), it copies the bytes under `store.frozen`,
  the read lock every reader of the project takes (`comments status`,
  `search`, `brief` read the file under the same lock through
  `store.reading`): writers wait while the bytes are copied, so the copy is
  one consistent state. Writers hold the file only while they save
  (`store.shared`), so a free moment comes within a page's save. It then
  opens the copy and prepares it for reading (the effective texts and the
  analysis views made tables, the filter values of every comment in one
  sorted table), and swaps it in. Requests in flight finish on the old copy.
- While a sync or an analysis holds the file, pages show the last copy with
  its age and the process holding the database: never an error page.
- Label writes open the real database for a moment. When it is held, the
  label goes to a small queue file beside it (`labels-queue.jsonl`) and is
  written as soon as the database is free; the copy shows it at once.
- After each new copy, the search index (beside the database) is brought up
  to date from the copy: only changed texts and analysis values are re-added.

Files: `<db dir>/<db stem>.explorer/` holds the copy (`snapshot-*.duckdb`,
kept across restarts so a server started during a long sync has something
to show) and the label queue.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from comments import dblock, search_index, store
from comments import labels as labels_mod
from comments.errors import DatabaseLockedError
from comments.resources import sql_text

log = logging.getLogger("comments.explorer")
# How long a refresh waits for the writer's transaction in progress before trying next round.
COPY_WAIT_S = 1.0


def work_dir_for(db_path: str | Path) -> Path:
    path = Path(db_path)
    return path.parent / f"{path.stem}.explorer"


def _stamp(db_path: Path) -> tuple:
    """Size and modification time of the database and its write-ahead log."""
    out = []
    for p in (db_path, db_path.with_name(db_path.name + ".wal")):
        try:
            st = p.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


@dataclass
class Snapshot:
    path: Path
    con: duckdb.DuckDBPyConnection
    source_stamp: tuple
    taken_at: datetime
    dockets: list[str]
    refs: int = 0
    retired: bool = False
    # results computed once per snapshot (a copy never changes, labels aside)
    cache: dict = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET enable_progress_bar = false")  # per connection; a server's console is no place for it
        return cur

    def memo(self, key, compute):
        """`compute(cursor)` once per snapshot and key; later calls get the stored result."""
        with self.cache_lock:
            if key in self.cache:
                return self.cache[key]
        cur = self.cursor()
        try:
            value = compute(cur)
        finally:
            cur.close()
        with self.cache_lock:
            self.cache[key] = value
        return value


@dataclass
class QueuedLabel:
    docket_id: str
    comment_id: str
    stance: str
    theme_id: str | None
    queued_at: str

    def label(self) -> labels_mod.Label:
        return labels_mod.Label(self.comment_id, self.stance, self.theme_id)


@dataclass
class LabelResult:
    status: str          # written | queued
    message: str
    holder: int | None = None


@dataclass
class _Status:
    writer: int | None = None
    writer_seen_at: float | None = None
    last_error: str | None = None
    preparing_since: float | None = None
    index: dict[str, str] = field(default_factory=dict)   # docket -> ready | building | waiting


class SnapshotManager:
    """Keeps a prepared, current-as-possible copy of the database for the explorer's readers."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        work_dir: str | Path | None = None,
        poll: float = 2.0,
        index_root: Path | None = None,
        update_index: bool = True,
    ) -> None:
        self.db_path = Path(db_path).resolve()
        self.work_dir = Path(work_dir) if work_dir else work_dir_for(self.db_path)
        self.queue_path = self.work_dir / "labels-queue.jsonl"
        self.poll = poll
        self.index_root = index_root or search_index.root_for(self.db_path)
        self.update_index = update_index
        self._current: Snapshot | None = None
        self._retired: list[Snapshot] = []
        self._lock = threading.Lock()          # guards _current, _retired and refcounts
        self._main_lock = threading.Lock()     # one writer of the real database in this process
        self._index_lock = threading.Lock()
        self._index_pending: set[str] = set()
        self._status = _Status()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # called with each new snapshot, in the background thread (the app warms its caches)
        self.on_new_snapshot = None
        # set once the first round is done: a snapshot, its search index and warm caches
        self.settled = threading.Event()
        self._counter = 0
        self._unwarmed = True
        # labels saved since the copy being prepared was taken (applied to it before the swap)
        self._label_log: list[tuple[str, labels_mod.Label]] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, background: bool = True) -> None:
        """Take (or reuse) a first snapshot, then keep it fresh in a background thread."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if not self.refresh():
            self._reuse_previous()
        self._cleanup()
        if background:
            self._thread = threading.Thread(target=self._loop, name="explorer-snapshot", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        with self._lock:
            snaps = ([self._current] if self._current else []) + self._retired
            self._current, self._retired = None, []
        for snap in snaps:
            try:
                snap.con.close()
            except duckdb.Error:
                pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep serving the last snapshot; say what went wrong
                log.exception("explorer: snapshot refresh failed")
                self._status.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.poll)

    def tick(self) -> None:
        """One round: write queued labels, refresh the copy, bring the search index up to date."""
        self.drain_queue()
        fresh = self.refresh() or self._unwarmed
        self._update_indexes()
        if fresh and self.on_new_snapshot is not None:
            with self.use() as snap:
                if snap is not None:
                    self._unwarmed = False
                    self.on_new_snapshot(snap)
        self._close_retired()
        with self._lock:
            have = self._current is not None
        if have and not self._index_pending:
            self.settled.set()

    # ------------------------------------------------------------------ readers

    @contextmanager
    def use(self):
        """The current snapshot (None while none exists), held open for the duration."""
        with self._lock:
            snap = self._current
            if snap is not None:
                snap.refs += 1
        try:
            yield snap
        finally:
            if snap is not None:
                with self._lock:
                    snap.refs -= 1
                self._close_retired()

    def status(self) -> dict:
        with self._lock:
            snap = self._current
        now = time.time()
        writer = self._status.writer
        return {
            "taken_at": snap.taken_at if snap else None,
            "age_s": (datetime.now(UTC).replace(tzinfo=None) - snap.taken_at).total_seconds() if snap else None,
            "writer": writer,
            "stale": writer is not None or (snap is not None and _stamp(self.db_path) != snap.source_stamp),
            "preparing_s": now - self._status.preparing_since if self._status.preparing_since else None,
            "queued_labels": self.queued_count(),
            "error": self._status.last_error,
            "index": dict(self._status.index),
        }

    # ------------------------------------------------------------------ refresh

    def refresh(self) -> bool:
        """Copy and prepare the database if it changed and no one is writing it; True if swapped in."""
        if not self.db_path.exists():
            self._status.last_error = f"the database {self.db_path} is gone"
            return False
        stamp = _stamp(self.db_path)
        writer = dblock.holder(self.db_path, writers_only=True)
        self._status.writer = writer
        if writer is not None:
            self._status.writer_seen_at = time.time()
            return False
        with self._lock:
            current = self._current
        if current is not None and current.source_stamp == stamp:
            return False
        self._counter += 1
        dst = self.work_dir / f"snapshot-{datetime.now():%Y%m%d-%H%M%S}-{self._counter}.duckdb"
        self._status.preparing_since = time.time()
        try:
            # no label write of ours while we copy; labels saved while the copy is prepared
            # are logged and applied to it before it is swapped in
            with self._main_lock:
                try:
                    with store.frozen(self.db_path, wait=COPY_WAIT_S):  # no writer while the bytes are copied
                        stamp = _stamp(self.db_path)
                        with self._lock:
                            current = self._current
                        if current is not None and current.source_stamp == stamp:
                            return False  # the change was a label of ours, already in the copy
                        shutil.copyfile(self.db_path, dst)
                        wal = self.db_path.with_name(self.db_path.name + ".wal")
                        if wal.exists():
                            shutil.copyfile(wal, dst.with_name(dst.name + ".wal"))
                except DatabaseLockedError:  # a writer got in first: try again next round
                    self._status.writer = dblock.holder(self.db_path, writers_only=True)
                    _remove(dst)
                    return False
                self._label_log.clear()
            snap = self._prepare(dst, stamp)
            with self._main_lock:
                for docket_id, label in self._label_log:
                    _save_to(snap, docket_id, [label])
                self._label_log.clear()
                self._swap(snap)
        except Exception:
            _remove(dst)
            raise
        finally:
            self._status.preparing_since = None
        self._status.last_error = None
        return True

    def _prepare(self, path: Path, stamp: tuple) -> Snapshot:
        """Open the copy and make it fast to read: views that do work per query become tables."""
        con = store.connect(path)  # applies this version's migrations and views to the copy
        con.execute("SET enable_progress_bar = false")  # a server's console is no place for it
        try:
            dockets = [r[0] for r in con.execute(
                "select distinct docket_id from comments order by docket_id").fetchall()]
            con.execute("create or replace table _x_bodies as select * from comment_bodies")
            con.execute("create or replace table _x_analysis as select * from comment_analysis")
            con.execute("drop view comment_analysis")
            con.execute("drop view comment_bodies")
            con.execute("alter table _x_bodies rename to comment_bodies")
            con.execute("alter table _x_analysis rename to comment_analysis")
            facets = sql_text("explorer/facets_table.sql").format(
                facets=sql_text("explorer/comment_facets.sql"), texts=sql_text("explorer/comment_texts.sql"))
            con.execute(f"create or replace table explorer_facets as select * from ({facets}) where false",
                        {"docket_id": ""})
            for docket_id in dockets:
                # stored in list order, so a page reads a row group or two at any depth
                con.execute(f"insert into explorer_facets select * from ({facets}) order by new_rank",
                            {"docket_id": docket_id})
            # point lookups by comment id (a page's 50 rows) use these instead of scanning the table
            con.execute("create index explorer_facets_comment on explorer_facets (comment_id)")
            con.execute("create index comment_bodies_comment on comment_bodies (comment_id)")
            con.execute("create index comment_themes_comment on comment_themes (comment_id)")
            for docket_id, queued in self._queued_by_docket().items():
                labels_mod.save_labels(con, docket_id, [q.label() for q in queued], source="explorer")
            con.execute("checkpoint")
        except Exception:
            con.close()
            raise
        taken = datetime.now(UTC).replace(tzinfo=None)
        path.with_name(path.name + ".json").write_text(json.dumps(
            {"source_stamp": stamp, "taken_at": taken.isoformat(), "prepared": True}))
        with self._index_lock:
            self._index_pending.update(dockets)
        return Snapshot(path=path, con=con, source_stamp=stamp, taken_at=taken, dockets=dockets)

    def _swap(self, snap: Snapshot) -> None:
        with self._lock:
            old, self._current = self._current, snap
            if old is not None:
                old.retired = True
                self._retired.append(old)
        self._close_retired()

    def _close_retired(self) -> None:
        with self._lock:
            done = [s for s in self._retired if s.refs == 0]
            self._retired = [s for s in self._retired if s.refs > 0]
        for snap in done:
            try:
                snap.con.close()
            except duckdb.Error:
                pass
            _remove(snap.path)

    def _reuse_previous(self) -> None:
        """At start, while a writer holds the database: the last prepared copy, if any."""
        for path in sorted(self.work_dir.glob("snapshot-*.duckdb"), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                meta = json.loads(path.with_name(path.name + ".json").read_text())
                if not meta.get("prepared"):
                    continue
                con = duckdb.connect(str(path))
                con.execute("SET TimeZone = 'UTC'")
                con.execute("SET enable_progress_bar = false")
            except (OSError, ValueError, duckdb.Error):
                continue
            dockets = [r[0] for r in con.execute("select distinct docket_id from explorer_facets order by 1").fetchall()]
            self._swap(Snapshot(path=path, con=con, source_stamp=tuple(tuple(x) if x else None for x in meta["source_stamp"]),
                                taken_at=datetime.fromisoformat(meta["taken_at"]), dockets=dockets))
            return

    def _cleanup(self) -> None:
        """Remove copies that are not in use (left by earlier runs)."""
        with self._lock:
            keep = {self._current.path} if self._current else set()
        for path in self.work_dir.glob("snapshot-*.duckdb"):
            if path not in keep:
                _remove(path)

    # ------------------------------------------------------------------ search index

    def _update_indexes(self) -> None:
        if not self.update_index:
            return
        with self._index_lock:
            pending = sorted(self._index_pending)
        for docket_id in pending:
            with self.use() as snap:
                if snap is None or docket_id not in snap.dockets:
                    with self._index_lock:
                        self._index_pending.discard(docket_id)
                    continue
                ready = search_index.exists(self.index_root, docket_id)
                self._status.index[docket_id] = "updating" if ready else "building"
                try:
                    search_index.update(snap.con, docket_id, root=self.index_root, wait=0.5)
                except search_index.IndexBusy:
                    self._status.index[docket_id] = "ready" if ready else "waiting"
                    continue  # another process is writing it: next round
            self._status.index[docket_id] = "ready"
            with self._index_lock:
                self._index_pending.discard(docket_id)

    # ------------------------------------------------------------------ labels

    def save_label(self, docket_id: str, label: labels_mod.Label) -> LabelResult:
        """Write one analyst label to the database, or queue it while another process holds it.

        The snapshot shows the label at once either way. Invalid labels raise
        InputError (from comments.labels) before anything is written.
        """
        labels_mod.check_stance(label.stance)
        with self._main_lock:
            with self.use() as snap:
                if snap is not None:
                    _save_to(snap, docket_id, [label])
            self._label_log.append((docket_id, label))
            holder = dblock.holder(self.db_path)
            if holder is None:
                try:
                    self._write_main({docket_id: [label]})
                    return LabelResult("written", "saved")
                except DatabaseLockedError:
                    holder = dblock.holder(self.db_path) or -1
            self._enqueue(docket_id, label)
        who = f"process {holder}" if holder and holder > 0 else "another process"
        return LabelResult(
            "queued",
            f"the database is in use by {who}: the label is queued in {self.queue_path.name} "
            "and will be written as soon as it is free",
            holder,
        )

    def _write_main(self, by_docket: dict[str, list[labels_mod.Label]]) -> None:
        """Write labels to the real database (queued ones first, so the latest label wins)."""
        before = _stamp(self.db_path)
        queued = self._queued_by_docket()
        con = store.connect(self.db_path, wait=0)  # held: the label is queued, the request never waits
        try:
            for docket_id, items in queued.items():
                labels_mod.save_labels(con, docket_id, [q.label() for q in items], source="explorer")
            for docket_id, items in by_docket.items():
                labels_mod.save_labels(con, docket_id, items, source="explorer")
        finally:
            con.close()
        self._clear_queue()
        with self._lock:
            # our own write: the copy already holds these labels, so it need not be taken again
            if self._current is not None and self._current.source_stamp == before:
                self._current.source_stamp = _stamp(self.db_path)

    def drain_queue(self) -> int:
        """Write queued labels if the database is free; how many were written."""
        if not self.queue_path.exists():
            return 0
        with self._main_lock:
            queued = self._queued_by_docket()
            n = sum(len(v) for v in queued.values())
            if not n or dblock.holder(self.db_path) is not None:
                return 0
            try:
                self._write_main({})
            except DatabaseLockedError:
                return 0
            return n

    def _enqueue(self, docket_id: str, label: labels_mod.Label) -> None:
        item = QueuedLabel(docket_id, label.comment_id, label.stance, label.theme_id,
                           datetime.now(UTC).replace(tzinfo=None).isoformat())
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.queue_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(item.__dict__) + "\n")
            f.flush()

    def _queued_by_docket(self) -> dict[str, list[QueuedLabel]]:
        out: dict[str, list[QueuedLabel]] = {}
        try:
            lines = self.queue_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                item = QueuedLabel(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a torn last line (crash mid-write): that label was never confirmed
            out.setdefault(item.docket_id, []).append(item)
        return out

    def queued_count(self) -> int:
        return sum(len(v) for v in self._queued_by_docket().values())

    def _clear_queue(self) -> None:
        try:
            self.queue_path.unlink()
        except FileNotFoundError:
            pass


def _save_to(snap: Snapshot, docket_id: str, items: list[labels_mod.Label]) -> None:
    """Labels into the copy too (on a cursor of its own: request threads share the copy)."""
    cur = snap.cursor()
    try:
        labels_mod.save_labels(cur, docket_id, items, source="explorer")
    finally:
        cur.close()


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".json")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
