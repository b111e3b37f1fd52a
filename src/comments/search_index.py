"""The full-text index of a docket's comments: Tantivy, in a folder beside the database.

Why Tantivy (docs/explorer.md has the figures): our own BM25 index inside
DuckDB built ~4,000 comments/s and answered in 29-61 ms; SQLite FTS5 builds
fast enough but ranks every matching comment (~0.9 µs each, 60-70 ms for a
word found in 70,000 of 100,000 comments) and cannot filter without reading
every match. Tantivy ranks with block-max WAND and counts in Rust: a few
milliseconds with filters at 100,000 comments.

Layout: `<db dir>/<db stem>.search/<docket>/` holds one Tantivy index per
docket (so BM25 statistics are the docket's own) and `state.parquet`: per
comment, a hash of the inputs of its effective text and a hash of its
filterable values (stance, themes, campaign, ...). `update()` re-adds only
comments whose hashes changed: a sync re-indexes new and edited texts, an
analysis re-adds comments whose stance or themes moved, and nothing else.

The filterable values live in the index too (so a filtered search is one
Tantivy query); they come from `sql/explorer/comment_facets.sql`, the same
definitions the explorer's lists use. Comment text only ever reaches the
index as a field value: never a path, never part of a query string.

One process writes at a time (Tantivy's writer lock); readers never wait.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from comments.errors import InputError
from comments.filters import Filters
from comments.resources import sql_dir, sql_text

SCHEMA_VERSION = 1
SORTS = ("rel", "new", "old", "subs")
_EPOCH = date(1970, 1, 1)
_WRITER_HEAP = 128_000_000
# Texts of a few changed comments are read with a constant IN list (pushed into
# the view); past this many, one pass over the docket's texts is cheaper.
_IN_LIST_MAX = 2_500
_BATCH = 2_000

_indexes: dict[Path, object] = {}
_indexes_lock = threading.Lock()


def _tantivy():
    import tantivy

    return tantivy


def root_for(db_path: str | os.PathLike) -> Path:
    """Where a database's search indexes live: `<db dir>/<db stem>.search/`."""
    path = Path(db_path)
    return path.parent / f"{path.stem}.search"


def root_of(con: duckdb.DuckDBPyConnection) -> Path:
    """The index folder of the database `con` is connected to."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    if not row or not row[0]:
        raise InputError("full-text search needs a database file (an in-memory database has no index folder)")
    return root_for(row[0])


def docket_dir(root: Path, docket_id: str) -> Path:
    """A folder name from the docket id: its safe characters plus a hash, never the raw id."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", docket_id)[:60]
    return Path(root) / f"{safe}-{hashlib.sha1(docket_id.encode()).hexdigest()[:10]}"


