"""The SQL that maps a bulk CSV's fields to rows, for one file's header.

Two reads of the file (bulk_csv.py says why): `stage_columns` is what the first
one keeps of every row (ids, checks, line spans, and the document columns for
the few document rows), `comment_rows` turns the second read straight into
`comments` rows, text and leftovers included, without staging the text.
The two compute every shared value with the same expressions.
"""

from __future__ import annotations

import json
from html.entities import html5
from pathlib import Path

from comments.importers import csv_columns, csv_lines

SOURCE = "bulk_csv"
COMMENT_TYPE = "Public Submission"

# Text needing the exact Python path (html_to_text): see `needs_python` below.
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

# comments column <- CSV column, for the plain strings (stripped, empty -> null).
_COMMENT_TEXT = {
    column: name for name, column in csv_columns.TEXT.items()
    if column not in ("comment_id", "document_type", "document_id")
}
# Dates a row may hold, all checked (a row with a date that is not one is rejected).
DATES = {
    **{column: name for name, column in csv_columns.DATES.items()},
    "comment_start_date": "Comment Start Date",
    "comment_end_date": "Comment Due Date",
}

ORDER_RE = "/attachment_(\\d+)[^/]*$"  # .../attachment_3.pdf -> 3
FORMAT_RE = "/[^/]*\\.([A-Za-z0-9]+)$"  # .../attachment_3.pdf -> pdf


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_csv(path: Path, header: list[str], rejects: str, max_record: int) -> str:
    """SQL: DuckDB's read_csv of the file, every column as text, refused records to temp.<rejects>."""
    columns = "{" + ", ".join(f"{literal(name)}: 'VARCHAR'" for name in header) + "}"
    # DuckDB's read buffer must hold the longest record; a file smaller than the
    # cap cannot hold a longer one, so it is read exactly whatever it holds.
    record = min(max_record, max(path.stat().st_size + 1, 2 << 20))
    return (
        f"read_csv({literal(str(path))}, columns = {columns}, header = true, auto_detect = false,"
        f" delim = ',', quote = '\"', escape = '\"', max_line_size = {record}, buffer_size = {record},"
        f" store_rejects = true, rejects_table = {literal(rejects)}, rejects_scan = {literal(rejects + '_scans')})"
    )


def attachment_orders(files: str) -> str:
    """SQL: how many distinct attachments (doc orders) an "Attachment Files" list names."""
    # One URL (most rows that have any): one attachment. Then the common list:
    # every URL ends in .../attachment_N.ext, so one regex over the whole list
    # gives the orders (~2x cheaper than a lambda per URL). Otherwise each URL is
    # keyed on its order, or on itself when it has none.
    orders = f"regexp_extract_all({files}, '/attachment_(\\d+)[^/,]*(?:,|$)', 1)"
    exact = (
        f"len(list_distinct(list_transform(string_split({files}, ','),"
        f" lambda u: coalesce(regexp_extract(trim(u), '{ORDER_RE}', 1), trim(u)))))"
    )
    return (
        f"case when {files} is null then 0 when not contains({files}, ',') then 1"
        f" when len({orders}) = len(string_split({files}, ',')) and not contains({files}, ' ')"
        f" then len(list_distinct({orders})) else {exact} end"
    )


