"""Bulk-CSV columns: which typed column of `comments` holds each one, and how a row is rebuilt.

A comment imported from a bulk CSV keeps no copy of its row. It keeps its typed
columns, the file it came from (`import_files`: sha256, name, size, header) and
the line of the row's first line, and in `source_extra` only what the typed
columns cannot give back:
- every non-empty field of a column with no typed home in `comments`
  ("Allow Late Comments", "Attachment Files", "Federal Register Number", ...);
- the exact field of a typed column whose typed value does not render back to it
  (a name with edge spaces, a date in another spelling, "01" pages, a date that
  is not a date, an empty "Docket ID" whose typed value was derived from the id).
So every field of the row is rebuilt exactly from the store (`rebuild_row`), with
one documented exception: "Comment" is stored cleaned (`textutil.html_to_text`:
markup and entities decoded, white space tidied), the same text the API sync
stores. Keeping the uncleaned comment whenever cleaning changed it would repeat
~75% of the text bytes (measured on the real bulk CSV in tests/data: cleaning
changes 439 of 981 comments); its exact bytes stay in the source file, which the
stored sha256 identifies and the stored line locates.

The rules here are written once for SQL (`extra_json_sql`, used by the import)
and once for Python (`rebuild_row`), and a test holds them to each other.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

COMMENT = "Comment"
DOCKET = "Docket ID"
DOCUMENT_ID = "Document ID"

# CSV column -> comments column, by how the value is typed.
TEXT = {  # stripped of edge spaces, empty -> null
    DOCUMENT_ID: "comment_id",
    "Document Type": "document_type",
    "Comment on Document ID": "document_id",
    "Agency ID": "agency_id",
    "Document Subtype": "subtype",
    "Title": "title",
    "Organization Name": "organization",
    "Category": "category",
    "Government Agency": "gov_agency",
    "Government Agency Type": "gov_agency_type",
    "First Name": "first_name",
    "Last Name": "last_name",
    "City": "city",
    "State/Province": "state",
    "Country": "country",
    "Submitter Representative": "submitter_rep",
    "Tracking Number": "tracking_nbr",
    "Reason Withdrawn": "reason_withdrawn",
    "Restrict Reason": "restrict_reason",
}
DATES = {  # UTC timestamps; rendered back as 2025-05-28T04:00Z (seconds only when not zero)
    "Posted Date": "posted_date",
    "Received Date": "received_date",
    "Postmark Date": "postmark_date",
}
INTEGERS = {"Duplicate Comments": "duplicate_comments", "Page Count": "page_count"}
BOOLEANS = {"Is Withdrawn?": "withdrawn"}  # 'true' / 'false'

# Columns whose typed value is read back by rebuild_row.
TYPED_COLUMNS = (*TEXT.values(), *DATES.values(), *INTEGERS.values(), *BOOLEANS.values(), "docket_id", "text")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ts_sql(value: str) -> str:
    """SQL: the UTC timestamp a date field means (records.parse_ts: '...Z' is UTC, a bare time is UTC)."""
    v = f"trim({value})"
    return (
        f"case when {v} like '%Z' then timezone('UTC', try_cast({v} as timestamptz))"
        f" else coalesce(try_cast({v} as timestamp), timezone('UTC', try_cast({v} as timestamptz))) end"
    )


def render_ts_sql(ts: str) -> str:
    """SQL: a timestamp spelled as regulations.gov writes it (the inverse of render_ts)."""
    return (
        f"case when microsecond({ts}) = 0 then strftime({ts}, '%Y-%m-%dT%H:%MZ')"
        f" else strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') end"
    )


def render_ts(value: datetime) -> str:
    # microsecond() in DuckDB counts the seconds too: zero means ':00.000000'.
    if value.second == 0 and value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%MZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def extra_json_sql(header: list[str], raw, typed) -> str:
    """SQL: the row's `source_extra` JSON object (null when every field has a typed home).

    `raw(name)` gives the SQL for a field as read (null when the field is empty);
    `typed(column)` the SQL for the typed value the import computed for it.
    Built by concatenation (concat_ws skips nulls): several times cheaper than a
    struct or map per row, and the common row yields a few short pairs. Each
    test decides exactly whether the typed value renders back to the field.
    """
    parts = []
    for name in header:
        c = raw(name)
        pair = f"{_lit(json.dumps(name, ensure_ascii=False) + ':')} || to_json({c})"
        edge_spaces = f"{c} <> trim({c})"  # trim takes ' ' and the other Unicode spaces (NBSP, U+2003, ...)
        if name == COMMENT:
            continue  # stored cleaned in `text` (see the module docstring)
        if name == DOCKET:
            # An empty Docket ID is derived from the id: say it was empty.
            keep = f"{c} is null or {edge_spaces}"
            pair = f"{_lit(json.dumps(name, ensure_ascii=False) + ':')} || to_json(coalesce({c}, ''))"
        elif name in TEXT:
            keep = edge_spaces
        elif name in DATES:
            ts = typed(DATES[name])
            keep = f"{c} is not null and ({ts} is null or {c} <> {render_ts_sql(ts)})"
        elif name in INTEGERS:
            value = typed(INTEGERS[name])
            keep = f"{c} is not null and ({value} is null or {c} <> {value}::varchar)"
        elif name in BOOLEANS:
            keep = f"{c} not in ('true', 'false')"
        else:
            keep = f"{c} is not null"
        parts.append(f"case when {keep} then {pair} end")
    if not parts:
        return "null::varchar"
    return "nullif('{' || concat_ws(',', " + ", ".join(parts) + ") || '}', '{}')"


def rebuild_row(con: duckdb.DuckDBPyConnection, comment_id: str) -> dict[str, str] | None:
    """The CSV row a bulk-CSV comment came from, as {column: field} in file order.

    None when the comment is not stored from a bulk CSV. "Comment" is the stored
    (cleaned) text; every other field is exactly as the file held it (an empty
    field is ''), as `csv.DictReader` reads it.
    """
    row = con.execute(
        f"""
        select f.columns::varchar, c.source_extra::varchar, {", ".join("c." + t for t in TYPED_COLUMNS)}
        from comments c join import_files f on f.file_id = c.source_file_id
        where c.comment_id = ? and c.source = 'bulk_csv'
        """,
        [comment_id],
    ).fetchone()
    if row is None:
        return None
    header, extra = json.loads(row[0]), json.loads(row[1]) if row[1] else {}
    typed = dict(zip(TYPED_COLUMNS, row[2:], strict=True))
    out = {}
    for name in header:
        if name in extra:
            out[name] = extra[name]
        elif name == COMMENT:
            out[name] = typed["text"] or ""
        elif name == DOCKET:
            out[name] = typed["docket_id"]
        elif name in TEXT:
            out[name] = typed[TEXT[name]] or ""
        elif name in DATES:
            value = typed[DATES[name]]
            out[name] = render_ts(value) if value is not None else ""
        elif name in INTEGERS:
            value = typed[INTEGERS[name]]
            out[name] = str(value) if value is not None else ""
        elif name in BOOLEANS:
            value = typed[BOOLEANS[name]]
            out[name] = ("true" if value else "false") if value is not None else ""
        else:
            out[name] = ""
    return out
