"""Import regulations.gov's docket bulk-download CSV into the same tables as the API sync.

One CSV row per document or comment. "Public Submission" rows become `comments`,
every other row (Notice, Proposed Rule, ...) a `documents` row; the "Attachment
Files" URL list becomes `attachments` metadata (status 'pending'), and each
docket seen gets a `dockets` row if it has none. Ids are the API's own ("Document
ID" = comment_id, "Comment on Document ID" = document_id), so a later API sync
lands on the same rows.

Merge rule (why: a CSV row holds less than an API detail record - no objectId,
no modifyDate, no attachment ids or sizes):
- a comment or document that is absent is inserted;
- one stored earlier from a bulk CSV is replaced when any value differs;
- one stored from the API or Mirrulations is left alone (counted as skipped,
  "already stored from a richer source").
`last_modified` stays null on CSV rows, so the next sync re-fetches their details.
Attachment rows the API wrote (they carry an attachment id) are never touched.

Provenance without repeating the row: the file is stored once in `import_files`
(sha256, name, size, rows, header); each comment keeps the file's id, the line
its row starts on, and in `source_extra` only the fields that have no typed home
(csv_columns.py says which, and rebuilds a row from them). Documents, a handful
per docket, keep their whole row in `raw` as before.

Every data row ends up stored or in `import_rejects` with its line: rows the
parser refuses (wrong number of fields, bad UTF-8, an unterminated quote), rows
that make no sense (no id or type, a date that is not a date, an id repeated in
the file, a field over 1 MiB: csv_lines.MAX_FIELD_BYTES says why), and, when
DuckDB's account of the file does not add up (csv_lines.py), everything the
exact Python reading refuses. A file that is not a bulk CSV at all is refused
with one `InputError`.

How it runs (all SQL in bulk_csv_sql.py):
1. Hash the file (sha256, in a thread beside DuckDB). The same bytes imported
   before, with everything they stored still as left: answered from the store
   (source_files.unchanged_since_import), nothing parsed.
2. First read (`_stage`): every row's id, checks, line span and the document
   columns into the temp table `_bulk`; no comment text.
3. Line numbers from the account (csv_lines.locate); rejects recorded.
4. Second read (`_merge_comments`): in a first import the rows go from read_csv
   straight into `comments`, text tidied and leftovers built on the way, joined
   to a narrow plan (id -> line). When some ids are stored already (a re-import
   of a changed file, a CSV after a sync) or repeated in the file, every row is
   staged whole instead and compared, as the single-read importer did.
Why two reads: staging the text of a million rows (~1.9 GB in DuckDB's memory)
spilled at the memory limit and cost more CPU than parsing the file again.

Where the time goes (benchmarks/import_csv.py, 1,000,000 generated rows, 1.2 GB,
2 cores; CPU seconds from timers around each statement, split further by
removing one expression at a time on 200,000 rows; figures in BENCHMARKS.md):
- hashing the file: ~1.7 (sha256 ~1.2, line count ~0.3; in a thread beside
  the first read);
- first read: ~6.7 (DuckDB's CSV parse ~1.6, line spans ~1.5, the checks ~1.2,
  the html_to_text test ~1, ids, dockets and document rows the rest);
- second read into `comments`: ~16.4: parse ~1.6, id and primary key ~1.9, the
  text's zstd compression ~3.1, white-space tidying ~3, leftovers
  (`source_extra`) ~3, the other typed columns ~3, attachment counts ~0.7;
- attachments from "Attachment Files" ~3.3; html_to_text in Python for the 0.3%
  of rows that need it ~0.8; commit ~0.8.
About 30 CPU-s, 3.0 per 100k rows (the single-read importer that kept the row
as JSON: 4.4). 100,000 rows/s on two cores needs at most 2.0 per 100k with both
cores busy throughout; parsing the file twice, compressing the text, the
primary key and the tidying alone take ~1.1 of that, and the rest is spread
over many small costs, so the target is out of reach here: ~65,000 rows/s if
both cores were free and busy throughout, less when they are shared (BENCHMARKS.md).
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from comments.errors import InputError
from comments.importers import ImportReport, csv_lines, source_files
from comments.importers.bulk_csv_sql import FORMAT_RE, ORDER_RE, SOURCE, Mapping, literal, read_csv
from comments.progress import ProgressFn, noop
from comments.records import TEXT_FORMAT_PREFERENCE, now_utc
from comments.textutil import html_to_text

REQUIRED_COLUMNS = ("Document ID", "Document Type")
_BOM = b"\xef\xbb\xbf"
_HEAD_BYTES = 1 << 16

# DuckDB's memory for the import (the setting is global to the database
# instance, so it is restored after). Without it DuckDB takes up to 80% of RAM
# (6.2 GB peak for 1M rows before this importer read the file twice).
MEMORY_LIMIT = "1200MB"
# Longest CSV record DuckDB is asked to read; its read buffer must be as large.
# A longer one is caught by the line account and read by the exact path.
_MAX_RECORD = 64 << 20

# Columns compared to decide new / updated / unchanged (everything but fetched_at
# and where the row was read: the same values from another file or line are unchanged).
COMMENT_COLUMNS = (
    "comment_id", "docket_id", "document_id", "comment_on_object_id", "agency_id",
    "document_type", "subtype", "posted_date", "received_date", "postmark_date",
    "last_modified", "modify_date", "title", "text", "organization", "category",
    "gov_agency", "gov_agency_type", "first_name", "last_name", "city", "state",
    "country", "submitter_rep", "duplicate_comments", "tracking_nbr", "withdrawn",
    "reason_withdrawn", "restrict_reason", "page_count", "attachment_count", "source",
    "raw", "source_extra",
)
DOCUMENT_COLUMNS = (
    "document_id", "docket_id", "object_id", "document_type", "subtype", "title",
    "fr_doc_num", "posted_date", "comment_start_date", "comment_end_date",
    "open_for_comment", "withdrawn", "last_modified", "source", "raw",
)
_TEMP_TABLES = (
    "_bulk", "_bulk_fixed", "_bulk_status", "_bulk_doc_status", "_bulk_att", "_bulk_plan", "_bulk_side",
    "_bulk_csv_rejects", "_bulk_csv_rejects_scans", "_bulk_csv_again",
    "_bulk_csv_again_scans",
)


def import_bulk_csv(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    progress: ProgressFn = noop,
) -> ImportReport:
    """Import one bulk-download CSV; returns counts. Safe to run again (idempotent)."""
    path = Path(path)
    header = read_header(path)
    file_key = str(path.resolve())
    report = ImportReport(source=SOURCE, path=str(path))
    steps = 6
    progress(0, total=steps)

    # The same bytes imported before: hash first, and answer from the store if it can.
    scan = None
    if source_files.maybe_known_size(con, SOURCE, path.stat().st_size):
        scan = source_files.scan_file(path)
        known = source_files.find(con, scan.sha256)
        if known is not None and source_files.unchanged_since_import(con, known, file_key):
            source_files.touch(con, known.file_id, file_key)
            progress(steps)
            return _unchanged_report(report, known.state)
    pending = source_files.BackgroundScan(path) if scan is None else None

    previous = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"set memory_limit = {literal(MEMORY_LIMIT)}")
    try:
        with tempfile.TemporaryDirectory(prefix="comments-csv-") as tmp:
            source = path  # what DuckDB reads: the file, or the exact path's clean copy
            try:
                _stage(con, source, header)
                read_whole = True
            except InputError:  # DuckDB refused the file as a whole (e.g. mixed line ends)
                read_whole = False
            progress(1)
            scan = scan or pending.result()
            located = _locate(con, scan) if read_whole else None
            if located is None:  # DuckDB's account of the file does not add up: read it exactly
                source = Path(tmp) / "clean.csv"
                located = _stage_exact(con, path, header, source)
            report.rows_read = located.rows
            lines = located.accepted_lines
            con.register("_bulk_lines", pa.table({"rid": np.arange(len(lines), dtype=np.int64), "line": lines}))
            _fix_markup(con)
            progress(1)
            _write(con, source, file_key, header, scan, located, report, progress)
    finally:
        for name in _TEMP_TABLES:
            con.execute(f"drop table if exists temp.{name}")
        try:
            con.unregister("_bulk_lines")
        except duckdb.Error:
            pass
        con.execute(f"set memory_limit = {literal(previous)}")
        if pending is not None:
            pending.wait()
    progress(1)
    return report


def _unchanged_report(report: ImportReport, state: dict) -> ImportReport:
    report.rows_read = state["rows_read"]
    report.unchanged = state["comments"]
    report.skipped = dict(state["skipped"])
    report.documents = {"new": 0, "updated": 0, "unchanged": state["documents"], "kept": 0}
    report.dockets = list(state["dockets"])
    return report


def _write(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    file_key: str,
    header: list[str],
    scan: source_files.FileScan,
    located: csv_lines.Located,
    report: ImportReport,
    progress: ProgressFn,
) -> None:
    """Every write to the store's tables, in one transaction."""
    # Long comment strings: zstd is both faster to write and ~3x smaller than
    # DuckDB's default choice here (measured: benchmarks/import_csv.py).
    # The setting is global to the database instance, so it is restored after.
    previous = con.execute("select current_setting('force_compression')").fetchall()[0][0]
    con.execute("set force_compression = 'zstd'")
    con.execute("begin transaction")
    try:
        file_id = source_files.record(con, source=SOURCE, scan=scan, name=file_key, rows=located.rows, columns=header)
        rejects = _record_rejects(con, file_key, located, report)
        progress(1)
        counts = _merge_comments(con, source, header, file_id)
        report.new, report.updated, report.unchanged = counts["new"], counts["updated"], counts["unchanged"]
        report.skip("already stored from a richer source (api/mirrulations)", counts["kept"])
        progress(1)
        report.attachments = _save_attachments(con)
        doc_counts = _merge_documents(con, file_id)
        report.documents = {k: doc_counts[k] for k in ("new", "updated", "unchanged", "kept")}
        report.dockets = _save_dockets(con)
        source_files.save_state(con, file_id, {
            "file_key": file_key,
            "rows_read": report.rows_read,
            "comments": counts["new"] + counts["updated"] + counts["unchanged"],
            "documents": doc_counts["new"] + doc_counts["updated"] + doc_counts["unchanged"],
            "kept": counts["kept"],
            "documents_kept": doc_counts["kept"],
            "skipped": dict(report.skipped),
            "dockets": report.dockets,
            "rejects": rejects,
        })
        progress(1)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"set force_compression = {literal(previous or 'auto')}")


