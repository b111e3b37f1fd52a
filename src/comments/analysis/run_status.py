"""The last analysis run of each docket, for `comments status`.

Apart from `comments.analysis.pipeline` so that `status` does not import the analysis itself
(numpy, pyarrow compute, the campaign, theme and stance modules: a quarter of a second of its
one-second budget on a big docket).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

INTERRUPTED = "interrupted: the process ended before the run finished"  # sync_runs says the same


def analysis_status_lines(con: duckdb.DuckDBPyConnection, docket_id: str | None = None) -> list[str]:
    """The last analysis run, for `comments status`: one line (for `docket_id`) or one per docket.

    With a docket: "last analysis 2026-05-01 12:00 UTC: 647 comments, 13 campaigns, 12 themes (run ...)"
    (or "last analysis never ..."); without: the same prefixed by the docket id.
    A run still marked 'running' is reported as interrupted: whoever can read the
    database holds it, so no other process is analyzing it (DuckDB's file lock).
    """
    try:
        rows = con.execute(
            """
            select docket_id, run_id, status, started_at, finished_at, comments_analyzed, campaigns, themes, message
            from analysis_runs
            where ($docket_id is null or docket_id = $docket_id)
            qualify row_number() over (partition by docket_id order by started_at desc, run_id desc) = 1
            order by docket_id
            """,
            {"docket_id": docket_id},
        ).fetchall()
    except duckdb.CatalogException:
        return []
    lines = []
    for d, run, status, started_at, finished, n, camps, themes, message in rows:
        when = finished or started_at
        when_s = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else str(when)
        head = "last analysis" if docket_id is not None else f"{d}: last analysis"
        if status == "complete":
            lines.append(f"{head} {when_s}: {n:,} comments, {camps:,} campaigns, {themes} themes (run {run})")
        elif status == "running":
            lines.append(f"{head} {when_s}: failed (run {run}): {INTERRUPTED}")
        else:
            lines.append(f"{head} {when_s}: {status} (run {run}){': ' + message if message else ''}")
    if docket_id is not None and not lines:
        lines.append(f"last analysis never (run `comments analyze {docket_id}`)")
    return lines