def _schema():
    t = _tantivy()
    sb = t.SchemaBuilder()
    sb.add_text_field("cid", stored=True, tokenizer_name="raw")
    # letters and digits, lower-cased (Tantivy's default tokenizer; comments.search tokenizes queries alike)
    sb.add_text_field("body", stored=False, tokenizer_name="default", index_option="position")
    # every filterable value as one "name=value" term (one field is cheaper to fill than nine)
    sb.add_text_field("f", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("day", stored=False, indexed=True, fast=True)
    sb.add_integer_field("posted", stored=False, indexed=False, fast=True)
    sb.add_integer_field("subs", stored=False, indexed=False, fast=True)
    return sb.build()


def _view_md5() -> str:
    """A hash of the definitions the effective text comes from: a change re-indexes everything."""
    h = hashlib.md5()
    for file in sorted((sql_dir() / "views").glob("*.sql")):
        h.update(file.read_bytes())
    h.update(sql_text("explorer/comment_texts.sql").encode())
    return h.hexdigest()


@dataclass
class SearchResult:
    total: int
    submissions: int | None
    hits: list[tuple[str, float]]  # (comment_id, score); score is None when sorted by a field


class IndexBusy(Exception):
    """Another process holds the index's writer lock."""


def _open(path: Path, *, create: bool):
    """The Tantivy index at `path` (cached per process), or None if there is none yet."""
    t = _tantivy()
    with _indexes_lock:
        index = _indexes.get(path)
        if index is not None:
            return index
        meta = path / "explorer-index.json"
        ok = path.is_dir() and meta.exists() and t.Index.exists(str(path / "tantivy"))
        if ok:
            try:
                ok = json.loads(meta.read_text()).get("schema") == SCHEMA_VERSION
            except ValueError:
                ok = False
        if not ok:
            if not create:
                return None
            _wipe(path)
            (path / "tantivy").mkdir(parents=True)
            index = t.Index(_schema(), path=str(path / "tantivy"))
            meta.write_text(json.dumps({"schema": SCHEMA_VERSION}))
        else:
            index = t.Index.open(str(path / "tantivy"))
        _indexes[path] = index
        return index


def _wipe(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)


def _state_path(path: Path) -> Path:
    return path / "state.parquet"


def _read_state(path: Path) -> pa.Table | None:
    try:
        return pq.read_table(_state_path(path))
    except (OSError, pa.ArrowInvalid):
        return None


def _write_state(path: Path, table: pa.Table) -> None:
    tmp = path / "state.parquet.partial"
    pq.write_table(table, tmp)
    tmp.replace(_state_path(path))


_CURRENT_SQL = """
with
texts as ({texts}),
facets as ({facets}),
final as (
    select
        f.*,
        t.text_sig,
        hash(
            f.stance, f.unique_stance, f.commenter_type, f.commenter_name, f.campaign_id, f.is_unique,
            f.themes, f.unique_themes, f.day, f.posted_date, f.submissions
        ) as facets_sig
    from facets f
    join texts t using (comment_id)
)
select * from final
"""


def update(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    root: Path | None = None,
    wait: float = 10.0,
    progress=None,
) -> dict[str, int]:
    """Bring the docket's index in line with `con`'s comments; re-add only what changed.

    Returns {"indexed": comments (re)indexed with text, "removed": comments
    dropped, "total": comments in the index with text}. Raises IndexBusy when
    another process kept the writer lock for `wait` seconds.
    """
    path = docket_dir(root or root_of(con), docket_id)
    index = _open(path, create=True)
    cur = con.cursor()  # its own connection to the database: registrations and results stay on it
    cur.execute("SET enable_progress_bar = false")
    try:
        current = cur.sql(
            _CURRENT_SQL.format(texts=sql_text("explorer/text_signatures.sql"), facets=sql_text("explorer/comment_facets.sql")),
            params={"docket_id": docket_id, "view_md5": _view_md5()},
        ).to_arrow_table()
        cur.register("_ix_current", current)
        stamp, previous = _state_stamp(path), _read_state(path)
        gone, todo = _diff(cur, previous)
        if previous is not None and not gone and not todo:
            return {"indexed": 0, "removed": 0, "total": _with_text(previous)}
        writer = _writer(index, wait)
        try:
            if _state_stamp(path) != stamp:  # another process updated it while we waited
                previous = _read_state(path)
                gone, todo = _diff(cur, previous)
            if previous is None:
                writer.delete_all_documents()
            for cid in gone:
                writer.delete_documents_by_term("cid", cid)
            for cid, was_there in todo:
                if was_there:
                    writer.delete_documents_by_term("cid", cid)
            has_text = _add(writer, cur, docket_id, [cid for cid, _ in todo], progress)
            writer.commit()
            writer.wait_merging_threads()
        finally:
            del writer  # releases the writer lock (uncommitted changes are dropped)
        # the state is written after the commit: a crash in between re-adds those comments next time
        cur.register("_ix_has_text", pa.table(
            {"comment_id": pa.array(list(has_text), pa.string()), "has_text": pa.array(list(has_text.values()), pa.bool_())}))
        state = cur.sql(
            """select c.comment_id, c.text_sig, c.facets_sig, coalesce(h.has_text, p.has_text, false) as has_text
               from _ix_current c
               left join _ix_has_text h using (comment_id)
               left join _ix_previous p using (comment_id)"""
        ).to_arrow_table()
        _write_state(path, state)
    finally:
        cur.close()
    index.reload()
    return {"indexed": sum(has_text.values()), "removed": len(gone), "total": _with_text(state)}


def _writer(index, wait: float):
    deadline = time.monotonic() + wait
    while True:
        try:
            return index.writer(heap_size=_WRITER_HEAP, num_threads=min(2, os.cpu_count() or 1))
        except ValueError as exc:  # LockBusy: another process is writing this index
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise IndexBusy(str(exc)) from None
            time.sleep(0.2)


def _empty_state() -> pa.Table:
    return pa.table({"comment_id": pa.array([], pa.string()), "text_sig": pa.array([], pa.uint64()),
                     "facets_sig": pa.array([], pa.uint64()), "has_text": pa.array([], pa.bool_())})


def _with_text(state: pa.Table) -> int:
    return int(pc.sum(state.column("has_text").cast(pa.int64())).as_py() or 0)


def _state_stamp(path: Path):
    try:
        st = _state_path(path).stat()
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def _diff(cur, previous: pa.Table | None) -> tuple[list[str], list[tuple[str, bool]]]:
    """(comments gone from the docket, [(comment to (re)add, whether it is in the index now)])."""
    cur.register("_ix_previous", previous if previous is not None else _empty_state())
    gone = [r[0] for r in cur.execute(
        "select comment_id from _ix_previous where comment_id not in (select comment_id from _ix_current)").fetchall()]
    todo = cur.execute(
        """select c.comment_id, p.comment_id is not null as was_there
           from _ix_current c left join _ix_previous p using (comment_id)
           where p.comment_id is null or p.text_sig is distinct from c.text_sig
              or p.facets_sig is distinct from c.facets_sig
           order by c.comment_id"""
    ).fetchall()
    return gone, todo


def _add(writer, cur, docket_id: str, ids: list[str], progress) -> dict[str, bool]:
    """Add the comments `ids` with their texts; {comment_id: has text}. DuckDB reads the next
    batch of texts in a second thread while this one hands the last to Tantivy."""
    import queue

    t = _tantivy()
    has_text: dict[str, bool] = {}
    if not ids:
        return has_text
    batches: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def read() -> None:
        try:
            for batch in _texts(cur, docket_id, ids):
                batches.put(batch)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
        finally:
            batches.put(None)

    reader = threading.Thread(target=read, name="search-index-texts", daemon=True)
    reader.start()
    try:
        document = t.Document
        while (batch := batches.get()) is not None:
            columns = [batch.column(name).to_pylist() for name in ("comment_id", "body", "f", "posted", "subs", "day")]
            for cid, body, terms, posted, subs, day in zip(*columns, strict=True):
                has_text[cid] = ok = bool(body and not body.isspace())
                if not ok:
                    continue
                if day is None:
                    writer.add_document(document(cid=cid, body=body, f=terms, posted=posted, subs=subs))
                else:
                    writer.add_document(document(cid=cid, body=body, f=terms, posted=posted, subs=subs, day=day))
            if progress:
                progress(batch.num_rows)
    finally:
        reader.join()
    if failure:
        raise failure[0]
    return has_text


# What the index stores per comment, computed by DuckDB: every filter value as one
# "name=value" term (the names _filter_clauses asks for), and the numbers it sorts and
# filters on (seconds since 1970, days since 1970).
_DOC_SQL = """
select
    c.comment_id,
    t.body,
    list_concat(
        [
            'stance=' || c.stance, 'ustance=' || c.unique_stance, 'ctype=' || c.commenter_type,
            'campaign=' || coalesce(c.campaign_id, '-'), 'unique=' || (case when c.is_unique then '1' else '0' end),
            'attach=' || t.attachment_state
        ],
        case when c.commenter_name is not null then ['org=' || c.commenter_name] else [] end,
        list_transform(c.themes, lambda x: 'theme=' || x),
        list_transform(c.unique_themes, lambda x: 'utheme=' || x)
    ) as f,
    coalesce(epoch(c.posted_date)::bigint, 0) as posted,
    c.submissions::bigint as subs,
    datediff('day', date '1970-01-01', c.day) as day
from _ix_current c
join ({texts}) t using (comment_id)
where {where}
"""


def _texts(cur, docket_id: str, ids: list[str]):
    """Record batches of (comment_id, body, f, posted, subs, day) for `ids`."""
    texts = sql_text("explorer/comment_texts.sql")
    if len(ids) > _IN_LIST_MAX:
        cur.register("_ix_todo", pa.table({"comment_id": ids}))
        try:
            sql = _DOC_SQL.format(texts=texts, where="c.comment_id in (select comment_id from _ix_todo)")
            yield from cur.sql(sql, params={"docket_id": docket_id}).to_arrow_reader(_BATCH)
        finally:
            cur.unregister("_ix_todo")
        return
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join(f"$id{j}" for j in range(len(chunk)))
        sql = _DOC_SQL.format(texts=texts, where=f"t.comment_id in ({marks}) and c.comment_id in ({marks})")
        params = {"docket_id": docket_id, **{f"id{j}": v for j, v in enumerate(chunk)}}
        yield from cur.sql(sql, params=params).to_arrow_reader(_BATCH)


def _days(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    return (value - _EPOCH).days


def exists(root: Path, docket_id: str) -> bool:
    return _open(docket_dir(root, docket_id), create=False) is not None


def indexed_at(root: Path, docket_id: str) -> float | None:
    """When the docket's index state was last written (epoch seconds), or None."""
    try:
        return _state_path(docket_dir(root, docket_id)).stat().st_mtime
    except OSError:
        return None


def query(
    root: Path,
    docket_id: str,
    parsed,
    *,
    filters: Filters | None = None,
    require_all: bool = True,
    sort: str = "rel",
    offset: int = 0,
    limit: int = 20,
    with_submissions: bool = False,
) -> SearchResult | None:
    """Comments matching the parsed query and the filters: the total, and one page of ids.

    None when the docket has no index yet. `parsed` is a comments.search.Query.
    """
    t = _tantivy()
    index = _open(docket_dir(root, docket_id), create=False)
    if index is None:
        return None
    if sort not in SORTS:
        raise InputError(f"sort must be one of {', '.join(SORTS)}")
    schema = index.schema
    occur = t.Occur
    clauses = []
    for term in parsed.terms:
        clauses.append((occur.Must if require_all else occur.Should, t.Query.term_query(schema, "body", term)))
    for phrase in parsed.phrases:
        clauses.append((occur.Must, t.Query.phrase_query(schema, "body", list(phrase))))
    for term in parsed.excluded:
        clauses.append((occur.MustNot, t.Query.term_query(schema, "body", term)))
    for kind, q in _filter_clauses(schema, filters or Filters()):
        # filters narrow, they do not rank: a constant score of 0 leaves BM25 as it is
        clauses.append((kind, q if kind == occur.MustNot else t.Query.const_score_query(q, 0.0)))
    q = t.Query.boolean_query(clauses)
    searcher = index.searcher()
    kwargs = {}
    if sort != "rel":
        kwargs = {"order_by_field": "subs" if sort == "subs" else "posted",
                  "order": t.Order.Asc if sort == "old" else t.Order.Desc}
    result = searcher.search(q, limit=max(1, limit), count=True, offset=max(0, offset), **kwargs)
    hits = []
    for score, address in result.hits:
        doc = searcher.doc(address)
        hits.append((doc.get_first("cid"), float(score) if sort == "rel" else None))
    subs = None
    if with_submissions and result.count:
        agg = searcher.aggregate(q, {"subs": {"sum": {"field": "subs"}}})
        subs = int((agg.get("subs") or {}).get("value") or 0)
    elif with_submissions:
        subs = 0
    return SearchResult(total=int(result.count), submissions=subs, hits=hits)


def _filter_clauses(schema, f: Filters) -> list:
    t = _tantivy()
    occur, Q = t.Occur, t.Query
    out = []

    def term(field, value):
        return Q.term_query(schema, "f", f"{field}={value}", index_option="basic")

    if f.stance:
        out.append((occur.Must, term("ustance" if f.unique else "stance", f.stance)))
    if f.theme:
        out.append((occur.Must, term("utheme" if f.unique else "theme", f.theme)))
    if f.unique:
        out.append((occur.Must, term("unique", "1")))
    if f.campaign == "any":
        out.append((occur.MustNot, term("campaign", "-")))
    elif f.campaign == "none":
        out.append((occur.Must, term("campaign", "-")))
    elif f.campaign:
        out.append((occur.Must, term("campaign", f.campaign)))
    if f.ctype:
        out.append((occur.Must, term("ctype", f.ctype)))
    if f.org:
        out.append((occur.Must, term("org", f.org)))
    if f.date_from or f.date_to:
        out.append((occur.Must, Q.range_query(
            schema, "day", t.FieldType.Integer,
            lower_bound=_days(f.date_from) if f.date_from else -10**9,
            upper_bound=_days(f.date_to) if f.date_to else 10**9,
        )))
    states = f.attachment_states
    if states:
        out.append((occur.Must, Q.boolean_query([(occur.Should, term("attach", s)) for s in states])))
    if f.labeled:
        raise InputError("the analyst-label filter does not combine with a search query")
    return out