# --------------------------------------------------------------------------- checks


def read_header(path: Path) -> list[str]:
    """The CSV's column names, or an InputError if the file is not a bulk-download CSV."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if not head.strip():
        raise InputError(f"{path} is empty, not a regulations.gov bulk-download CSV")
    head = head.removeprefix(_BOM)
    first, newline, _ = head.partition(b"\n")
    # Binary files (PDF, images, UTF-16 text) are full of NULs; a CSV may carry a
    # stray one inside a comment, which is the importer's business, not a refusal.
    if b"\x00" in first or head.count(b"\x00") * 100 > len(head):
        raise InputError(f"{path} holds binary data, not a regulations.gov bulk-download CSV")
    if not newline and len(head) == _HEAD_BYTES:
        raise InputError(f"{path}: no header line in the first {_HEAD_BYTES:,} bytes; not a bulk-download CSV")
    try:
        line = first.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text, not a regulations.gov bulk-download CSV") from None
    header = [name.strip() for name in next(csv.reader([line]))]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        shown = ", ".join(f'"{c}"' for c in missing)
        raise InputError(f"{path} lacks the column(s) {shown}: not a regulations.gov bulk-download CSV")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes or "" in header:
        raise InputError(f"{path} has blank or repeated column names ({', '.join(dupes) or 'blank'}); not a bulk-download CSV")
    return header


# --------------------------------------------------------------------------- first read


def _stage(con: duckdb.DuckDBPyConnection, path: Path, header: list[str]) -> None:
    """First read: what every row needs but its comment text, into the temp table `_bulk`."""
    for name in ("_bulk_csv_rejects", "_bulk_csv_rejects_scans"):
        con.execute(f"drop table if exists temp.{name}")
    columns = ", ".join(Mapping(header).stage_columns())
    try:
        con.execute(
            f"create or replace temp table _bulk as select {columns}"
            f" from {read_csv(path, header, '_bulk_csv_rejects', _MAX_RECORD)} r"
        )
    except duckdb.Error as exc:  # what store_rejects cannot take (the file as a whole)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} cannot be read as a bulk-download CSV: {first_line[:200]}") from None


def _refused(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    """Records the parser refused: record number -> (its text, the reason)."""
    rows = con.execute(
        """
        select line - 1, first(csv_line),
               string_agg(distinct error_type::varchar, ', ') || ': '
                   || left(first(split_part(error_message, chr(10), 1)), 200)
        from temp._bulk_csv_rejects group by line order by line
        """
    ).fetchall()
    return {number: (text or "", reason) for number, text, reason in rows}


def _locate(con: duckdb.DuckDBPyConnection, scan: source_files.FileScan) -> csv_lines.Located | None:
    """Each staged row's first line, or None when DuckDB's account of the file does not add up."""
    if scan.longest_line >= _MAX_RECORD:
        return None
    refused = _refused(con)
    if any(reason.startswith("LINE SIZE") for _, reason in refused.values()):
        return None
    newlines = con.execute("select newlines from _bulk order by rowid").fetchnumpy()["newlines"]
    return csv_lines.locate(np.asarray(newlines), refused, scan)


def _stage_exact(con: duckdb.DuckDBPyConnection, path: Path, header: list[str], clean: Path) -> csv_lines.Located:
    """The file read by Python's csv module; the records that pass are staged from a clean copy."""
    sanitized = csv_lines.sanitize(path, len(header), header, clean)
    _stage(con, clean, header)
    refused = list(sanitized.refused)
    keep = np.ones(len(sanitized.lines), dtype=bool)
    # The clean copy should pass whole; if DuckDB still refuses a record, it is
    # a reject at that record's line in the original file.
    for number, (_, reason) in _refused(con).items():
        if 1 <= number <= len(keep):
            keep[number - 1] = False
            refused.append((int(sanitized.lines[number - 1]), reason))
    accepted = sanitized.lines[keep]
    staged = con.execute("select count(*) from _bulk").fetchall()[0][0]
    if staged != len(accepted):
        raise InputError(f"{path} cannot be read as a bulk-download CSV: its rows could not be accounted for")
    return csv_lines.Located(sanitized.rows, accepted, sorted(refused))


