"""Line numbers for the rows DuckDB's read_csv gives, and the exact path when they cannot be trusted.

read_csv numbers neither lines nor rows of the records it accepts, and its rejects
carry the record's number but not always the truth: a record longer than
max_line_size vanishes, sometimes with no reject and sometimes with a reject
pinned on its neighbour (DuckDB 2.0.1; seen with a 50 MB field), and a blank line
is skipped without a trace. So every import checks the account: each accepted row
spans 1 + (newlines inside its fields) lines, each rejected record the lines of
its text, and those spans plus the header must add up to the file's own line
count (counted while hashing it). They do for any well-formed file, and then a
row's first line is 2 + the spans of the records before it.

When the account does not add up (blank lines, a record DuckDB lost or mangled,
a line longer than DuckDB can hold), the file is read once with Python's csv
module instead (`sanitize`): records of the wrong width, with bytes that are not
UTF-8 or with a field over the size limit are rejected with their line, the rest
are written to a clean copy that DuckDB then reads without surprises. Slower
(~30 CPU-s more per GB here: the whole import takes about twice as long), and
only for files DuckDB does not read whole.

Lines are counted by b"\\n" (as `wc -l`, `sed -n Np` and editors count them), so
a CRLF file numbers its lines like an LF one.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from comments.importers.source_files import FileScan

# A row with a field above this is rejected whole (regulations.gov's comment box
# takes 5,000 characters; longer texts arrive as attachments). A bigger field is
# a damaged file, typically a quote left open that swallows the rows after it,
# or a hostile one; storing it would put megabytes into every text scan of the
# analysis, and rejecting it names the line where the damage starts.
MAX_FIELD_BYTES = 1 << 20


def too_large(name: str, size: int) -> str:
    """The reject reason for an oversized field (bulk_csv_sql spells it the same way in SQL)."""
    return f'field "{name}" is {size} bytes, over the {MAX_FIELD_BYTES}-byte limit for one field'


@dataclass
class Located:
    """Where each row came from: accepted rows in file order, and the refused records."""

    rows: int  # data records in the file (accepted + refused)
    accepted_lines: np.ndarray  # first line of each accepted row, in file order
    refused: list[tuple[int, str]] = field(default_factory=list)  # (first line, reason)


def _span(text: str) -> int:
    # A refused record's text ends at its line end, except an unterminated quote
    # at the end of the file, which holds the final line end too.
    return text.rstrip("\r\n").count("\n") + 1


def locate(
    newlines_in_rows: np.ndarray,
    refused: dict[int, tuple[str, str]],
    scan: FileScan,
) -> Located | None:
    """Line numbers from DuckDB's accepted rows and refused records, or None if they do not add up.

    `newlines_in_rows`: per accepted row, the b"\\n" count inside its fields (file order).
    `refused`: record number (1 = first data record) -> (its text, the reason).
    """
    total = len(newlines_in_rows) + len(refused)
    if any(not 1 <= number <= total for number in refused):
        return None
    spans = np.empty(total, dtype=np.int64)
    is_refused = np.zeros(total, dtype=bool)
    numbers = np.fromiter(refused, dtype=np.int64, count=len(refused)) - 1
    is_refused[numbers] = True
    spans[~is_refused] = newlines_in_rows.astype(np.int64) + 1
    spans[numbers] = [_span(text) for text, _ in refused.values()]
    if 1 + int(spans.sum()) != scan.lines:
        return None
    starts = np.empty(total, dtype=np.int64)
    starts[0:1] = 2
    np.cumsum(spans[:-1], out=starts[1:])
    starts[1:] += 2
    located = [(int(starts[n]), reason) for n, (_, reason) in zip(numbers, refused.values(), strict=True)]
    return Located(total, starts[~is_refused], sorted(located))


# --------------------------------------------------------------------------- the exact path


@dataclass
class Sanitized:
    path: Path  # header + the records that passed, each on the lines csv.writer gives it
    lines: np.ndarray  # first line in the original file of each record written, in order
    refused: list[tuple[int, str]]  # (first line, reason) of the records left out
    rows: int  # data records in the original file


def _lines(path: Path) -> Iterator[str]:
    """The file's lines split on b"\\n" only; bytes that are not UTF-8 kept as lone surrogates."""
    with path.open("rb") as fh:
        first = True
        for raw in fh:  # binary iteration splits on b"\n" only
            line = raw.decode("utf-8", errors="surrogateescape")
            if first:
                line, first = line.removeprefix("\ufeff"), False
            yield line


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # how surrogateescape keeps a byte that is not UTF-8


def _not_utf8(record: list[str]) -> bool:
    return any(_NOT_UTF8.search(value) for value in record)


def sanitize(source: Path, width: int, header: list[str], dest: Path) -> Sanitized:
    """Read `source` with Python's csv module; write the records that pass to `dest`."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # our own check below gives the reason and the line
    lines, refused, rows = [], [], 0
    try:
        reader = csv.reader(_lines(source), strict=False)
        with dest.open("w", encoding="utf-8", newline="") as out:
            # Every field quoted: csv.writer leaves a lone "\r" unquoted otherwise,
            # which DuckDB then reads as a line end.
            writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(header)
            try:
                next(reader)  # the header, checked by the caller
            except (StopIteration, csv.Error):
                pass
            end = reader.line_num
            while True:
                try:
                    record = next(reader)
                    error = None
                except StopIteration:
                    break
                except csv.Error as exc:
                    record, error = None, f"unreadable CSV: {exc}"
                start, end = end + 1, reader.line_num
                if record == []:
                    continue  # a blank line is not a row
                rows += 1
                if error is None and len(record) != width:
                    kind = "MISSING COLUMNS" if len(record) < width else "TOO MANY COLUMNS"
                    error = f"{kind}: expected {width} fields, found {len(record)}"
                if error is None and _not_utf8(record):
                    error = "INVALID ENCODING: bytes that are not UTF-8"
                if error is None:
                    big = next(((n, len(v.encode())) for n, v in zip(header, record, strict=True)
                                if len(v) * 4 > MAX_FIELD_BYTES and len(v.encode()) > MAX_FIELD_BYTES), None)
                    if big:
                        error = too_large(*big)
                if error is not None:
                    refused.append((start, error))
                    continue
                writer.writerow(record)
                lines.append(start)
    finally:
        csv.field_size_limit(limit)
    return Sanitized(dest, np.asarray(lines, dtype=np.int64), refused, rows)
