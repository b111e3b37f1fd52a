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

Importing the same bytes again (same sha256) is answered from the store when
everything that file's last import wrote is still as it left it
(source_files.unchanged_since_import): no parse at all, only the hash.

Speed and memory, measured with benchmarks/import_csv.py (1,000,000 generated
rows, 1.2 GB, 2 cores; figures in BENCHMARKS.md): see _COST below.
"""

from __future__ import annotations

import csv
import json
import tempfile
from html.entities import html5
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from comments.errors import InputError
from comments.importers import ImportReport, csv_columns, csv_lines, source_files
from comments.progress import ProgressFn, noop
from comments.records import TEXT_FORMAT_PREFERENCE, now_utc
from comments.textutil import html_to_text

SOURCE = "bulk_csv"
REQUIRED_COLUMNS = ("Document ID", "Document Type")
COMMENT_TYPE = "Public Submission"
_BOM = b"\xef\xbb\xbf"
_HEAD_BYTES = 1 << 16

# DuckDB's memory for the import (the setting is global to the database
# instance, so it is restored after). Without it DuckDB takes up to 80% of RAM
# (6.2 GB peak for 1M rows before); at this limit the staged rows spill to
# <db>.tmp only for files of well over a million rows.
MEMORY_LIMIT = "1200MB"
# Longest CSV record DuckDB is asked to read; its read buffer must be as large.
# A longer one is caught by the line account and read by the exact path.
_MAX_RECORD = 64 << 20

_COST = """
Where the time goes (1M rows, CPU seconds, DuckDB profiling and timers around
each statement, measured on a quiet machine):
- the stage statement (read_csv, mapping, text tidying, leftovers, checks,
  materializing): see BENCHMARKS.md for the current split;
