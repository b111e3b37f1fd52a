"""`<DOCKET>.changes.md`: the briefing's "What changed since the last run" section as its own file.

`record_changes` collects the docket's state, diffs it with the last snapshot
(`comments.changes`), saves the new snapshot and writes the file beside the
briefing. The Markdown is the briefing's own section with no list cut short
(`briefing.data.what_changed`, `briefing.renderers.changes_markdown`), so the
file and the briefing cannot disagree. Everything drawn from comment text
(theme labels, template excerpts) is escaped for Markdown and passed through
the briefing's private-name guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from comments.briefing.data import what_changed
from comments.briefing.privacy import NameGuard, NoGuard
from comments.briefing.renderers import changes_markdown, fmt_when
from comments.changes import collect_state, diff_states, latest_snapshot, now_utc, record_snapshot
from comments.errors import InputError


def private_name_guard(con: duckdb.DuckDBPyConnection, docket_id: str) -> NameGuard:
    """The briefing's NameGuard over the docket's private commenters."""
    rows = con.execute(
        """
        select c.first_name, c.last_name, c.title
        from comments c join comment_analysis a using (comment_id)
        where c.docket_id = ? and a.commenter_type not in ('organization', 'government')
        """,
        [docket_id],
    ).fetchall()
    return NameGuard.from_rows(rows)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")


def md_escape(text: str | None) -> str:
    """Untrusted text as literal Markdown: HTML neutralized, Markdown syntax backslash-escaped."""
    text = " ".join((text or "").split())
    # `<` and `>` become entities so no tag can form; a bare `&` is left alone
    # (at worst it displays an entity a comment spelled out, never live HTML).
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_changes_markdown(
    changes: dict,
    *,
    previous_run_at: datetime | str | None = None,
    run_at: datetime | str | None = None,
    guard=None,
) -> str:
    """`<DOCKET>.changes.md`: the briefing's "What changed since the last run" section, nothing cut.

    The very section the briefing opens with (`briefing.data.what_changed` and
    `briefing.renderers.changes_markdown`), so the two cannot disagree; here
    every new comment, campaign and theme is listed. `guard` is the docket's
    private-name guard (`private_name_guard`); excerpts and labels pass through
    it, and all comment text is escaped for Markdown.
    """
    section = what_changed(
        {**changes, "previous_run_at": previous_run_at, "run_at": run_at},
        guard if guard is not None else NoGuard(),
        max_ids=None, max_campaigns=None, max_themes=None,
    )
    title = f"# {md_escape(changes.get('docket_id') or 'Docket')}"
    if section["run_at"] is not None:
        title += f": tracking run of {fmt_when(section['run_at'])}"
    return "\n".join([title, "", *changes_markdown(section)])


# --------------------------------------------------------------------------- one docket


@dataclass
class DocketChanges:
    docket_id: str
    run_at: datetime
    previous_run_at: datetime | None
    changes: dict
    markdown: str
    path: Path | None = None


def record_changes(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    out_dir: str | Path | None = None,
    run_at: datetime | None = None,
) -> DocketChanges:
    """Collect the docket's state, diff it with the last snapshot, save the new one, write the Markdown.

    The section goes to `<out_dir>/<docket_id>.changes.md` (next to the briefing).
    """
    guard = private_name_guard(con, docket_id)
    current = collect_state(con, docket_id, guard=guard)
    last = latest_snapshot(con, docket_id)
    previous_run_at, previous = (last if last else (None, None))
    run_at = run_at or now_utc()
    if previous_run_at is not None and run_at <= previous_run_at:
        run_at = previous_run_at + timedelta(seconds=1)  # two runs in one second stay ordered
    changes = diff_states(previous, current)
    markdown = render_changes_markdown(changes, previous_run_at=previous_run_at, run_at=run_at, guard=guard)
    path = None
    if out_dir is not None:
        path = changes_path(out_dir, docket_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(markdown, encoding="utf-8")
        tmp.replace(path)
    record_snapshot(con, current, run_at, last)
    return DocketChanges(docket_id, run_at, previous_run_at, changes, markdown, path)


def changes_path(out_dir: str | Path, docket_id: str) -> Path:
    return Path(out_dir) / f"{safe_file_stem(docket_id)}.changes.md"


def safe_file_stem(docket_id: str) -> str:
    """A docket id as a file name part (ids are validated, but never trust a path)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", docket_id).strip("._")
    if not stem:
        raise InputError(f"docket id {docket_id!r} cannot name a file")
    return stem