def _record_rejects(
    con: duckdb.DuckDBPyConnection, file_key: str, located: csv_lines.Located, report: ImportReport
) -> int:
    """Every refused record and every staged row that makes no sense -> import_rejects, by line."""
    # Repeated ids: the first row (in file order) is kept.
    con.execute(
        """
        update _bulk set reject_reason = 'Document ID repeated in the file (its first row is kept)'
        where rowid in (
            select rowid from (
                select rowid, row_number() over (partition by id order by rowid) as nth
                from _bulk where reject_reason is null and id in (
                    select id from _bulk where reject_reason is null group by id having count(*) > 1))
            where nth > 1)
        """
    )
    rows = con.execute(
        "select rowid, id, reject_reason from _bulk where reject_reason is not null order by rowid"
    ).fetchall()
    located_rows = [
        (f"line {located.accepted_lines[rowid]}" + (f" ({doc_id})" if doc_id else ""), reason)
        for rowid, doc_id, reason in rows
    ]
    for reason in (reason for _, _, reason in rows):
        report.skip(reason.split(":")[0] if not reason.startswith("field ") else "field over the size limit")
    report.skip("malformed CSV row", len(located.refused))
    _write_rejects(con, file_key, [(f"line {line}", reason) for line, reason in located.refused] + located_rows)
    return len(located.refused) + len(rows)