- hashing the file (sha256, in a thread beside DuckDB's parse);
- the insert into `comments` (primary-key index, zstd of the text);
- attachments from "Attachment Files".
"""

# Text needing the exact Python path (html_to_text): markup or an entity, or a
# white-space character that only Python's str.strip() knows (U+2003 and kin,
# seen in real comments on a line of their own). SQL tests are ordered cheapest first.
# (Found by literal searches: a regex class over them costs ~4x more here.)
_ODD_SPACES = (0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)

# str.strip() removes them only at a line's ends (mid-line they are kept, as in
# "Medicare\u202f&\u202fMedicaid"): only there do they need Python.
_ODD = "".join(map(chr, _ODD_SPACES))
_SPACE = " \t\r\x0b\x0c\xa0" + _ODD
_ODD_AT_EDGE_RE = f"(^|\n)[{_SPACE}]*[{_ODD}]|[{_ODD}][{_SPACE}]*(\n|$)"

# Where html.unescape may change text: a numeric reference, anything shaped like
# "&name;", or one of the legacy names it replaces even without a ';' (as a
# prefix: "&notit" -> "\u00acit"). A superset is fine: those rows go to Python.
_ENTITY_RE = "&(#|[^\t\n\f <&#;]{1,32};|" + "|".join(sorted(
    (name for name in html5 if not name.endswith(";")), key=len, reverse=True)) + ")"

# CSV column -> comments column (plain strings, stripped, empty -> null).
_COMMENT_TEXT_COLUMNS = {
    column: name for name, column in csv_columns.TEXT.items()
    if column not in ("comment_id", "document_type", "document_id")
}
_DATE_COLUMNS = {
    **{column: name for name, column in csv_columns.DATES.items()},
    "comment_start_date": "Comment Start Date",
    "comment_end_date": "Comment Due Date",
}

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
_PROVENANCE = ("source_file_id", "source_line")
_TEMP_TABLES = ("_bulk", "_bulk_status", "_bulk_doc_status", "_bulk_att", "_bulk_csv_rejects", "_bulk_csv_rejects_scans")


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
            source_files.touch(con, known.file_id)
            progress(steps)
            return _unchanged_report(report, known.state)
    pending = source_files.BackgroundScan(path) if scan is None else None

    previous = con.execute("select current_setting('memory_limit')").fetchone()[0]
    con.execute(f"set memory_limit = {_literal(MEMORY_LIMIT)}")
    try:
        with tempfile.TemporaryDirectory(prefix="comments-csv-") as tmp:
            try:
                _stage(con, path, header)
                read_whole = True
            except InputError:  # DuckDB refused the file as a whole (e.g. mixed line ends)
                read_whole = False
            progress(1)
            scan = scan or pending.result()
            located = _locate(con, scan) if read_whole else None
            if located is None:  # DuckDB's account of the file does not add up: read it exactly
                located = _stage_exact(con, path, header, Path(tmp) / "clean.csv")
            report.rows_read = located.rows
            lines = located.accepted_lines
            con.register("_bulk_lines", pa.table({"rid": np.arange(len(lines), dtype=np.int64), "line": lines}))
            _fix_markup(con)
            progress(1)
            _write(con, file_key, header, scan, located, report, progress)
    finally:
        for name in _TEMP_TABLES:
            con.execute(f"drop table if exists temp.{name}")
        try:
            con.unregister("_bulk_lines")
        except duckdb.Error:
            pass
        con.execute(f"set memory_limit = {_literal(previous)}")
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
    previous = con.execute("select current_setting('force_compression')").fetchone()[0]
    con.execute("set force_compression = 'zstd'")
    con.execute("begin transaction")
    try:
        file_id = source_files.record(con, source=SOURCE, scan=scan, name=file_key, rows=located.rows, columns=header)
        rejects = _record_rejects(con, file_key, located, report)
        progress(1)
        counts = _merge(con, "comments", "comment_id", COMMENT_COLUMNS, "is_comment", file_id)
        report.new, report.updated, report.unchanged = counts["new"], counts["updated"], counts["unchanged"]
        report.skip("already stored from a richer source (api/mirrulations)", counts["kept"])
        progress(1)
        report.attachments = _save_attachments(con)
        doc_counts = _merge(con, "documents", "document_id", DOCUMENT_COLUMNS, "not is_comment", file_id)
        report.documents = {k: doc_counts[k] for k in ("new", "updated", "unchanged", "kept")}
        report.dockets = _save_dockets(con)
        source_files.save_state(con, file_id, {
            "file_key": file_key,
            "rows_read": report.rows_read,
            "comments": counts["new"] + counts["updated"] + counts["unchanged"],
            "documents": doc_counts["new"] + doc_counts["updated"] + doc_counts["unchanged"],
            "kept": counts["kept"],
            "documents_kept": doc_counts["kept"],
            "skipped": {k: v for k, v in report.skipped.items()},
            "dockets": report.dockets,
            "rejects": rejects,
        })
        progress(1)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"set force_compression = {_literal(previous or 'auto')}")


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


# --------------------------------------------------------------------------- staging


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_csv(path: Path, header: list[str], rejects: str) -> str:
    """SQL: DuckDB's read_csv of the file, every column as text, refused records to temp.<rejects>."""
    columns = "{" + ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in header) + "}"
    # DuckDB's read buffer must hold the longest record; a file smaller than the
    # cap cannot hold a longer one, so it is read exactly whatever it holds.
    record = min(_MAX_RECORD, max(path.stat().st_size + 1, 2 << 20))
    return (
        f"read_csv({_literal(str(path))}, columns = {columns}, header = true, auto_detect = false,"
        f" delim = ',', quote = '\"', escape = '\"', max_line_size = {record}, buffer_size = {record},"
        f" store_rejects = true, rejects_table = {_literal(rejects)}, rejects_scan = {_literal(rejects + '_scans')})"
    )


def _newlines_sql(names: list[str], col) -> str:
    """SQL: how many b"\n" the fields hold (the lines a row spans beyond its first)."""
    return " + ".join(
        f"coalesce(case when contains({col(n)}, chr(10)) then strlen({col(n)}) - strlen(replace({col(n)}, chr(10), '')) end, 0)"
        for n in names
    )


