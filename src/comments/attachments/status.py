"""What `comments status` says about a docket's attachments and its notice's text.

Apart from `comments.attachments.pipeline` so that `status` does not import the download and
extraction machinery (requests, Arrow, the process pool) to run three queries.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import duckdb

_BIG_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d{4,}")


def attachment_status_lines(con: duckdb.DuckDBPyConnection, docket_id: str | None = None, *, top_reasons: int = 5) -> list[str]:
    """Lines for `comments status`: coverage, files per status, and why files have no text."""
    where, params = ("where c.docket_id = ?", [docket_id]) if docket_id else ("", [])
    comments_total, with_attachments, with_text, files = con.execute(
        f"""
        select count(distinct c.comment_id),
               count(distinct a.comment_id),
               count(distinct a.comment_id) filter (where a.status = 'ok'),
               count(a.comment_id)
        from comments c left join attachments a using (comment_id) {where}
        """,
        params,
    ).fetchone()
    if not files:
        return [f"attachments: none listed ({comments_total:,} comments)"]
    lines = [
        f"attachments: {with_attachments:,} of {comments_total:,} comments have attachments ({files:,} files); "
        f"{with_text:,} of those comments have extracted text"
    ]
    by_status = dict(
        con.execute(
            f"select a.status, count(*) from attachments a join comments c using (comment_id) {where} group by 1", params
        ).fetchall()
    )
    order = ["ok", "empty", "needs_ocr", "unsupported", "too_large", "failed", "restricted", "pending"]
    parts = [f"{by_status[s]:,} {s}" for s in order if by_status.get(s)]
    parts += [f"{n:,} {s}" for s, n in sorted(by_status.items()) if s not in order]
    lines.append("  files: " + ", ".join(parts))
    reasons: dict[str, Counter] = defaultdict(Counter)
    for status, reason, n in con.execute(
        f"""
        select a.status, a.reason, count(*) from attachments a join comments c using (comment_id) {where}
        {"and" if where else "where"} a.status in ('empty', 'needs_ocr', 'unsupported', 'too_large', 'failed', 'restricted')
        group by 1, 2
        """,
        params,
    ).fetchall():
        reasons[status][_BIG_NUMBER.sub("N", reason or "no reason recorded")] += n
    for status in order:
        if status not in reasons:
            continue
        common = reasons[status].most_common()
        shown = "; ".join(f"{n:,} × {reason}" for reason, n in common[:top_reasons])
        more = len(common) - top_reasons
        lines.append(f"  {status}: {shown}" + (f"; and {more} more" if more > 0 else ""))
    return lines


def document_text_status_line(con: duckdb.DuckDBPyConnection, docket_id: str) -> str | None:
    """'notice text: CMS-2022-0163-0001 ok (87,870 characters)' for `comments status`; None when none fetched."""
    rows = con.execute(
        "select document_id, status, reason, length(text) from document_texts where docket_id = ? order by document_id",
        [docket_id],
    ).fetchall()
    if not rows:
        return None
    parts = [f"{d} {s} ({n:,} characters)" if s == "ok" else f"{d} {s}" + (f": {r}" if r else "") for d, s, r, n in rows]
    return "notice text: " + "; ".join(parts)
