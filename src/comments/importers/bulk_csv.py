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

Speed: the whole file is parsed and mapped by DuckDB's `read_csv` in SQL. Python
sees only the few rows whose comment holds markup or an entity (`<`, `&name`,
`&#`), which go through `textutil.html_to_text`; every other row gets the same
whitespace tidying in SQL, so `text` is what `html_to_text` would give.

Measured (benchmarks/import_csv.py, 1,000,000 generated rows, 1.2 GB, 2 cores):
~3.7-4.1 CPU-seconds per 100k rows; 21 s wall (~47,000 rows/s) on an idle
machine, far less when the cores are shared. Where the CPU goes, per 1M rows:
the stage statement ~18 s (read_csv ~3 s of it; the `raw` JSON ~5 s, text
tidying ~3.5 s, checks ~2 s, materializing ~3 s), the insert into `comments`
~10.5 s (zstd and the VARCHAR->JSON cast of `raw`), attachments ~5 s.
The 100,000 rows/s target is out of reach with this schema on 2 cores: read_csv
plus an insert of only id, text and `raw` (no mapping at all) already costs
2.2 CPU-s per 100k rows (~90,000 rows/s if both cores were free); without `raw`
it is 0.94. `raw` (the whole row as JSON, ~1.5 KB) is the largest single cost.
Peak memory is ~6 GB for that file: the staged table (~2.5 GB) plus DuckDB's
write buffers. Lowering memory_limit to 3-4 GB bounds it but makes the stage
spill, costing ~30-50% more CPU, so it is not set here. A two-pass variant
(stage only narrow columns, then insert comments straight from a second
read_csv) was measured too (200k rows): peak memory ~30% lower but ~15-20% more CPU
(the second parse and mapping cost more than the staged copy saves), so the
single stage is kept. Default compression instead of zstd: ~2x slower insert;
no compression: ~20% faster insert but a several times larger file.

Malformed rows (wrong number of fields, bad UTF-8, a missing id or type, a date
that is not a date, an id repeated in the file) are recorded in `import_rejects`
with their reason and the import goes on. A file that is not a bulk CSV at all
is refused with one `InputError`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from comments.errors import InputError
from comments.importers import ImportReport
from comments.progress import ProgressFn, noop
from comments.records import TEXT_FORMAT_PREFERENCE, now_utc
from comments.textutil import html_to_text

SOURCE = "bulk_csv"
REQUIRED_COLUMNS = ("Document ID", "Document Type")
COMMENT_TYPE = "Public Submission"
_BOM = b"\xef\xbb\xbf"
_HEAD_BYTES = 1 << 16

# Text needing the exact Python path (html_to_text): markup or an entity, or a
# white-space character that only Python's str.strip() knows (U+2003 and kin,
# seen in real comments on a line of their own). SQL tests are ordered cheapest first.
# (Found by literal searches: a regex class over them costs ~4x more here.)
_ODD_SPACES = (0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)

# CSV column -> comments column (plain strings, stripped, empty -> null).
_COMMENT_TEXT_COLUMNS = {
    "agency_id": "Agency ID",
    "subtype": "Document Subtype",
    "title": "Title",
    "organization": "Organization Name",
    "category": "Category",
    "gov_agency": "Government Agency",
    "gov_agency_type": "Government Agency Type",
    "first_name": "First Name",
    "last_name": "Last Name",
    "city": "City",
    "state": "State/Province",
    "country": "Country",
    "submitter_rep": "Submitter Representative",
    "tracking_nbr": "Tracking Number",
    "reason_withdrawn": "Reason Withdrawn",
    "restrict_reason": "Restrict Reason",
}
_DATE_COLUMNS = {
    "posted_date": "Posted Date",
    "received_date": "Received Date",
    "postmark_date": "Postmark Date",
    "comment_start_date": "Comment Start Date",
    "comment_end_date": "Comment Due Date",
}