def _stage(con: duckdb.DuckDBPyConnection, path: Path, header: list[str]) -> None:
    """Parse and map the whole file into the temp table `_bulk` (one SQL statement).

    Layered projections: the first maps fields to typed values, the next ones
    tidy the comment's white space one step each (a step runs only on rows that
    need it), the last builds `text` and `source_extra` from values computed once.
    """
    raw_names = {name: f"_c{i}" for i, name in enumerate(header)}

    def col(name: str) -> str:
        return f"r.{_ident(name)}" if name in header else "null::varchar"

    def text(name: str) -> str:  # records._str: stripped, empty -> null
        return f"nullif(trim({col(name)}), '')"

    def ts(name: str) -> str:
        return csv_columns.ts_sql(col(name))

    def bad_ts(name: str) -> str:
        return f"(nullif(trim({col(name)}), '') is not null and ({ts(name)}) is null)"

    def integer(name: str) -> str:
        return f"try_cast(trim({col(name)}) as integer)"

    def boolean(name: str) -> str:  # records._bool
        v = f"nullif(trim({col(name)}), '')"
        return f"case when {v} is null then null else lower({v}) in ('true', '1', 'yes', 'y') end"

    # Text: the exact html_to_text for the few rows that need Python (_fix_markup):
    # what its HTML parser could read as markup ('<' before a letter, '/', '!' or
    # '?'), what html.unescape could change (_ENTITY_RE), a NUL, or a white-space
    # character only Python's str.strip() knows. All but four of those are outside
    # ASCII, so they are looked for only in the quarter of rows that are not ASCII
    # (strlen counts bytes, length characters). Prose such as "R&D" or "<2 minutes"
    # stays in SQL: in the real bulk CSV that is 14 of the 15 rows the old test sent to Python.
    c = col("Comment")
    needs_python = (
        f"coalesce((contains({c}, '<') and regexp_matches({c}, '<[A-Za-z!/?]'))"
        f" or (contains({c}, '&') and regexp_matches({c}, {_literal(_ENTITY_RE)}))"
        f" or contains({c}, chr(0))"
        f" or (({' or '.join(f'contains({c}, chr({code}))' for code in _ODD_SPACES if code < 0x80)}"
        f" or (strlen({c}) <> length({c}) and ({' or '.join(f'contains({c}, chr({code}))' for code in _ODD_SPACES if code >= 0x80)})))"
        f" and regexp_matches({c}, {_literal(_ODD_AT_EDGE_RE)})), false)"
    )
    # A field over the size limit rejects its row (csv_lines.MAX_FIELD_BYTES says why).
    # strlen is the byte length, kept with the string: no scan of the text.
    limit = csv_lines.MAX_FIELD_BYTES
    oversized = " ".join(
        f"when strlen({col(name)}) > {limit} then "
        f"{_literal(f'field {json.dumps(name)} is ')} || strlen({col(name)}) || {_literal(f' bytes, over the {limit}-byte limit for one field')}"
        for name in header
    )
    date_checks = " ".join(
        f"when {bad_ts(csv_name)} then {_literal(csv_name + ' is not a date: ')} || left(trim({col(csv_name)}), 40)"
        for csv_name in _DATE_COLUMNS.values()
    )
    doc_id, doc_type = text("Document ID"), text("Document Type")
    reject = (
        f"case {oversized} when {doc_id} is null then 'missing Document ID'"
        f" when not regexp_full_match({doc_id}, '[A-Za-z0-9][A-Za-z0-9_.-]*') then 'malformed Document ID'"
        f" when {doc_type} is null then 'missing Document Type'"
        f" {date_checks} else null end"
    )
    is_comment = f"{doc_type} is not distinct from {_literal(COMMENT_TYPE)}"
    typed = [
        f"{doc_id} as id",
        f"{doc_type} as document_type",
        f"{is_comment} as is_comment",
        f"coalesce({text('Docket ID')}, regexp_replace({doc_id}, '-[^-]*$', '')) as docket_id",
        f"{text('Comment on Document ID')} as comment_on_document_id",
        *(f"{text(csv_name)} as {column}" for column, csv_name in _COMMENT_TEXT_COLUMNS.items()),
        *(f"{ts(csv_name)} as {column}" for column, csv_name in _DATE_COLUMNS.items()),
        f"{text('Federal Register Number')} as fr_doc_num",
        f"{integer('Duplicate Comments')} as duplicate_comments",
        f"{integer('Page Count')} as page_count",
        f"{boolean('Is Withdrawn?')} as withdrawn",
        f"case when {needs_python} then {c} end as html_source",
        f"{text('Attachment Files')} as attachment_files",
        f"{reject} as reject_reason",
        f"({_newlines_sql(header, col)})::integer as newlines",  # lines the row spans beyond its first
        # Documents, a handful per docket, keep their whole row as before.
        f"case when not ({is_comment}) then '{{' || concat_ws(',', "
        + ", ".join(f"{_literal(json.dumps(name) + ':')} || to_json({col(name)})" for name in header)
        + ") || '}' end as raw",
    ]
    names = [e.rsplit(" as ", 1)[1] for e in typed]
    first = ", ".join(typed) + f", {c} as _t, " + ", ".join(f"{col(n)} as {raw_names[n]}" for n in header)

    # The comment's white space, as textutil.html_to_text tidies it, one step per
    # layer; each step is the identity on a row without its trigger, so a step
    # runs only where needed (the literal tests cost far less than the regexes).
    steps = [
        (" or ".join(f"contains(_t, chr({code}))" for code in (9, 13, 11, 12, 160)),
         "replace(replace(replace(replace(replace(_t, chr(9), ' '), chr(13), ' '), chr(11), ' '), chr(12), ' '), chr(160), ' ')"),
        ("contains(_t, '  ')", "regexp_replace(_t, '  +', ' ', 'g')"),
        ("contains(_t, ' ' || chr(10)) or contains(_t, chr(10) || ' ')",
         "replace(replace(_t, ' ' || chr(10), chr(10)), chr(10) || ' ', chr(10))"),
        ("contains(_t, chr(10) || chr(10) || chr(10))", "regexp_replace(_t, '\\n\\n\\n+', chr(10) || chr(10), 'g')"),
    ]
    query = f"select {first} from {_read_csv(path, header, '_bulk_csv_rejects')} r"
    for condition, change in steps:
        query = f"select * replace (case when {condition} then {change} else _t end as _t) from ({query})"
    extra = csv_columns.extra_json_sql(header, lambda n: raw_names[n], lambda column: column)
    # Edges last, as html_to_text's final strip: DuckDB's trim(x, characters)
    # costs ~10x a gated regex here (it reads every character of the text).
    for edge, pattern in (("starts_with", "^[ \\n]+"), ("ends_with", "[ \\n]+$")):
        query = (
            f"select * replace (case when {edge}(_t, ' ') or {edge}(_t, chr(10))"
            f" then regexp_replace(_t, '{pattern}', '') else _t end as _t) from ({query})"
        )
    final = ", ".join(names) + f", _t as text, case when is_comment then {extra} end as extra"
    for name in ("_bulk_csv_rejects", "_bulk_csv_rejects_scans"):
        con.execute(f"drop table if exists temp.{name}")
    try:
        con.execute(f"create or replace temp table _bulk as select {final} from ({query})")
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
    """Rows with markup or entities: the exact html_to_text, in Python (they are few)."""
    rows = con.execute("select rowid, html_source from _bulk where html_source is not null and reject_reason is null").fetchall()
    if not rows:
        return
    fixed = pa.table({"row_no": [r[0] for r in rows], "text": [html_to_text(r[1]) for r in rows]})
    con.register("_bulk_fixed", fixed)
    try:
        con.execute("update _bulk set text = f.text from _bulk_fixed f where _bulk.rowid = f.row_no")
    finally:
        con.unregister("_bulk_fixed")


