"""Briefings: one docket's analysis as a two-page HTML page, Markdown or Word file.

    brief = gather(con, docket_id)          # every number, from sql/reports/brief_*.sql
    write_briefing(con, docket_id, "x.html")  # or .md / .docx

The format follows the file's extension. Names of private individuals are
withheld unless `show_names=True`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from comments.briefing.data import NotAnalyzedError, gather
from comments.errors import InputError

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".docx": "docx"}

__all__ = ["FORMATS", "NotAnalyzedError", "briefing_format", "gather", "render", "write_briefing"]


def briefing_format(out: str | Path) -> str:
    """'html', 'markdown' or 'docx' from the output file's extension."""
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"unsupported briefing format {suffix or '(no extension)'!r} for {out}: use .html, .md or .docx")
    return FORMATS[suffix]


def render(brief: dict, fmt: str) -> bytes:
    from comments.briefing import renderers as r

    if fmt == "html":
        return r.to_html(brief).encode("utf-8")
    if fmt == "markdown":
        return r.to_markdown(brief).encode("utf-8")
    if fmt == "docx":
        return r.to_docx(brief)
    raise InputError(f"unsupported briefing format {fmt!r}")


def write_briefing(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    out: str | Path,
    *,
    show_names: bool = False,
    changes: dict | None = None,
) -> dict:
    """Write the briefing for `docket_id` to `out` (format from its extension).

    With `changes` (a `comments.changes.diff_states` result plus
    `previous_run_at`), the briefing opens with "What changed since the last run".

    Returns the gathered data (what the file says), e.g. for Prefect artifacts.
    The file is written whole or not at all (temporary file, then rename).
    """
    out = Path(out)
    fmt = briefing_format(out)
    brief = gather(con, docket_id, show_names=show_names, changes=changes)
    content = render(brief, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(content)
    tmp.replace(out)
    return brief