# Columns compared to decide new / updated / unchanged (everything but fetched_at).
COMMENT_COLUMNS = (
    "comment_id", "docket_id", "document_id", "comment_on_object_id", "agency_id",
    "document_type", "subtype", "posted_date", "received_date", "postmark_date",
    "last_modified", "modify_date", "title", "text", "organization", "category",
    "gov_agency", "gov_agency_type", "first_name", "last_name", "city", "state",
    "country", "submitter_rep", "duplicate_comments", "tracking_nbr", "withdrawn",
    "reason_withdrawn", "restrict_reason", "page_count", "attachment_count", "source", "raw",
)
DOCUMENT_COLUMNS = (
    "document_id", "docket_id", "object_id", "document_type", "subtype", "title",
    "fr_doc_num", "posted_date", "comment_start_date", "comment_end_date",
    "open_for_comment", "withdrawn", "last_modified", "source", "raw",
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

    try:
        _stage(con, path, header)
        progress(1)
        malformed = _record_csv_rejects(con, file_key)
        report.rows_read = (con.execute("select count(*) from _bulk").fetchone()[0]) + malformed
        report.skip("malformed CSV row", malformed)
        _fix_markup(con)
        progress(1)
        _write(con, file_key, report, progress)
    finally:
        for name in ("_bulk", "_bulk_status", "_bulk_doc_status", "_bulk_att", "_bulk_csv_rejects", "_bulk_csv_scans"):
            con.execute(f"drop table if exists temp.{name}")
    progress(1)
    return report


def _write(con: duckdb.DuckDBPyConnection, file_key: str, report: ImportReport, progress: ProgressFn) -> None:
    """Every write to the store's tables, in one transaction."""
    # Long comment and raw-JSON strings: zstd is both faster to write and ~3x
    # smaller than DuckDB's default choice here (measured: benchmarks/import_csv.py).
    # The setting is global to the database instance, so it is restored after.
    previous = con.execute("select current_setting('force_compression')").fetchone()[0]
    con.execute("set force_compression = 'zstd'")
    con.execute("begin transaction")
    try:
        for reason, n in _record_row_rejects(con, file_key).items():
            report.skip(reason, n)
        progress(1)
        counts = _merge(con, "comments", "comment_id", COMMENT_COLUMNS, "is_comment")
        report.new, report.updated, report.unchanged = counts["new"], counts["updated"], counts["unchanged"]
        report.skip("already stored from a richer source (api/mirrulations)", counts["kept"])
        progress(1)
        report.attachments = _save_attachments(con)
        doc_counts = _merge(con, "documents", "document_id", DOCUMENT_COLUMNS, "not is_comment")
        report.documents = {k: doc_counts[k] for k in ("new", "updated", "unchanged", "kept")}
        report.dockets = _save_dockets(con)
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
    if b"\x00" in head:
        raise InputError(f"{path} holds binary data, not a regulations.gov bulk-download CSV")
    head = head.removeprefix(_BOM)
    first, newline, _ = head.partition(b"\n")
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


def _stage(con: duckdb.DuckDBPyConnection, path: Path, header: list[str]) -> None:
    """Parse and map the whole file into the temp table `_bulk` (one SQL statement)."""

    def col(name: str) -> str:
        return f"r.{_ident(name)}" if name in header else "null::varchar"

    def text(name: str) -> str:  # records._str: stripped, empty -> null
        return f"nullif(trim({col(name)}), '')"

    def ts(name: str) -> str:  # records.parse_ts: '...Z' is UTC, a bare time is taken as UTC
        v = f"trim({col(name)})"
        return (
            f"case when {v} like '%Z' then timezone('UTC', try_cast({v} as timestamptz))"
            f" else coalesce(try_cast({v} as timestamp), timezone('UTC', try_cast({v} as timestamptz))) end"
        )

    def bad_ts(name: str) -> str:
        return f"(nullif(trim({col(name)}), '') is not null and ({ts(name)}) is null)"

    def integer(name: str) -> str:
        return f"try_cast(trim({col(name)}) as integer)"

    def boolean(name: str) -> str:  # records._bool
        v = f"nullif(trim({col(name)}), '')"
        return f"case when {v} is null then null else lower({v}) in ('true', '1', 'yes', 'y') end"

    # Text: the exact html_to_text for the few rows that need Python (_fix_markup);
    # for the rest, the same white-space tidying in SQL, built from literal
    # searches (RE2 is only fast with a literal prefix).
    c = col("Comment")
    needs_python = (
        f"coalesce(contains({c}, '<') or (contains({c}, '&') and regexp_matches({c}, '&[#A-Za-z]'))"
        + "".join(f" or contains({c}, chr({code}))" for code in _ODD_SPACES)
        + ", false)"
    )
    spaces = c
    for code in (9, 13, 11, 12, 160):  # textutil._SPACES: each becomes a space, runs collapse
        spaces = f"replace({spaces}, chr({code}), ' ')"
    lines = f"replace(replace(regexp_replace({spaces}, '  +', ' ', 'g'), ' ' || chr(10), chr(10)), chr(10) || ' ', chr(10))"
    paragraphs = f"regexp_replace({lines}, '\\n\\n\\n+', chr(10) || chr(10), 'g')"
    # Most frequent first: OR skips rows already found (in the real file ~19% have
    # ' \n', ~16% a double space, ~4% three newlines; the rest are rare).
    needs_tidy = " or ".join(
        [f"contains({c}, {s})" for s in ("' ' || chr(10)", "'  '", "chr(10) || chr(10) || chr(10)", "chr(10) || ' '",
                                         "chr(13)", "chr(9)", "chr(160)", "chr(11)", "chr(12)")]
    )
    tidied = f"case when {needs_tidy} then {paragraphs} else {c} end"
    # Edges are trimmed in the outer query, on the tidied value computed once.
    edges = (
        "case when starts_with(_tidied, ' ') or starts_with(_tidied, chr(10))"
        " or ends_with(_tidied, ' ') or ends_with(_tidied, chr(10))"
        " then regexp_replace(_tidied, '^[ \\n]+|[ \\n]+$', '', 'g') else _tidied end"
    )

    date_checks = " ".join(
        f"when {bad_ts(csv_name)} then {_literal(csv_name + ' is not a date: ')} || left(trim({col(csv_name)}), 40)"
        for csv_name in _DATE_COLUMNS.values()
    )
    doc_id, doc_type = text("Document ID"), text("Document Type")
    reject = (
        f"case when {doc_id} is null then 'missing Document ID'"
        f" when not regexp_full_match({doc_id}, '[A-Za-z0-9][A-Za-z0-9_.-]*') then 'malformed Document ID'"
        f" when {doc_type} is null then 'missing Document Type'"
        f" {date_checks} else null end"
    )
    mapped = [
        f"{doc_id} as id",
        f"{doc_type} as document_type",
        f"{doc_type} is not distinct from {_literal(COMMENT_TYPE)} as is_comment",
        f"coalesce({text('Docket ID')}, regexp_replace({doc_id}, '-[^-]*$', '')) as docket_id",
        f"{text('Comment on Document ID')} as comment_on_document_id",
        *(f"{text(csv_name)} as {column}" for column, csv_name in _COMMENT_TEXT_COLUMNS.items()),
        *(f"{ts(csv_name)} as {column}" for column, csv_name in _DATE_COLUMNS.items()),
        f"{text('Federal Register Number')} as fr_doc_num",
        f"{integer('Duplicate Comments')} as duplicate_comments",
        f"{integer('Page Count')} as page_count",
        f"{boolean('Is Withdrawn?')} as withdrawn",
        f"{tidied} as _tidied",
        f"{needs_python} as needs_html",
        f"{text('Attachment Files')} as attachment_files",
        f"{reject} as reject_reason",
        # The row as a JSON object of its non-empty fields, built by concatenation
        # (concat_ws skips nulls): several times faster than to_json(r).
        "'{' || concat_ws(',', "
        + ", ".join(f"{_literal(json.dumps(name) + ':')} || to_json(r.{_ident(name)})" for name in header)
        + ") || '}' as raw",
    ]
    columns = "{" + ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in header) + "}"
    for name in ("_bulk_csv_rejects", "_bulk_csv_scans"):
        con.execute(f"drop table if exists temp.{name}")
    try:
        _create_stage(con, path, columns, mapped, edges)
    except duckdb.Error as exc:  # what store_rejects cannot take (the file as a whole)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} cannot be read as a bulk-download CSV: {first[:200]}") from None