# --------------------------------------------------------------------------- merging


def _select_comment(alias: str = "b") -> dict[str, str]:
    b = alias
    return {
        "comment_id": f"{b}.id",
        "docket_id": f"{b}.docket_id",
        "document_id": f"{b}.comment_on_document_id",
        "comment_on_object_id": "null::varchar",
        "agency_id": f"{b}.agency_id",
        "document_type": f"{b}.document_type",
        "subtype": f"{b}.subtype",
        "posted_date": f"{b}.posted_date",
        "received_date": f"{b}.received_date",
        "postmark_date": f"{b}.postmark_date",
        "last_modified": "null::timestamp",  # unknown: the next sync re-fetches the detail
        "modify_date": "null::timestamp",
        "title": f"{b}.title",
        "text": f"{b}.text",
        "organization": f"{b}.organization",
        "category": f"{b}.category",
        "gov_agency": f"{b}.gov_agency",
        "gov_agency_type": f"{b}.gov_agency_type",
        "first_name": f"{b}.first_name",
        "last_name": f"{b}.last_name",
        "city": f"{b}.city",
        "state": f"{b}.state",
        "country": f"{b}.country",
        "submitter_rep": f"{b}.submitter_rep",
        "duplicate_comments": f"{b}.duplicate_comments",
        "tracking_nbr": f"{b}.tracking_nbr",
        "withdrawn": f"{b}.withdrawn",
        "reason_withdrawn": f"{b}.reason_withdrawn",
        "restrict_reason": f"{b}.restrict_reason",
        "page_count": f"{b}.page_count",
        "attachment_count": f"{_attachment_orders(b + '.attachment_files')}",
        "source": f"'{SOURCE}'",
        "raw": "null::json",  # the row is in the file (source_file_id, source_line) and source_extra
        "source_extra": f"{b}.extra::json",
    }


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