def _write_rejects(con: duckdb.DuckDBPyConnection, file_key: str, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    batch = pa.table(
        {
            "source": [SOURCE] * len(rows),
            "file": [file_key] * len(rows),
            "locator": [r[0] for r in rows],
            "reason": [r[1] for r in rows],
            "recorded_at": [now_utc()] * len(rows),
        }
    )
    con.register("_bulk_reject_rows", batch)
    try:
        con.execute("insert or replace into import_rejects select * from _bulk_reject_rows")
    finally:
        con.unregister("_bulk_reject_rows")


def _fix_markup(con: duckdb.DuckDBPyConnection) -> None:
    """Rows with markup or entities: the exact html_to_text, in Python (they are few).

    The results go to `_bulk_fixed`, which the merge prefers to the SQL text
    (an UPDATE of the staged table would rewrite it: ~1 s for a million rows).
    """
    rows = con.execute("select rowid, html_source from _bulk where html_source is not null and reject_reason is null").fetchall()
    fixed = pa.table({"rid": pa.array([r[0] for r in rows], pa.int64()),
                      "text": pa.array([html_to_text(r[1]) for r in rows], pa.string())})
    con.register("_bulk_fixed_rows", fixed)
    try:
        con.execute("create or replace temp table _bulk_fixed as select * from _bulk_fixed_rows")
    finally:
        con.unregister("_bulk_fixed_rows")


# --------------------------------------------------------------------------- merging


def _merge_comments(con: duckdb.DuckDBPyConnection, source: Path, header: list[str], file_id: int) -> dict[str, int]:
    """Second read: the file's comments into `comments` under the merge rule.

    When every valid comment is new and its id appears once in the file (a first
    import), rows go from read_csv straight into the table, matched to their
    first-read row (for the line) by id. Otherwise (a re-import of a changed
    file, a CSV after a sync, an id repeated in the file) every row is staged
    whole in file order, matched to its first-read row by position (both are
    plain scans of the same file), and compared.
    """
    m = Mapping(header)
    valid = "b.reject_reason is null and b.is_comment"
    cols = ", ".join((*COMMENT_COLUMNS, "source_file_id", "source_line", "fetched_at"))
    values = ", ".join(COMMENT_COLUMNS)  # comment_rows() names its columns as the table does
    params = {"now": now_utc(), "file": file_id}
    again = read_csv(source, header, "_bulk_csv_again", _MAX_RECORD)
    con.execute("create or replace temp table _bulk_status (rid bigint, id varchar, status varchar)")
    repeated_or_stored = con.execute(
        f"""
        select exists (select 1 from _bulk where id is not null group by id having count(*) > 1)
            or exists (select 1 from _bulk b join comments e on e.comment_id = b.id where {valid})
        """
    ).fetchall()[0][0]
    if repeated_or_stored:
        return _merge_staged(con, m, again, cols, values, params)

    con.execute(
        f"""
        create or replace temp table _bulk_plan as
        select b.rowid as rid, b.id, l.line from _bulk b join _bulk_lines l on l.rid = b.rowid where {valid}
        """
    )
    planned = con.execute("select count(*) from _bulk_plan").fetchall()[0][0]
    rows = m.comment_rows(
        f"{again} r join _bulk_plan p on p.id = {m.key()} left join _bulk_fixed f on f.rid = p.rid",
        carried=["p.line"],
        fixed="f.text",
    )
    # The CSV side has no size estimate: left to itself the optimizer may build
    # the hash table from the whole file. As written, the plan is the build side.
    previous = con.execute("select current_setting('disabled_optimizers')").fetchall()[0][0]
    con.execute("set disabled_optimizers = 'join_order,build_side_probe_side'")
    try:
        inserted = con.execute(
            f"insert into comments ({cols}) select {values}, $file, line, $now from ({rows})", params
        ).fetchall()[0][0]
    finally:
        con.execute(f"set disabled_optimizers = {literal(previous or '')}")
    if inserted != planned:
        raise InputError(f"{source} changed while it was being imported ({inserted:,} of {planned:,} rows read again); try again")
    return {"new": inserted, "updated": 0, "unchanged": 0, "kept": 0}


def _merge_staged(con, m: Mapping, again: str, cols: str, values: str, params: dict) -> dict[str, int]:
    """Every row staged whole (row k of `_bulk_side` is row k of `_bulk`), compared, merged."""
    con.execute(f"create or replace temp table _bulk_side as {m.comment_rows(f'{again} r', carried=[], fixed='null::varchar')}")
    staged, expected, first = con.execute(
        "select (select count(*) from _bulk_side), (select count(*) from _bulk), (select min(rowid) from _bulk_side)"
    ).fetchall()[0]
    if staged != expected:
        raise InputError(f"the file changed while it was being imported ({staged:,} of {expected:,} rows read again); try again")
    # A table made inside a transaction numbers its rows from a large offset.
    rid = f"(s.rowid - {int(first or 0)})"
    side = (
        f"select {rid} as rid, l.line, s.* replace (coalesce(f.text, s.text) as text)"
        f" from _bulk_side s join _bulk b on b.rowid = {rid} join _bulk_lines l on l.rid = {rid}"
        f" left join _bulk_fixed f on f.rid = {rid}"
        " where b.reject_reason is null and b.is_comment"
    )
    same = " and ".join(f"s.{c} is not distinct from e.{c}" for c in COMMENT_COLUMNS if c != "comment_id")
    con.execute(
        f"""
        insert into _bulk_status
        select s.rid, s.comment_id,
               case when e.comment_id is null then 'new'
                    when e.source is distinct from '{SOURCE}' then 'kept'
                    when {same} then 'unchanged'
                    else 'updated' end
        from ({side}) s left join comments e on e.comment_id = s.comment_id
        """
    )
    counts = {"new": 0, "updated": 0, "unchanged": 0, "kept": 0}
    counts |= dict(con.execute("select status, count(*) from _bulk_status group by status").fetchall())
    chosen = f"select s.* from ({side}) s join _bulk_status t on t.rid = s.rid where t.status = "
    if counts["new"]:
        con.execute(f"insert into comments ({cols}) select {values}, $file, line, $now from ({chosen}'new')", params)
    if counts["updated"]:
        con.execute(f"insert or replace into comments ({cols}) select {values}, $file, line, $now from ({chosen}'updated')", params)
    if counts["unchanged"]:
        _refresh_provenance(con, "comments", "comment_id", "_bulk_status", params["file"])
    return counts


def _refresh_provenance(con, table: str, key: str, status: str, file_id: int) -> None:
    """The same values read again now come from this file and line.

    (So a later re-import of this file can be checked by its id alone.)
    """
    con.execute(
        f"""
        update {table} set source_file_id = $file, source_line = l.line
        from {status} s join _bulk_lines l on l.rid = s.rid
        where {table}.{key} = s.id and s.status = 'unchanged'
          and ({table}.source_file_id is distinct from $file or {table}.source_line is distinct from l.line)
        """,
        {"file": file_id},
    )


def _merge_documents(con: duckdb.DuckDBPyConnection, file_id: int) -> dict[str, int]:
    """The file's documents (from the first read, whole rows in `raw`) under the merge rule."""
    select = _select_document()
    staged = "b.reject_reason is null and not b.is_comment"
    same = " and ".join(f"({select[c]}) is not distinct from e.{c}" for c in DOCUMENT_COLUMNS if c != "document_id")
    con.execute(
        f"""
        create or replace temp table _bulk_doc_status as
        select b.rowid as rid, b.id as id,
               case when e.source is distinct from '{SOURCE}' then 'kept'
                    when {same} then 'unchanged'
                    else 'updated' end as status
        from _bulk b join documents e on e.document_id = b.id
        where {staged}
        """
    )
    counts = dict(con.execute("select status, count(*) from _bulk_doc_status group by status").fetchall())
    cols = ", ".join((*DOCUMENT_COLUMNS, "source_file_id", "source_line", "fetched_at"))
    exprs = ", ".join(select[c] for c in DOCUMENT_COLUMNS)
    lines = "join _bulk_lines l on l.rid = b.rowid"
    params = {"now": now_utc(), "file": file_id}
    counts["new"] = con.execute(
        f"insert into documents ({cols}) select {exprs}, $file, l.line, $now from _bulk b {lines}"
        f" where {staged} and b.rowid not in (select rid from _bulk_doc_status)",
        params,
    ).fetchall()[0][0]
    if counts.get("updated"):
        con.execute(
            f"insert or replace into documents ({cols}) select {exprs}, $file, l.line, $now"
            f" from _bulk b {lines} join _bulk_doc_status s on s.rid = b.rowid where s.status = 'updated'",
            params,
        )
    if counts.get("unchanged"):
        _refresh_provenance(con, "documents", "document_id", "_bulk_doc_status", file_id)
    return {k: counts.get(k, 0) for k in ("new", "updated", "unchanged", "kept")}


def _select_document(alias: str = "b") -> dict[str, str]:
    b = alias
    return {
        "document_id": f"{b}.id",
        "docket_id": f"{b}.docket_id",
        "object_id": "null::varchar",
        "document_type": f"{b}.document_type",
        "subtype": f"{b}.subtype",
        "title": f"{b}.title",
        "fr_doc_num": f"{b}.fr_doc_num",
        "posted_date": f"{b}.posted_date",
        "comment_start_date": f"{b}.comment_start_date",
        "comment_end_date": f"{b}.comment_end_date",
        "open_for_comment": "null::boolean",
        "withdrawn": f"{b}.withdrawn",
        "last_modified": "null::timestamp",
        "source": f"'{SOURCE}'",
        "raw": f"{b}.raw",
    }


def _save_attachments(con: duckdb.DuckDBPyConnection) -> int:
    """Attachment metadata from "Attachment Files" for the comments this import wrote.

    One row per attachment_N; when it is offered in several formats the most
    text-bearing one is chosen (records.TEXT_FORMAT_PREFERENCE) and all are kept
    in file_formats, as the API sync does.
    """
    preference = "[" + ", ".join(literal(f) for f in TEXT_FORMAT_PREFERENCE) + "]"
    con.execute(
        f"""
        create or replace temp table _bulk_att as
        with listed as (
            select b.id as comment_id, b.attachment_files as files
            from _bulk b
            where b.reject_reason is null and b.is_comment and b.attachment_files is not null
              and b.rowid not in (select rid from _bulk_status where status in ('kept', 'unchanged'))
        ), single as (
            -- one URL (trimmed and non-empty already): no unnest, no grouping
            select comment_id, files as url,
                   coalesce(try_cast(regexp_extract(files, '{ORDER_RE}', 1) as integer), 1) as doc_order,
                   nullif(lower(regexp_extract(files, '{FORMAT_RE}', 1)), '') as format
            from listed where not contains(files, ',')
        ), parts as (
            select comment_id, string_split(files, ',') as urls from listed where contains(files, ',')
        ), files as (
            select comment_id, trim(unnest(urls)) as url, generate_subscripts(urls, 1) as pos from parts
        ), described as (
            select comment_id, url, pos,
                   coalesce(try_cast(regexp_extract(url, '{ORDER_RE}', 1) as integer), pos) as doc_order,
                   nullif(lower(regexp_extract(url, '{FORMAT_RE}', 1)), '') as format
            from files where url <> ''
        )
        select comment_id, doc_order, url, format,
               to_json([struct_pack(fileUrl := url, format := format)]) as file_formats
        from single
        union all
        select comment_id, doc_order,
               arg_min(url, coalesce(list_position({preference}, format), 99) * 1000 + pos) as url,
               arg_min(format, coalesce(list_position({preference}, format), 99) * 1000 + pos) as format,
               -- list_sort on (pos, ...) structs: ~30% cheaper than an ordered aggregate
               to_json(list_transform(list_sort(list({{'pos': pos, 'fileUrl': url, 'format': format}})),
                                      lambda f: struct_pack(fileUrl := f.fileUrl, format := f.format))) as file_formats
        from described group by comment_id, doc_order
        """
    )
    # CSV-made rows whose URLs changed (found before the insert below, so the
    # rows it adds are not compared with themselves); rows the API wrote (they
    # carry an attachment id) are left alone. Then new rows by a plain insert.
    changed = con.sql(
        """
        select a.* from _bulk_att a join attachments e using (comment_id, doc_order)
        where e.attachment_id is null
          and (e.url is distinct from a.url or e.file_formats::varchar is distinct from a.file_formats::varchar)
        """
    ).to_arrow_table()
    written = con.execute(
        """
        insert into attachments (comment_id, doc_order, url, format, file_formats)
        select comment_id, doc_order, url, format, file_formats from _bulk_att a
        where not exists (select 1 from attachments e where e.comment_id = a.comment_id and e.doc_order = a.doc_order)
        """
    ).fetchone()[0]
    if changed.num_rows:
        con.register("_bulk_att_changed", changed)
        try:
            con.execute(
                """
                insert into attachments (comment_id, doc_order, url, format, file_formats)
                select comment_id, doc_order, url, format, file_formats from _bulk_att_changed
                on conflict (comment_id, doc_order) do update set
                    url = excluded.url, format = excluded.format, file_formats = excluded.file_formats,
                    status = case when attachments.url is distinct from excluded.url then 'pending' else attachments.status end,
                    text = case when attachments.url is distinct from excluded.url then null else attachments.text end
                """
            )
        finally:
            con.unregister("_bulk_att_changed")
    return written + changed.num_rows


def _save_dockets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A minimal `dockets` row for each docket in the file that has none yet."""
    con.execute(
        """
        insert into dockets (docket_id, agency_id, source, raw, fetched_at)
        select docket_id, any_value(agency_id), $source,
               to_json({'Docket ID': docket_id, 'Agency ID': any_value(agency_id)}), $now
        from _bulk where reject_reason is null and docket_id is not null group by docket_id
        on conflict (docket_id) do nothing
        """,
        {"source": SOURCE, "now": now_utc()},
    )
    return [r[0] for r in con.execute("select distinct docket_id from _bulk where reject_reason is null and docket_id is not null order by 1").fetchall()]


__all__ = ["import_bulk_csv", "read_header", "ImportReport"]