def _create_stage(con, path: Path, columns: str, mapped: list[str], edges: str) -> None:
    con.execute(
        f"""
        create or replace temp table _bulk as
        select * exclude (_tidied), {edges} as text from (
        select {", ".join(mapped)}
        from read_csv($path, columns = {columns}, header = true, auto_detect = false,
                      delim = ',', quote = '"', escape = '"',
                      store_rejects = true, rejects_table = '_bulk_csv_rejects',
                      rejects_scan = '_bulk_csv_scans') r)
        """,
        {"path": str(path)},
    )


def _record_csv_rejects(con: duckdb.DuckDBPyConnection, file_key: str) -> int:
    """Rows DuckDB's parser refused (field count, UTF-8, size) -> import_rejects."""
    rows = con.execute(
        """
        select 'row ' || (min(line) - 1) as locator,
               string_agg(distinct error_type::varchar, ', ') || ': '
                   || left(first(split_part(error_message, chr(10), 1)), 200) as reason
        from temp._bulk_csv_rejects group by line
        """
    ).fetchall()
    _write_rejects(con, file_key, rows)
    return len(rows)


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
    rows = con.execute("select rowid, raw->>'Comment' from _bulk where needs_html").fetchall()
    if not rows:
        return
    fixed = pa.table({"row_no": [r[0] for r in rows], "text": [html_to_text(r[1]) for r in rows]})
    con.register("_bulk_fixed", fixed)
    try:
        con.execute("update _bulk set text = f.text from _bulk_fixed f where _bulk.rowid = f.row_no")
    finally:
        con.unregister("_bulk_fixed")