def _attachment_orders(files: str) -> str:
    """How many distinct attachments (doc orders) an "Attachment Files" list names."""
    # One URL (most rows that have any): one attachment. Then the common list:
    # every URL ends in .../attachment_N.ext, so one regex
    # over the whole list gives the orders (~2x cheaper than a lambda per URL).
    # Otherwise each URL is keyed on its order, or on itself when it has none.
    orders = f"regexp_extract_all({files}, '/attachment_(\\d+)[^/,]*(?:,|$)', 1)"
    exact = (
        f"len(list_distinct(list_transform(string_split({files}, ','),"
        f" lambda u: coalesce(regexp_extract(trim(u), '/attachment_(\\d+)[^/]*$', 1), trim(u)))))"
    )
    return (
        f"case when {files} is null then 0 when not contains({files}, ',') then 1"
        f" when len({orders}) = len(string_split({files}, ',')) and not contains({files}, ' ')"
        f" then len(list_distinct({orders})) else {exact} end"
    )


def _merge(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    columns: tuple[str, ...],
    kind: str,
    file_id: int,
) -> dict[str, int]:
    """Insert or replace the staged rows of one kind into `table` under the merge rule."""
    select = _select_comment() if table == "comments" else _select_document()
    staged = f"b.reject_reason is null and {kind}"
    # Rows already stored: kept (richer source), unchanged or updated. Only
    # (row, status) is materialized; in a first import this is empty and cheap.
    same = " and ".join(f"({select[c]}) is not distinct from e.{c}" for c in columns if c != key)
    status = "_bulk_status" if table == "comments" else "_bulk_doc_status"
    con.execute(
        f"""
        create or replace temp table {status} as
        select b.rowid as rid, b.id as id,
               case when e.source is distinct from '{SOURCE}' then 'kept'
                    when {same} then 'unchanged'
                    else 'updated' end as status
        from _bulk b join {table} e on e.{key} = b.id
        where {staged}
        """
    )
    counts = dict(con.execute(f"select status, count(*) from {status} group by status").fetchall())
    cols = ", ".join((*columns, *_PROVENANCE, "fetched_at"))
    exprs = ", ".join(select[c] for c in columns)
    # _bulk_lines holds each staged row's first line, in rowid order.
    lines = "join _bulk_lines l on l.rid = b.rowid"
    params = {"now": now_utc(), "file": file_id}
    # New rows: straight from _bulk, every row whose id the table does not hold.
    counts["new"] = con.execute(
        f"insert into {table} ({cols}) select {exprs}, $file, l.line, $now from _bulk b {lines}"
        f" where {staged} and b.rowid not in (select rid from {status})",
        params,
    ).fetchone()[0]
    if counts.get("updated"):
        con.execute(
            f"insert or replace into {table} ({cols}) select {exprs}, $file, l.line, $now"
            f" from _bulk b {lines} join {status} s on s.rid = b.rowid where s.status = 'updated'",
            params,
        )
    if counts.get("unchanged"):
        # The same values read again: they now come from this file and line (so a
        # later re-import of this file can be checked by its id alone).
        con.execute(
            f"""
            update {table} set source_file_id = $file, source_line = l.line
            from {status} s join _bulk_lines l on l.rid = s.rid
            where {table}.{key} = s.id and s.status = 'unchanged'
              and ({table}.source_file_id is distinct from $file or {table}.source_line is distinct from l.line)
            """,
            {"file": file_id},
        )
    return {k: counts.get(k, 0) for k in ("new", "updated", "unchanged", "kept")}


