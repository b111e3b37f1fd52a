"""The database side of attachments: what is pending, downloads, extraction, results.

Work goes in chunks: while one chunk's files are extracted on every core,
the next chunk's files download on a few threads. Each chunk's results are
written in one batch, so an interrupted run keeps what it finished and the
next run picks up the rest (rows still 'pending').

The database reads and writes are separate from the work: `download_batch`
and `extract_batch` touch no database, so a batch can run anywhere (a Dask
worker, possibly on another machine that shares the file store:
`comments.runs.fetch_attachments` with a batch runner), while one process
reads what is pending (`pending_rows`, `known_files`, `known_extractions`)
and writes what came back (`save_files`, `write_results`).
`process_attachments` composes the same pieces in one process; with a shared
connection (`store.shared`) it holds the database only while it reads and
writes, not while files download or extract.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa

from comments import settings
from comments import store as db
from comments.attachments.download import INTERRUPTED, Downloaded, Downloader
from comments.attachments.extract import extract_file
from comments.attachments.filestore import FileStore
from comments.attachments.pool import TimedPool
from comments.attachments.status import attachment_status_lines, document_text_status_line  # noqa: F401
from comments.progress import ProgressFn, noop
from comments.records import now_utc

# Statuses a file can end in (besides 'pending', which means "not processed yet").
FINAL_STATUSES = ("ok", "empty", "needs_ocr", "unsupported", "too_large", "failed", "restricted")
# Results that hold for any row with the same file, whatever the machine.
_REUSABLE = ("ok", "empty", "unsupported")
CHUNK_ROWS = 200
FILE_TIME_LIMIT_S = 300.0
DOWNLOAD_THREADS = 4

_RESULT_COLUMNS = (
    "comment_id", "doc_order", "sha256", "stored_bytes", "status", "reason", "text",
    "page_count", "extraction_method", "downloaded_at", "extracted_at",
)


def process_attachments(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    files_dir: Path,
    workers: int | None = None,
    hosts: tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    progress: ProgressFn = noop,
    session=None,
    retry_failed: bool = False,
    limit: int | None = None,
    time_limit: float | None = None,
    pace_s: float = 0.25,
    backoff_base: float = 1.0,
    download_threads: int = DOWNLOAD_THREADS,
    extract_fn=extract_file,
    download_deadline_s: float | None = None,
    pacer=None,
) -> dict[str, int]:
    """Download and extract the docket's pending attachment files.

    Returns counts: one per final status of the files processed in this run
    (ok, empty, needs_ocr, unsupported, too_large, failed, restricted), plus
    `processed`, `downloaded` (files fetched over the network), `reused`
    (files already in the store), `bytes_downloaded` and `requests`.
    Rows that `failed` are retried only with `retry_failed`; `needs_ocr`
    rows are retried whenever tesseract is installed. Each download may take
    `download_deadline_s` in all (default: COMMENTS_ATTACHMENT_TIMEOUT).
    `pacer()` is called before every download request (a rate limit shared
    with other processes).
    """
    tools = {"tesseract_cmd": shutil.which("tesseract"), "antiword_cmd": shutil.which("antiword")}
    store = FileStore(files_dir)
    downloader = _downloader(store, hosts, max_bytes, session, pace_s, backoff_base, download_deadline_s, pacer)
    rows = _pending_rows(con, docket_id, retry_failed=retry_failed, retry_ocr=bool(tools["tesseract_cmd"]), limit=limit)
    counts: Counter = Counter()
    progress(0, total=len(rows))
    if not rows:
        return _summary(counts, downloader)

    chunks = [rows[i : i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    pool = TimedPool(extract_fn, workers=workers, time_limit=time_limit or FILE_TIME_LIMIT_S)
    threads = ThreadPoolExecutor(max(1, download_threads), thread_name_prefix="attachment-download")

    def start(chunk: list[dict]):
        plan = _plan_downloads(chunk, known_files(con, _urls(chunk)), store, downloader, threads)
        db.release(con)  # the downloads run without the database
        return plan

    try:
        with pool:
            planned = start(chunks[0])
            for index in range(len(chunks)):
                finished, to_extract, new_files = _collect_downloads(planned, counts)
                save_files(con, new_files)
                progress(len(finished))
                if index + 1 < len(chunks):  # next chunk downloads while this one is extracted
                    planned = start(chunks[index + 1])
                known = known_extractions(con, [r["sha256"] for r in to_extract])
                db.release(con)  # so does the extraction
                finished += _extract(to_extract, known, store, pool, tools, progress)
                write_results(con, finished)
                db.release(con)
                for row in finished:
                    counts[row["status"]] += 1
                if downloader.stopped:  # the host cannot be reached: the rest stay pending
                    break
    finally:
        # on an interrupt, end the downloads under way instead of waiting for them: rows stay pending
        downloader.cancel()
        threads.shutdown(wait=False, cancel_futures=True)
    return _summary(counts, downloader)


# --- the docket's own documents ---------------------------------------------------

# A notice's HTML keeps its headings and question lists as lines; its PDF is the same text, laid out.
NOTICE_FORMAT_PREFERENCE = ("htm", "html", "txt", "xml", "pdf", "docx", "doc", "rtf")
MAX_NOTICE_DOCUMENTS = 5


def fetch_document_texts(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    files_dir: Path,
    client=None,
    hosts: tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    session=None,
    retry_failed: bool = False,
    pace_s: float = 0.25,
    backoff_base: float = 1.0,
    extract_fn=extract_file,
) -> dict[str, int]:
    """Download and extract the text of the docket's own documents (the notice, the proposed
    rule: those that opened a comment period or that comments are on), like attachments.

    The file comes from the document detail's `fileFormats` (content.htm / content.pdf), read
    from the stored record when it carries them, else asked of the API with `client` (or a
    client from the settings when a key is set): one request per document, once. Results go
    to `document_texts`; a document is done once it has a row (failed rows are retried with
    `retry_failed`). Returns counts per final status.
    """
    from comments import records
    from comments import store as db

    tools = {"tesseract_cmd": shutil.which("tesseract"), "antiword_cmd": shutil.which("antiword")}
    done_statuses = [s for s in FINAL_STATUSES if not (retry_failed and s == "failed") and not (s == "needs_ocr" and tools["tesseract_cmd"])]
    # a document left for want of a key is tried again as soon as there is one
    have_key = client is not None or _key_configured()
    rows = con.execute(
        """
        select d.document_id, d.raw
        from documents d
        where d.docket_id = ?
          and (d.comment_start_date is not null or d.comment_end_date is not null
               or d.document_type in ('Notice', 'Proposed Rule', 'Rule')
               or d.document_id in (select document_id from comments where docket_id = ?))
          and d.document_id not in (
              select document_id from document_texts
              where status in (select unnest(?::varchar[])) and not (? and coalesce(reason, '') like '%no API key%'))
        order by d.posted_date nulls last, d.document_id
        limit ?
        """,
        [docket_id, docket_id, done_statuses, have_key, MAX_NOTICE_DOCUMENTS],
    ).fetchall()
    counts: Counter = Counter()
    if not rows:
        return {}
    store = FileStore(files_dir)
    downloader = Downloader(
        store, hosts=tuple(hosts) if hosts is not None else settings.attachment_hosts(),
        max_bytes=max_bytes if max_bytes is not None else settings.attachment_max_bytes(),
        session=session, pace_s=pace_s, backoff_base=backoff_base,
    )
    results = []
    for document_id, raw in rows:
        out = {"document_id": document_id, "docket_id": docket_id}
        formats = _file_formats(raw)
        if not formats:
            detail, problem = _document_detail(client, document_id)
            if detail is not None:
                records.save_documents(con, [detail])  # the stored record now carries the fileFormats
                formats = _file_formats(detail)
            if not formats:
                results.append(out | {"status": "failed", "reason": problem or "the document lists no file"})
                continue
        url, fmt, size = _choose_notice_file(formats)
        got = downloader.fetch(url, size)
        out |= {"url": url, "format": fmt}
        if got.status != "downloaded":
            results.append(out | {"status": got.status, "reason": got.reason})
            continue
        out |= {"sha256": got.sha256, "stored_bytes": got.stored_bytes, "downloaded_at": now_utc()}
        with TimedPool(extract_fn, workers=1, time_limit=FILE_TIME_LIMIT_S) as pool:
            extracted = dict(pool.run([(document_id, (str(store.path_for(got.sha256)), fmt, tools))]))[document_id]
        results.append(out | {
            "status": extracted.get("status", "failed"), "reason": extracted.get("reason"), "text": extracted.get("text"),
            "page_count": extracted.get("page_count"), "extraction_method": extracted.get("method"),
            "extracted_at": now_utc(),
        })
    db.upsert(con, "document_texts", pa.Table.from_pylist(
        [{c: r.get(c) for c in _DOCUMENT_TEXT_SCHEMA.names} for r in results], schema=_DOCUMENT_TEXT_SCHEMA), ["document_id"])
    for r in results:
        counts[r["status"]] += 1
    return dict(counts)


_DOCUMENT_TEXT_SCHEMA = pa.schema([
    ("document_id", pa.string()), ("docket_id", pa.string()), ("url", pa.string()), ("format", pa.string()),
    ("sha256", pa.string()), ("stored_bytes", pa.int64()), ("status", pa.string()), ("reason", pa.string()),
    ("text", pa.string()), ("page_count", pa.int32()), ("extraction_method", pa.string()),
    ("downloaded_at", pa.timestamp("us")), ("extracted_at", pa.timestamp("us")),
])


def _file_formats(raw) -> list[dict]:
    """fileFormats of a stored document record (a detail response, or its `data`); [] for a list item."""
    import json

    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    if not isinstance(raw, dict):
        return []
    data = raw.get("data", raw)
    formats = (data.get("attributes") or {}).get("fileFormats") if isinstance(data, dict) else None
    return [f for f in formats or [] if isinstance(f, dict) and f.get("fileUrl")]


def _key_configured() -> bool:
    from comments.errors import ConfigError

    try:
        settings.api_keys()
    except ConfigError:
        return False
    return True


def _choose_notice_file(formats: list[dict]) -> tuple[str | None, str | None, int | None]:
    def rank(f):
        fmt = (f.get("format") or "").lower()
        return NOTICE_FORMAT_PREFERENCE.index(fmt) if fmt in NOTICE_FORMAT_PREFERENCE else len(NOTICE_FORMAT_PREFERENCE)

    best = sorted(formats, key=rank)[0]
    size = best.get("size")
    return best.get("fileUrl"), (best.get("format") or "").lower() or None, size if isinstance(size, int) else None


def _document_detail(client, document_id: str) -> tuple[dict | None, str | None]:
    """(the document's detail, None) from the API, or (None, why not)."""
    from urllib.parse import quote

    from comments.errors import ConfigError

    if client is None:
        try:
            from comments.client import RegulationsClient

            client = RegulationsClient()
        except ConfigError:
            return None, "the document's file list needs its detail from the API, and no API key is set"
    try:
        return client.get(f"documents/{quote(document_id, safe='')}", kind="document"), None
    except Exception as exc:  # one document's failure is recorded, never stops the run
        message = getattr(exc, "message", None) or " ".join(str(exc).split())[:200] or type(exc).__name__
        return None, f"document detail request failed: {message}"


def pending_count(con: duckdb.DuckDBPyConnection, docket_id: str, *, retry_failed: bool = False) -> int:
    """How many of the docket's attachment files a run would process now."""
    return len(pending_rows(con, docket_id, retry_failed=retry_failed))


def pending_rows(con: duckdb.DuckDBPyConnection, docket_id: str, *, retry_failed: bool = False) -> list[dict]:
    """The docket's attachment rows a run would process now (plain dicts, in a stable order)."""
    retry_ocr = shutil.which("tesseract") is not None
    return _pending_rows(con, docket_id, retry_failed=retry_failed, retry_ocr=retry_ocr, limit=None)


# --- batches that touch no database (they may run on another machine) ------------------


def download_batch(
    rows: list[dict],
    known: dict[str, tuple[int | None, str]],
    files_dir: str | Path,
    *,
    hosts: tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    download_threads: int = DOWNLOAD_THREADS,
    pace_s: float = 0.25,
    pacer=None,
    session=None,
) -> dict:
    """Download the files of `rows` into the file store (`known`: `known_files` for their URLs).

    Returns {"finished": rows with a final status (failed, too_large, restricted),
    "to_extract": rows with a stored file, "new_files": `attachment_files` rows,
    "counts": {downloaded, reused, bytes_downloaded, requests}}. `pacer()` is
    called before every request (a limit shared with other processes).
    """
    store = FileStore(files_dir)
    downloader = _downloader(store, hosts, max_bytes, session, pace_s, 1.0, None, pacer)
    counts: Counter = Counter()
    with ThreadPoolExecutor(max(1, download_threads), thread_name_prefix="attachment-download") as threads:
        plan = _plan_downloads(rows, known, store, downloader, threads)
        finished, to_extract, new_files = _collect_downloads(plan, counts)
    counts["requests"] = downloader.requests
    return {"finished": finished, "to_extract": to_extract, "new_files": new_files, "counts": dict(counts)}


def extract_batch(
    rows: list[dict],
    known: dict[str, dict],
    files_dir: str | Path,
    *,
    workers: int | None = 1,
    time_limit: float | None = None,
    extract_fn=extract_file,
) -> list[dict]:
    """Extract the text of `rows` (stored files; `known`: `known_extractions` for their hashes).

    Each file runs in a child process under the per-file time limit and
    memory cap (`TimedPool`), wherever this runs. Returns the rows with their
    results, ready for `write_results`.
    """
    import multiprocessing

    if multiprocessing.current_process().daemon:
        from comments.errors import ConfigError

        raise ConfigError(
            "this process may not start child processes, which extraction needs (per-file time and memory "
            "limits); on Dask, start the cluster's workers with DASK_DISTRIBUTED__WORKER__DAEMON=False"
        )
    tools = {"tesseract_cmd": shutil.which("tesseract"), "antiword_cmd": shutil.which("antiword")}
    with TimedPool(extract_fn, workers=workers, time_limit=time_limit or FILE_TIME_LIMIT_S) as pool:
        return _extract(rows, known, FileStore(files_dir), pool, tools, noop)


def tally(rows: list[dict]) -> dict[str, int]:
    """Files per final status among result rows."""
    return dict(Counter(row["status"] for row in rows))


def _downloader(store, hosts, max_bytes, session, pace_s, backoff_base, deadline_s, pacer) -> Downloader:
    return Downloader(
        store,
        hosts=tuple(hosts) if hosts is not None else settings.attachment_hosts(),
        max_bytes=max_bytes if max_bytes is not None else settings.attachment_max_bytes(),
        session=session,
        pace_s=pace_s,
        backoff_base=backoff_base,
        deadline_s=deadline_s if deadline_s is not None else settings.attachment_timeout(),
        pacer=pacer,
    )


# --- the database side ---------------------------------------------------------------


def known_files(con, urls: list[str]) -> dict[str, tuple[int | None, str]]:
    """URLs already downloaded: url -> (announced size, sha256)."""
    if not urls:
        return {}
    return {
        url: (size, sha)
        for url, size, sha in con.execute(
            "select url, announced_size, sha256 from attachment_files where url in (select unnest(?::varchar[]))", [urls]
        ).fetchall()
    }


def save_files(con, new_files: list[dict]) -> None:
    """Record downloaded files (`download_batch`'s new_files) in `attachment_files`."""
    if new_files:
        db.upsert(con, "attachment_files", new_files, ["url"])


def known_extractions(con, shas: list[str]) -> dict[str, dict]:
    """Files extracted before (another comment attached the same bytes): sha256 -> result."""
    shas = sorted({s for s in shas if s})
    if not shas:
        return {}
    known = {}
    for sha, status, text, pages, method, reason in con.execute(
        """
        select sha256, any_value(status), any_value(text), any_value(page_count),
               any_value(extraction_method), any_value(reason)
        from attachments
        where sha256 in (select unnest(?::varchar[])) and status in (select unnest(?::varchar[]))
        group by sha256
        """,
        [shas, list(_REUSABLE)],
    ).fetchall():
        known[sha] = {"status": status, "text": text, "page_count": pages, "method": method, "reason": reason}
    return known


def _urls(rows: list[dict]) -> list[str]:
    return [r["url"] for r in rows if r["url"]]


def summary_line(docket_id: str, counts: dict[str, int], seconds: float) -> str:
    """One line for the CLI: what the run did."""
    notice = {k[len("document_texts_"):]: n for k, n in counts.items() if k.startswith("document_texts_") and n}
    tail = ("; docket documents: " + ", ".join(f"{n:,} {s}" for s, n in sorted(notice.items()))) if notice else ""
    if counts.get("stopped"):
        tail += f"; downloads stopped: {counts['stopped']}"
    if not counts.get("processed"):
        return f"{docket_id}: no attachment files to process (all done, or none listed){tail}"
    parts = ", ".join(f"{counts[s]:,} {s}" for s in FINAL_STATUSES if counts.get(s))
    mb = counts.get("bytes_downloaded", 0) / 1e6
    return (
        f"{docket_id}: {counts['processed']:,} attachment files in {seconds:,.1f} s: {parts}; "
        f"downloaded {counts.get('downloaded', 0):,} ({mb:,.1f} MB), reused {counts.get('reused', 0):,} already stored"
        + tail
    )


def _summary(counts: Counter, downloader: Downloader) -> dict[str, int]:
    out = {status: counts.get(status, 0) for status in FINAL_STATUSES}
    out["processed"] = sum(out.values())
    for key in ("downloaded", "reused", "bytes_downloaded"):
        out[key] = counts.get(key, 0)
    out["requests"] = downloader.requests
    if downloader.stopped:
        out["stopped"] = downloader.stopped
    return out


def _pending_rows(con, docket_id, *, retry_failed: bool, retry_ocr: bool, limit: int | None) -> list[dict]:
    statuses = ["pending"] + (["failed"] if retry_failed else []) + (["needs_ocr"] if retry_ocr else [])
    cur = con.execute(
        """
        select a.comment_id, a.doc_order, a.url, a.format, a.size_bytes, a.sha256,
               a.restrict_reason, a.status
        from attachments a
        join comments c using (comment_id)
        where c.docket_id = ? and a.status in (select unnest(?::varchar[]))
        order by a.comment_id, a.doc_order
        """
        + (" limit ?" if limit else ""),
        [docket_id, statuses] + ([int(limit)] if limit else []),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _plan_downloads(rows, known, store: FileStore, downloader: Downloader, threads) -> list[tuple[dict, object]]:
    """For each row: a final result, a stored file to reuse, or a download under way."""
    plan = []
    started: dict[str, Future] = {}  # one download per URL, even when several rows list it
    for row in rows:
        url = row["url"]
        if not url:
            if row["restrict_reason"]:
                plan.append((row, Downloaded("restricted", reason=f"restricted: {row['restrict_reason']}")))
            else:
                plan.append((row, Downloaded("failed", reason="no file URL listed")))
            continue
        if url in known:
            size, sha = known[url]
            same_size = size is None or row["size_bytes"] is None or size == row["size_bytes"]
            if same_size and store.has(sha):
                plan.append((row, ("reuse", sha)))
                continue
        if row["status"] != "pending" and store.has(row["sha256"]):
            plan.append((row, ("reuse", row["sha256"])))  # a retry of extraction: the file is unchanged
            continue
        if url not in started:
            started[url] = threads.submit(downloader.fetch, url, row["size_bytes"])
        plan.append((row, started[url]))
    return plan


def _collect_downloads(plan, counts: Counter) -> tuple[list[dict], list[dict], list[dict]]:
    """Wait for the chunk's downloads; (rows already final, rows with a stored file to extract, new files)."""
    finished, to_extract, new_files = [], [], {}
    now = now_utc()
    for row, outcome in plan:
        if isinstance(outcome, Future):
            result: Downloaded = outcome.result()
            if result.status == "downloaded" and row["url"] not in new_files:
                new_files[row["url"]] = {
                    "url": row["url"], "announced_size": row["size_bytes"], "sha256": result.sha256,
                    "stored_bytes": result.stored_bytes, "content_type": result.content_type, "downloaded_at": now,
                }
                counts["downloaded"] += 1
                counts["bytes_downloaded"] += result.stored_bytes
        elif isinstance(outcome, tuple):
            result = Downloaded("downloaded", sha256=outcome[1])
            counts["reused"] += 1
        else:
            result = outcome
        if result.reason == INTERRUPTED:
            continue  # never tried (downloads stopped): the row stays pending
        base = {"comment_id": row["comment_id"], "doc_order": row["doc_order"], "format": row["format"]}
        if result.status == "downloaded":
            to_extract.append(base | {"sha256": result.sha256, "downloaded_at": now})
        else:
            finished.append(base | {"status": result.status, "reason": result.reason, "sha256": None})
    return finished, to_extract, list(new_files.values())


def _extract(rows, known: dict[str, dict], store: FileStore, pool: TimedPool, tools: dict, progress) -> list[dict]:
    """Extract each distinct file once; rows sharing a file share the result.

    A file in `known` (extracted before: another comment attached the same bytes) is not extracted again.
    """
    if not rows:
        return []
    by_sha: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_sha[row["sha256"]].append(row)
    shas = list(by_sha)
    finished: list[dict] = []

    def settle(sha: str, out: dict) -> None:
        extracted_at = now_utc()
        for row in by_sha[sha]:
            finished.append(
                row
                | {
                    "stored_bytes": _size(store, sha),
                    "status": out.get("status", "failed"),
                    "reason": out.get("reason"),
                    "text": out.get("text"),
                    "page_count": out.get("page_count"),
                    "extraction_method": out.get("method"),
                    "extracted_at": extracted_at,
                }
            )
        progress(len(by_sha[sha]))

    jobs = []
    for sha in shas:
        if sha in known:
            settle(sha, known[sha])
        else:
            fmt = by_sha[sha][0]["format"]
            jobs.append((sha, (str(store.path_for(sha)), fmt, tools)))
    for sha, out in pool.run(jobs):
        settle(sha, out)
    return finished


def _size(store: FileStore, sha: str) -> int | None:
    try:
        return store.path_for(sha).stat().st_size
    except OSError:
        return None


def write_results(con, rows: list[dict]) -> None:
    """Store result rows (`extract_batch`, `download_batch`'s finished) in `attachments`, one statement."""
    if not rows:
        return
    batch = pa.Table.from_pylist(
        [{c: r.get(c) for c in _RESULT_COLUMNS} for r in rows],
        schema=pa.schema(
            [
                ("comment_id", pa.string()), ("doc_order", pa.int32()), ("sha256", pa.string()),
                ("stored_bytes", pa.int64()), ("status", pa.string()), ("reason", pa.string()),
                ("text", pa.string()), ("page_count", pa.int32()), ("extraction_method", pa.string()),
                ("downloaded_at", pa.timestamp("us")), ("extracted_at", pa.timestamp("us")),
            ]
        ),
    )
    con.register("_attachment_results", batch)
    try:
        sets = ", ".join(f"{c} = r.{c}" for c in _RESULT_COLUMNS[2:])
        con.execute(
            f"""
            update attachments set {sets}
            from _attachment_results r
            where attachments.comment_id = r.comment_id and attachments.doc_order = r.doc_order
            """
        )
    finally:
        con.unregister("_attachment_results")


# --- status ------------------------------------------------------------------------