def _record_row_rejects(con: duckdb.DuckDBPyConnection, file_key: str) -> dict[str, int]:
    """Rows that parsed but make no sense (no id, bad date, repeated id) -> import_rejects."""
    # rowid is the row's position among the rows the parser accepted (file order).
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
        "select rowid + 1, id, reject_reason from _bulk where reject_reason is not null order by rowid"
    ).fetchall()
    if not rows:
        return {}
    # Give the row's number in the file, counting the rows the parser refused too.
    parser_rejects = [
        r[0] for r in con.execute("select distinct line - 1 from temp._bulk_csv_rejects order by 1").fetchall()
    ]
    located = []
    for accepted_no, doc_id, reason in rows:
        number = accepted_no
        for refused in parser_rejects:
            if refused <= number:
                number += 1
        located.append((f"row {number}" + (f" ({doc_id})" if doc_id else ""), reason))
    _write_rejects(con, file_key, located)
    counts: dict[str, int] = {}
    for _, _, reason in rows:
        key = reason.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


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
        "raw": f"{b}.raw",
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
    # Common case first: every URL ends in .../attachment_N.ext, so one regex
    # over the whole list gives the orders (~2x cheaper than a lambda per URL).
    # Otherwise each URL is keyed on its order, or on itself when it has none.
    orders = f"regexp_extract_all({files}, '/attachment_(\\d+)[^/,]*(?:,|$)', 1)"
    exact = (
        f"len(list_distinct(list_transform(string_split({files}, ','),"
        f" lambda u: coalesce(regexp_extract(trim(u), '/attachment_(\\d+)[^/]*$', 1), trim(u)))))"
    )
    return (
        f"case when {files} is null then 0"
        f" when len({orders}) = len(string_split({files}, ',')) and not contains({files}, ' ')"
        f" then len(list_distinct({orders})) else {exact} end"
    )


def _merge(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    columns: tuple[str, ...],
    kind: str,
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
    cols = ", ".join(columns)
    exprs = ", ".join(select[c] for c in columns)
    now = now_utc()
    # New rows: straight from _bulk, every row whose id the table does not hold.
    counts["new"] = con.execute(
        f"insert into {table} ({cols}, fetched_at) select {exprs}, $now from _bulk b"
        f" where {staged} and b.rowid not in (select rid from {status})",
        {"now": now},
    ).fetchone()[0]
    if counts.get("updated"):
        con.execute(
            f"insert or replace into {table} ({cols}, fetched_at) select {exprs}, $now"
            f" from _bulk b join {status} s on s.rid = b.rowid where s.status = 'updated'",
            {"now": now},
        )
    return {k: counts.get(k, 0) for k in ("new", "updated", "unchanged", "kept")}


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
        with parts as (
            select b.id as comment_id, string_split(b.attachment_files, ',') as urls
            from _bulk b
            where b.reject_reason is null and b.is_comment and b.attachment_files is not null
              and b.rowid not in (select rid from _bulk_status where status in ('kept', 'unchanged'))
        ), files as (
            select comment_id, trim(unnest(urls)) as url, generate_subscripts(urls, 1) as pos from parts
        ), described as (
            select comment_id, url, pos,
                   coalesce(try_cast(regexp_extract(url, '/attachment_(\\d+)[^/]*$', 1) as integer), pos) as doc_order,
                   nullif(lower(regexp_extract(url, '/[^/]*\\.([A-Za-z0-9]+)$', 1)), '') as format
            from files where url <> ''
        )
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