_ORDER_RE = "/attachment_(\\d+)[^/]*$"  # .../attachment_3.pdf -> 3
_FORMAT_RE = "/[^/]*\\.([A-Za-z0-9]+)$"  # .../attachment_3.pdf -> pdf


def _save_attachments(con: duckdb.DuckDBPyConnection) -> int:
    """Attachment metadata from "Attachment Files" for the comments this import wrote.

    One row per attachment_N; when it is offered in several formats the most
    text-bearing one is chosen (records.TEXT_FORMAT_PREFERENCE) and all are kept
    in file_formats, as the API sync does.
    """
    preference = "[" + ", ".join(_literal(f) for f in TEXT_FORMAT_PREFERENCE) + "]"
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
                   coalesce(try_cast(regexp_extract(files, '{_ORDER_RE}', 1) as integer), 1) as doc_order,
                   nullif(lower(regexp_extract(files, '{_FORMAT_RE}', 1)), '') as format
            from listed where not contains(files, ',')
        ), parts as (
            select comment_id, string_split(files, ',') as urls from listed where contains(files, ',')
        ), files as (
            select comment_id, trim(unnest(urls)) as url, generate_subscripts(urls, 1) as pos from parts
        ), described as (
            select comment_id, url, pos,
                   coalesce(try_cast(regexp_extract(url, '{_ORDER_RE}', 1) as integer), pos) as doc_order,
                   nullif(lower(regexp_extract(url, '{_FORMAT_RE}', 1)), '') as format
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
    # New rows by a plain insert (the usual case); then CSV-made rows whose URLs
    # changed. Rows the API wrote (they carry an attachment id) are left alone.
    written = con.execute(
        """
        insert into attachments (comment_id, doc_order, url, format, file_formats)
        select comment_id, doc_order, url, format, file_formats from _bulk_att a
        where not exists (select 1 from attachments e where e.comment_id = a.comment_id and e.doc_order = a.doc_order)
        """
    ).fetchone()[0]
    changed = con.sql(
        """
        select a.* from _bulk_att a join attachments e using (comment_id, doc_order)
        where e.attachment_id is null
          and (e.url is distinct from a.url or e.file_formats::varchar is distinct from a.file_formats::varchar)
        """
    ).to_arrow_table()
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