class Mapping:
    """SQL expressions over `r`, a row of read_csv with this header."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self._raw = {name: f"_c{i}" for i, name in enumerate(header)}

    def col(self, name: str) -> str:
        return f"r.{ident(name)}" if name in self.header else "null::varchar"

    def text(self, name: str) -> str:  # records._str: stripped, empty -> null
        return f"nullif(trim({self.col(name)}), '')"

    def ts(self, name: str) -> str:
        return csv_columns.ts_sql(self.col(name))

    def integer(self, name: str) -> str:
        return f"try_cast(trim({self.col(name)}) as integer)"

    def boolean(self, name: str) -> str:  # records._bool
        v = self.text(name)
        return f"case when {v} is null then null else lower({v}) in ('true', '1', 'yes', 'y') end"

    def key(self) -> str:
        """The row's id, as it is matched between the two reads."""
        return self.text("Document ID")

    def is_comment(self) -> str:
        return f"{self.text('Document Type')} is not distinct from {literal(COMMENT_TYPE)}"

    def docket_id(self) -> str:
        return f"coalesce({self.text('Docket ID')}, regexp_replace({self.key()}, '-[^-]*$', ''))"

    # ------------------------------------------------------------------- first read

    def stage_columns(self) -> list[str]:
        """What the first read keeps of each row: no comment text, no comment-only fields."""
        doc = f"not ({self.is_comment()})"
        return [
            f"{self.key()} as id",
            f"{self.is_comment()} as is_comment",
            f"{self.docket_id()} as docket_id",
            f"{self.text('Agency ID')} as agency_id",
            # Documents, a handful per docket, are merged from here, whole row included.
            f"case when {doc} then {self.text('Document Type')} end as document_type",
            f"case when {doc} then {self.text('Document Subtype')} end as subtype",
            f"case when {doc} then {self.text('Title')} end as title",
            f"case when {doc} then {self.text('Federal Register Number')} end as fr_doc_num",
            *(f"case when {doc} then {self.ts(name)} end as {column}"
              for column, name in DATES.items() if column in ("posted_date", "comment_start_date", "comment_end_date")),
            f"case when {doc} then {self.boolean('Is Withdrawn?')} end as withdrawn",
            f"case when {doc} then '{{' || concat_ws(',', "
            + ", ".join(f"{literal(json.dumps(name) + ':')} || to_json({self.col(name)})" for name in self.header)
            + ") || '}' end as raw",
            f"case when {self.needs_python()} then {self.col('Comment')} end as html_source",
            f"{self.text('Attachment Files')} as attachment_files",
            f"{self.reject_reason()} as reject_reason",
            f"({self.newlines()})::integer as newlines",  # lines the row spans beyond its first
        ]

    def needs_python(self) -> str:
        """Whether html_to_text may do more to the comment than the SQL tidy.

        What its HTML parser could read as markup ('<' before a letter, '/', '!'
        or '?'), what html.unescape could change (_ENTITY_RE), a NUL, or a white
        space only Python's str.strip() knows at a line's end. All but four of
        those are outside ASCII, so they are looked for only in the quarter of
        rows that are not ASCII (strlen counts bytes, length characters). Prose
        such as "R&D" or "<2 minutes" stays in SQL: in the real bulk CSV that is
        14 of the 15 rows a cruder test sent to Python.
        """
        c = self.col("Comment")
        ascii_odd = " or ".join(f"contains({c}, chr({code}))" for code in _ODD_SPACES if code < 0x80)
        other_odd = " or ".join(f"contains({c}, chr({code}))" for code in _ODD_SPACES if code >= 0x80)

        def only_if(condition: str, then: str) -> str:
            # CASE, not AND: DuckDB evaluates both sides of an AND on every row here
            # (measured: the edge regex alone on all rows cost 3x the rest together).
            return f"case when {condition} then {then} else false end"

        non_ascii = f"strlen({c}) <> length({c})"
        odd = f"({ascii_odd} or {only_if(non_ascii, '(' + other_odd + ')')})"
        markup = only_if(f"contains({c}, '<')", f"regexp_matches({c}, '<[A-Za-z!/?]')")
        entity = only_if(f"contains({c}, '&')", f"regexp_matches({c}, {literal(_ENTITY_RE)})")
        odd_at_edge = only_if(odd, f"regexp_matches({c}, {literal(_ODD_AT_EDGE_RE)})")
        return f"coalesce({markup} or {entity} or contains({c}, chr(0)) or {odd_at_edge}, false)"

    def reject_reason(self) -> str:
        # A field over the size limit rejects its row (csv_lines.MAX_FIELD_BYTES
        # says why); strlen is the byte length, kept with the string.
        limit = csv_lines.MAX_FIELD_BYTES
        oversized = " ".join(
            f"when strlen({self.col(name)}) > {limit} then {literal(f'field {json.dumps(name)} is ')}"
            f" || strlen({self.col(name)}) || {literal(f' bytes, over the {limit}-byte limit for one field')}"
            for name in self.header
        )
        bad_dates = " ".join(
            f"when {self.text(name)} is not null and ({self.ts(name)}) is null"
            f" then {literal(name + ' is not a date: ')} || left(trim({self.col(name)}), 40)"
            for name in DATES.values()
        )
        doc_id, doc_type = self.key(), self.text("Document Type")
        return (
            f"case {oversized} when {doc_id} is null then 'missing Document ID'"
            f" when not regexp_full_match({doc_id}, '[A-Za-z0-9][A-Za-z0-9_.-]*') then 'malformed Document ID'"
            f" when {doc_type} is null then 'missing Document Type'"
            f" {bad_dates} else null end"
        )

    def newlines(self) -> str:
        """b"\\n" inside the row's fields: the lines it spans beyond its first (csv_lines.locate)."""
        return " + ".join(
            f"coalesce(case when contains({self.col(n)}, chr(10))"
            f" then strlen({self.col(n)}) - strlen(replace({self.col(n)}, chr(10), '')) end, 0)"
            for n in self.header
        )

    # ------------------------------------------------------------------- second read

    def comment_rows(self, source: str, carried: list[str], fixed: str) -> str:
        """SQL: a `comments` row (every column of bulk_csv.COMMENT_COLUMNS) per row of `source`.

        `source` is a FROM clause naming the CSV row `r`; `carried` are columns
        of other tables in it passed through (the row's line, ...); `fixed`
        is html_to_text's text where _fix_markup made one (else null).

        Layered projections: the first maps fields to typed values, the next
        ones tidy the comment's white space one step each, as textutil's
        html_to_text does (each step is the identity on a row without its
        trigger, so it runs only where needed: the literal tests cost far less
        than the regexes), the last builds the text and the leftovers from
        values computed once.
        """
        m = self
        typed = {
            "comment_id": m.key(),
            "docket_id": m.docket_id(),
            "document_id": m.text("Comment on Document ID"),
            "comment_on_object_id": "null::varchar",
            "agency_id": m.text("Agency ID"),
            "document_type": m.text("Document Type"),
            "subtype": m.text("Document Subtype"),
            "posted_date": m.ts("Posted Date"),
            "received_date": m.ts("Received Date"),
            "postmark_date": m.ts("Postmark Date"),
            "last_modified": "null::timestamp",  # unknown: the next sync re-fetches the detail
            "modify_date": "null::timestamp",
            "title": m.text("Title"),
            **{column: m.text(name) for column, name in _COMMENT_TEXT.items() if column not in ("agency_id", "subtype", "title")},
            "duplicate_comments": m.integer("Duplicate Comments"),
            "withdrawn": m.boolean("Is Withdrawn?"),
            "page_count": m.integer("Page Count"),
            "attachment_count": attachment_orders(m.text("Attachment Files")),
            "source": literal(SOURCE),
            "raw": "null::json",  # the row is in the file (source_file_id, source_line) and source_extra
        }
        first = (
            ", ".join(f"{expr} as {column}" for column, expr in typed.items())
            + f", {fixed} as _fixed, {m.col('Comment')} as _t, "
            + ", ".join(f"{m.col(n)} as {self._raw[n]}" for n in self.header)
            + "".join(f", {c}" for c in carried)
        )
        query = f"select {first} from {source}"
        steps = [
            (" or ".join(f"contains(_t, chr({code}))" for code in (9, 13, 11, 12, 160)),
             "replace(replace(replace(replace(replace(_t, chr(9), ' '), chr(13), ' '), chr(11), ' '), chr(12), ' '), chr(160), ' ')"),
            ("contains(_t, '  ')", "regexp_replace(_t, '  +', ' ', 'g')"),
            # Two-byte searches cost ~7x a one-byte one: asked only of rows with a newline.
            ("case when contains(_t, chr(10)) then contains(_t, ' ' || chr(10)) or contains(_t, chr(10) || ' ') else false end",
             "replace(replace(_t, ' ' || chr(10), chr(10)), chr(10) || ' ', chr(10))"),
            ("case when contains(_t, chr(10)) then contains(_t, chr(10) || chr(10) || chr(10)) else false end",
             "regexp_replace(_t, '\\n\\n\\n+', chr(10) || chr(10), 'g')"),
            # The final strip: DuckDB's trim(x, characters) costs ~10x a gated
            # regex here (it reads every character of the text).
            ("starts_with(_t, ' ') or starts_with(_t, chr(10))", "regexp_replace(_t, '^[ \\n]+', '')"),
            ("ends_with(_t, ' ') or ends_with(_t, chr(10))", "regexp_replace(_t, '[ \\n]+$', '')"),
        ]
        for condition, change in steps:
            query = f"select * replace (case when {condition} then {change} else _t end as _t) from ({query})"
        extra = csv_columns.extra_json_sql(self.header, lambda n: self._raw[n], lambda column: column)
        names = [c.rsplit(".", 1)[-1].rsplit(" as ", 1)[-1] for c in carried]
        final = (
            ", ".join(typed)
            + f", coalesce(_fixed, _t) as text, ({extra})::json as source_extra"
            + "".join(f", {n}" for n in names)
        )
        return f"select {final} from ({query})"
