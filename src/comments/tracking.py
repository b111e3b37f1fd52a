"""Tracking: what changed in a docket since the last run, and the watchlist behind it.

A tracking run records the docket's *state* (counts, campaigns, themes, stance,
the set of comment ids) as JSON in `tracking_snapshots`. The next run collects
the state again and `diff_states(previous, current)` says what changed: new
comments, new campaigns, campaigns that grew, stance shift, new or growing
themes. Campaigns and themes are compared by the analysis's stable ids.

`collect_state` reads SQL; `diff_states` and `render_changes_markdown` are
pure functions over plain dicts, so they are tested on constructed states.
`render_changes_markdown` is the briefing's own what-changed section with no
list cut short (one rendering, in `comments.briefing`). Everything drawn from
comment text (theme labels, template excerpts) is escaped for Markdown and
passed through the briefing's name guard.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from comments.analysis.stance import (
    ALL_STANCES as STANCES,  # support, oppose, mixed, unclear, not read
)
from comments.errors import InputError

EXCERPT_CHARS = 160
# A stance's share must move at least this many percentage points to be called a shift.
STANCE_SHIFT_POINTS = 5.0


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


# --------------------------------------------------------------------------- state


def collect_state(con: duckdb.DuckDBPyConnection, docket_id: str, *, guard=None) -> dict:
    """The docket's current state as plain JSON-able data (see module doc)."""
    ids = [r[0] for r in con.execute(
        "select comment_id from comments where docket_id = ? order by comment_id", [docket_id]
    ).fetchall()]
    submissions = con.execute(
        "select coalesce(sum(1 + coalesce(duplicate_comments, 0)), 0) from comments where docket_id = ?",
        [docket_id],
    ).fetchone()[0]
    run = con.execute(
        """
        select run_id, finished_at from analysis_runs
        where docket_id = ? and status = 'complete'
        order by finished_at desc nulls last, started_at desc limit 1
        """,
        [docket_id],
    ).fetchone()
    # The briefing's own stance query, so both say the same numbers (a campaign
    # counts once among unique texts, with the campaign's stance).
    from comments.resources import sql_dir

    stance_sql = (sql_dir() / "reports" / "brief_stance.sql").read_text(encoding="utf-8")
    stance = {s: {"comments": 0, "submissions": 0, "unique_texts": 0} for s in STANCES}
    cur = con.execute(stance_sql, {"docket_id": docket_id})
    names = [d[0] for d in cur.description]
    for row in cur.fetchall():
        r = dict(zip(names, row, strict=True))
        stance[r["stance"]] = {
            "comments": int(r["comments"]),
            "submissions": int(r["submissions"]),
            "unique_texts": int(r["unique_texts"]),
        }
    campaigns = {}
    for cid, size, subs, cstance, template in con.execute(
        """
        select campaign_id, size, submissions_represented, stance, template_text
        from campaigns where docket_id = ? order by campaign_id
        """,
        [docket_id],
    ).fetchall():
        excerpt = _excerpt(template)
        campaigns[cid] = {
            "size": int(size),
            "submissions": int(subs),
            "stance": cstance,
            "excerpt": guard.redact(excerpt) if guard is not None else excerpt,
        }
    themes = {}
    for tid, label, n, uniq, subs, catch_all in con.execute(
        """
        select theme_id, label, comments, unique_texts, submissions, is_catch_all
        from themes where docket_id = ? order by theme_id
        """,
        [docket_id],
    ).fetchall():
        themes[tid] = {
            "label": label,
            "comments": int(n),
            "unique_texts": int(uniq),
            "submissions": int(subs),
            "catch_all": bool(catch_all),
        }
    return {
        "docket_id": docket_id,
        "collected_at": now_utc().isoformat(),
        "analysis_run_id": run[0] if run else None,
        "comments": len(ids),
        "submissions": int(submissions),
        "comment_ids": ids,
        "stance": stance,
        "campaigns": campaigns,
        "themes": themes,
    }


def _excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def private_name_guard(con: duckdb.DuckDBPyConnection, docket_id: str):
    """The briefing's NameGuard over the docket's private commenters (None if unavailable)."""
    try:
        from comments.briefing.privacy import NameGuard
    except ImportError:  # pragma: no cover - the briefing package is part of the product
        return None
    rows = con.execute(
        """
        select c.first_name, c.last_name, c.title
        from comments c join comment_analysis a using (comment_id)
        where c.docket_id = ? and a.commenter_type not in ('organization', 'government')
        """,
        [docket_id],
    ).fetchall()
    return NameGuard.from_rows(rows)


def save_snapshot(con: duckdb.DuckDBPyConnection, state: dict, run_at: datetime | None = None) -> datetime:
    run_at = run_at or now_utc()
    con.execute(
        "insert or replace into tracking_snapshots (docket_id, run_at, state) values (?, ?, ?)",
        [state["docket_id"], run_at, json.dumps(state, ensure_ascii=False, default=str)],
    )
    return run_at


def latest_snapshot(con: duckdb.DuckDBPyConnection, docket_id: str) -> tuple[datetime, dict] | None:
    row = con.execute(
        "select run_at, state from tracking_snapshots where docket_id = ? order by run_at desc limit 1",
        [docket_id],
    ).fetchone()
    return None if row is None else (row[0], json.loads(row[1]))


# --------------------------------------------------------------------------- diff


def diff_states(previous: dict | None, current: dict) -> dict:
    """What changed from `previous` to `current` (states from `collect_state`); pure.

    With no previous state (first run) every campaign and theme counts as new
    and `first_run` is true.
    """
    prev = previous or {"comments": 0, "submissions": 0, "comment_ids": [], "stance": {}, "campaigns": {}, "themes": {}}
    before_ids, after_ids = set(prev.get("comment_ids") or []), set(current.get("comment_ids") or [])

    new_campaigns, grown_campaigns, shrunk_campaigns, gone_campaigns = [], [], [], []
    pc, cc = prev.get("campaigns") or {}, current.get("campaigns") or {}
    for cid in sorted(cc):
        now = cc[cid]
        if cid not in pc:
            new_campaigns.append({"campaign_id": cid, **now})
            continue
        was = pc[cid]
        if now["size"] != was["size"] or now["submissions"] != was["submissions"]:
            entry = {
                "campaign_id": cid,
                "size_before": was["size"],
                "size_after": now["size"],
                "added": now["size"] - was["size"],
                "submissions_before": was["submissions"],
                "submissions_after": now["submissions"],
                "stance": now.get("stance"),
                "excerpt": now.get("excerpt"),
            }
            (grown_campaigns if entry["added"] > 0 or now["submissions"] > was["submissions"] else shrunk_campaigns).append(entry)
    for cid in sorted(set(pc) - set(cc)):
        gone_campaigns.append({"campaign_id": cid, **pc[cid]})
    grown_campaigns.sort(key=lambda e: (-e["added"], e["campaign_id"]))

    new_themes, grown_themes, shrunk_themes, gone_themes = [], [], [], []
    pt, ct = prev.get("themes") or {}, current.get("themes") or {}
    for tid in sorted(ct):
        now = ct[tid]
        if tid not in pt:
            new_themes.append({"theme_id": tid, **now})
            continue
        was = pt[tid]
        if now["comments"] != was["comments"]:
            entry = {
                "theme_id": tid,
                "label": now["label"],
                "label_before": was["label"],
                "comments_before": was["comments"],
                "comments_after": now["comments"],
                "added": now["comments"] - was["comments"],
                "unique_texts_before": was["unique_texts"],
                "unique_texts_after": now["unique_texts"],
            }
            (grown_themes if entry["added"] > 0 else shrunk_themes).append(entry)
    for tid in sorted(set(pt) - set(ct)):
        gone_themes.append({"theme_id": tid, **pt[tid]})
    grown_themes.sort(key=lambda e: (-e["added"], e["theme_id"]))

    return {
        "docket_id": current.get("docket_id"),
        "first_run": previous is None,
        "comments_before": prev.get("comments", 0),
        "comments_after": current.get("comments", 0),
        "submissions_before": prev.get("submissions", 0),
        "submissions_after": current.get("submissions", 0),
        "new_comments": sorted(after_ids - before_ids),
        "removed_comments": sorted(before_ids - after_ids),
        "new_campaigns": new_campaigns,
        "grown_campaigns": grown_campaigns,
        "shrunk_campaigns": shrunk_campaigns,
        "gone_campaigns": gone_campaigns,
        "stance": stance_shift(prev.get("stance") or {}, current.get("stance") or {}),
        "new_themes": new_themes,
        "grown_themes": grown_themes,
        "shrunk_themes": shrunk_themes,
        "gone_themes": gone_themes,
    }


def stance_shift(before: dict, after: dict) -> dict:
    """Per stance and measure (comments, unique texts, submissions): counts, shares and their change."""
    out: dict = {"by": {}, "shifted": []}
    for measure in ("comments", "unique_texts", "submissions"):
        total_b = sum((before.get(s) or {}).get(measure, 0) for s in STANCES)
        total_a = sum((after.get(s) or {}).get(measure, 0) for s in STANCES)
        rows = {}
        for s in STANCES:
            b = (before.get(s) or {}).get(measure, 0)
            a = (after.get(s) or {}).get(measure, 0)
            share_b = 100.0 * b / total_b if total_b else 0.0
            share_a = 100.0 * a / total_a if total_a else 0.0
            rows[s] = {
                "before": b,
                "after": a,
                "delta": a - b,
                "share_before": round(share_b, 1),
                "share_after": round(share_a, 1),
                "points": round(share_a - share_b, 1),
            }
            if total_b and abs(share_a - share_b) >= STANCE_SHIFT_POINTS:
                out["shifted"].append({"stance": s, "measure": measure, **rows[s]})
        out["by"][measure] = rows
    return out


def has_changes(changes: dict) -> bool:
    keys = ("new_comments", "removed_comments", "new_campaigns", "grown_campaigns", "shrunk_campaigns",
            "gone_campaigns", "new_themes", "grown_themes", "shrunk_themes", "gone_themes")
    return any(changes.get(k) for k in keys) or bool(changes["stance"]["shifted"])


# --------------------------------------------------------------------------- rendering

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
    from comments.briefing.data import what_changed
    from comments.briefing.privacy import NoGuard
    from comments.briefing.renderers import changes_markdown, fmt_when

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
    save_snapshot(con, current, run_at)
    if previous is not None and "comment_ids" in previous:
        # Only the latest snapshot needs the id list (the next diff reads it);
        # older ones keep their counts, so a year of daily runs stays small.
        slim = {k: v for k, v in previous.items() if k != "comment_ids"}
        con.execute(
            "update tracking_snapshots set state = ? where docket_id = ? and run_at = ?",
            [json.dumps(slim, ensure_ascii=False, default=str), docket_id, previous_run_at],
        )
    return DocketChanges(docket_id, run_at, previous_run_at, changes, markdown, path)


def changes_path(out_dir: str | Path, docket_id: str) -> Path:
    return Path(out_dir) / f"{safe_file_stem(docket_id)}.changes.md"


def safe_file_stem(docket_id: str) -> str:
    """A docket id as a file name part (ids are validated, but never trust a path)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", docket_id).strip("._")
    if not stem:
        raise InputError(f"docket id {docket_id!r} cannot name a file")
    return stem


# --------------------------------------------------------------------------- watchlist

# ASCII only (\Z, not $: a trailing newline is not part of an id).
DOCKET_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:[-_][A-Za-z0-9]+)+\Z", re.ASCII)


@dataclass(frozen=True)
class SearchEntry:
    term: str
    agency: str | None = None
    open: bool = False
    sync: bool = False
    limit: int = 25

    @property
    def key(self) -> str:
        return f"{self.term.lower()}|{(self.agency or '').upper()}|{int(self.open)}"


@dataclass
class Watchlist:
    path: Path | None
    db: Path | None = None
    out_dir: Path = Path("briefings")
    brief_format: str = "html"
    dockets: list[str] = field(default_factory=list)
    searches: list[SearchEntry] = field(default_factory=list)


def load_watchlist(path: str | Path) -> Watchlist:
    """Parse and validate a watchlist TOML file (see docs/tracking.md); InputError on mistakes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no watchlist at {path}: create one (see docs/tracking.md) or pass --watchlist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"watchlist {path} is not valid TOML: {exc}") from None
    return parse_watchlist(data, path=path)


def parse_watchlist(data: dict, *, path: Path | None = None) -> Watchlist:
    where = f"watchlist {path}" if path else "watchlist"
    base = path.parent if path else Path(".")
    unknown = set(data) - {"settings", "docket", "search"}
    if unknown:
        raise InputError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} (expected settings, docket, search)")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise InputError(f"{where}: [settings] must be a table")
    wl = Watchlist(path=path)
    if settings.get("db"):
        wl.db = _relative(base, settings["db"])
    if settings.get("out_dir"):
        wl.out_dir = _relative(base, settings["out_dir"])
    else:
        wl.out_dir = base / "briefings"
    fmt = str(settings.get("format", "html")).lower().lstrip(".")
    if fmt not in ("html", "md", "docx"):
        raise InputError(f"{where}: settings.format must be html, md or docx, got {fmt!r}")
    wl.brief_format = fmt
    dockets = data.get("docket") or []
    if not isinstance(dockets, list):
        raise InputError(f"{where}: dockets are [[docket]] entries with an id")
    for i, entry in enumerate(dockets, start=1):
        docket_id = str((entry or {}).get("id", "")).strip() if isinstance(entry, dict) else ""
        if not DOCKET_ID.match(docket_id):
            raise InputError(f"{where}: [[docket]] number {i} needs an id like \"DHS-2025-0001\", got {docket_id!r}")
        if docket_id not in wl.dockets:
            wl.dockets.append(docket_id)
    searches = data.get("search") or []
    if not isinstance(searches, list):
        raise InputError(f"{where}: searches are [[search]] entries with a term")
    for i, entry in enumerate(searches, start=1):
        if not isinstance(entry, dict) or not str(entry.get("term", "")).strip():
            raise InputError(f"{where}: [[search]] number {i} needs a term")
        agency = entry.get("agency")
        if agency is not None and not re.fullmatch(r"[A-Za-z0-9-]{2,20}", str(agency)):
            raise InputError(f"{where}: [[search]] number {i} has a malformed agency {agency!r}")
        limit = entry.get("limit", 25)
        if not isinstance(limit, int) or not 1 <= limit <= 250:
            raise InputError(f"{where}: [[search]] number {i}: limit must be a whole number from 1 to 250")
        wl.searches.append(
            SearchEntry(
                term=str(entry["term"]).strip(),
                agency=str(agency).upper() if agency else None,
                open=bool(entry.get("open", False)),
                sync=bool(entry.get("sync", False)),
                limit=limit,
            )
        )
    if not wl.dockets and not wl.searches:
        raise InputError(f"{where} lists no [[docket]] and no [[search]]: nothing to track")
    return wl


def _relative(base: Path, value) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p


# --------------------------------------------------------------------------- discoveries


def record_discoveries(
    con: duckdb.DuckDBPyConnection, search: SearchEntry, found: list[dict], *, seen_at: datetime | None = None
) -> list[dict]:
    """Remember what a watchlist search found; return only the finds not reported before.

    `found` items are `comments.discover` results (dicts with kind, id, docket_id, title).
    """
    if not found:
        return []
    seen_at = seen_at or now_utc()
    known = {
        (k, i) for k, i in con.execute(
            "select kind, item_id from tracking_discoveries where term_key = ?", [search.key]
        ).fetchall()
    }
    new = [f for f in found if (f["kind"], f["id"]) not in known]
    if new:
        from comments import store

        store.upsert(
            con,
            "tracking_discoveries",
            [
                {"term_key": search.key, "kind": f["kind"], "item_id": f["id"], "docket_id": f.get("docket_id"),
                 "title": f.get("title"), "first_seen": seen_at}
                for f in new
            ],
            ["term_key", "kind", "item_id"],
        )
    return new


def render_discoveries_markdown(results: list[tuple[SearchEntry, list[dict], list[dict]]]) -> str:
    """Markdown for each watchlist search: what it found and which finds are new since the last run."""
    lines = ["## Watchlist searches", ""]
    for search, found, new in results:
        label = f"“{md_escape(search.term)}”" + (f", agency {md_escape(search.agency)}" if search.agency else "") + (
            ", open for comment" if search.open else "")
        lines.append(f"### {label}")
        lines.append("")
        lines.append(f"{len(found)} found, {len(new)} new since the last run.")
        lines.append("")
        new_ids = {(f["kind"], f["id"]) for f in new}
        for f in found:
            mark = "**new** " if (f["kind"], f["id"]) in new_ids else ""
            count = f.get("comment_count")
            count_text = "comments unknown" if count is None else f"{count:,} comments"
            lines.append(
                f"- {mark}{f['kind']} [{md_escape(f['id'])}]({f.get('url') or ''}) — {md_escape(f.get('title'))} "
                f"({count_text})"
            )
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running a watchlist
#
# Each step opens its own connection from the database path, so the Prefect
# flow (flows/track.py) runs the very same functions as tasks with plain
# parameters: `run_watchlist` composes them, with a stage runner.


def sync_step(db: str | Path, docket_id: str, *, client=None, max_comments: int | None = None) -> dict:
    """Bring the docket up to date from the API (helper B's `comments.sync.sync_docket`)."""
    from comments import store
    from comments.sync import sync_docket

    if client is None:
        from comments.client import RegulationsClient

        client = RegulationsClient()
    con = store.connect(db)
    try:
        return sync_docket(con, client, docket_id, max_comments=max_comments).as_dict()
    finally:
        con.close()


def attachments_step(db: str | Path, docket_id: str) -> dict:
    """Download and extract the docket's pending attachments (helper C's pipeline)."""
    from comments import store
    from comments.attachments import files_dir_for, process_attachments

    con = store.connect(db)
    try:
        return dict(process_attachments(con, docket_id, files_dir=files_dir_for(db)))
    finally:
        con.close()


def analyze_step(db: str | Path, docket_id: str) -> dict:
    """Campaigns, themes, stance, commenters (helper F's `comments.analysis.pipeline.analyze_docket`)."""
    from comments import store
    from comments.analysis.pipeline import analyze_docket

    con = store.connect(db)
    try:
        result = analyze_docket(con, docket_id)
    finally:
        con.close()
    import dataclasses

    if dataclasses.is_dataclass(result):
        return dataclasses.asdict(result)
    return dict(result) if isinstance(result, dict) else {"result": str(result)}


def changes_step(db: str | Path, docket_id: str, out_dir: str | Path) -> dict:
    """Diff with the last run, save the snapshot, write `<out_dir>/<docket>.changes.md`."""
    from comments import store

    con = store.connect(db)
    try:
        result = record_changes(con, docket_id, out_dir=out_dir)
    finally:
        con.close()
    return {
        "docket_id": docket_id,
        "path": str(result.path) if result.path else None,
        "first_run": result.changes["first_run"],
        "new_comments": len(result.changes["new_comments"]),
        "new_campaigns": [c["campaign_id"] for c in result.changes["new_campaigns"]],
        "grown_campaigns": [c["campaign_id"] for c in result.changes["grown_campaigns"]],
        "new_themes": [t["theme_id"] for t in result.changes["new_themes"]],
        "grown_themes": [t["theme_id"] for t in result.changes["grown_themes"]],
        "stance_shifts": len(result.changes["stance"]["shifted"]),
        "markdown": result.markdown,
        "diff": result.changes,   # the whole diff_states() result
        "run_at": result.run_at.isoformat(),
        "previous_run_at": result.previous_run_at.isoformat() if result.previous_run_at else None,
    }


def briefing_changes(changes_result: dict | None) -> dict | None:
    """What `write_briefing(changes=...)` takes, from a `changes_step` result: the diff and the run times."""
    if not changes_result or "diff" not in changes_result:
        return None
    return {**changes_result["diff"], "previous_run_at": changes_result.get("previous_run_at"),
            "run_at": changes_result.get("run_at")}


def briefing_path(out_dir: str | Path, docket_id: str, fmt: str = "html") -> Path:
    return Path(out_dir) / f"{safe_file_stem(docket_id)}.{fmt}"


def brief_step(
    db: str | Path, docket_id: str, out_dir: str | Path, fmt: str = "html", changes: dict | None = None,
) -> dict:
    """Write the docket's briefing (`comments.briefing.write_briefing`) next to the changes file.

    `changes` is this run's `changes_step` result: the briefing then opens with
    "What changed since the last run" (None: no such section, e.g. when the
    changes step was skipped).
    """
    from comments import store
    from comments.briefing import write_briefing

    out = briefing_path(out_dir, docket_id, fmt)
    con = store.connect(db)
    try:
        write_briefing(con, docket_id, out, changes=briefing_changes(changes))
    finally:
        con.close()
    return {"docket_id": docket_id, "path": str(out)}


def search_step(db: str | Path, search: SearchEntry, *, client=None) -> dict:
    """Run one watchlist search through discover; remember its finds; return them with the new ones."""
    from comments import store
    from comments.discover import discover

    if client is None:
        from comments.client import RegulationsClient

        client = RegulationsClient()
    found = discover(client, search.term, agency=search.agency, open_only=search.open, limit=search.limit)
    con = store.connect(db)
    try:
        new = record_discoveries(con, search, found.items)
    finally:
        con.close()
    return {"search": search, "found": found.items, "new": new, "requests": found.requests}


class TrackingFailed(RuntimeError):
    """Some watchlist dockets failed (the others were tracked); the message lists them."""


@dataclass
class DocketRun:
    docket_id: str
    steps: dict = field(default_factory=dict)   # step name -> its result
    error: str | None = None                    # the step that failed and why

    @property
    def changes(self) -> dict | None:
        return self.steps.get("changes")


@dataclass
class WatchlistRun:
    dockets: list[DocketRun] = field(default_factory=list)
    searches: list[dict] = field(default_factory=list)
    search_errors: list[str] = field(default_factory=list)
    searches_path: Path | None = None

    @property
    def failed(self) -> list[DocketRun]:
        return [d for d in self.dockets if d.error]

    def summary(self) -> str:
        ok = len(self.dockets) - len(self.failed)
        parts = [f"tracked {ok}/{len(self.dockets)} dockets"]
        for d in self.dockets:
            c = d.changes
            if d.error:
                parts.append(f"{d.docket_id}: FAILED ({d.error})")
            elif c:
                parts.append(
                    f"{d.docket_id}: {c['new_comments']} new comments, {len(c['new_campaigns'])} new campaigns, "
                    f"{len(c['grown_campaigns'])} grown, {len(c['new_themes'])} new themes"
                )
        if self.searches:
            parts.append(f"{sum(len(s['new']) for s in self.searches)} new finds in {len(self.searches)} searches")
        return "; ".join(parts)


# The stage runner's task name for each step (the Prefect flow shows these).
STEP_NAMES = {"sync": "sync", "attachments": "attachments", "analyze": "analyze", "changes": "what changed",
              "brief": "brief"}


def _call(name: str, fn, /, *args, **kwargs):
    return fn(*args, **kwargs)


def attempt(step, *args, **kwargs):
    """Run a step; a problem the user can fix (unknown docket, bad key, ...) becomes {"error": one line}.

    Such a problem is reported in the run's summary and the other dockets go on;
    anything else is a bug and raises as usual.
    """
    from comments.client import ApiError
    from comments.errors import UserError

    try:
        return step(*args, **kwargs)
    except (UserError, ApiError) as exc:
        return {"error": " ".join(str(exc).split()) or type(exc).__name__}


def run_docket(
    db: str | Path, docket_id: str, out_dir: str | Path, *, fmt: str = "html", client=None,
    skip: tuple[str, ...] = (), max_comments: int | None = None, stage=_call,
) -> DocketRun:
    """sync -> attachments -> analyze -> changes -> brief for one docket; a failing step ends this docket only.

    `stage(name, fn, *args, **kwargs)` runs each step (default: a plain call);
    the Prefect flow `track` passes one that makes each a task run.
    """
    run = DocketRun(docket_id)
    steps = {
        "sync": lambda: (sync_step, (db, docket_id), {"client": client, "max_comments": max_comments}),
        "attachments": lambda: (attachments_step, (db, docket_id), {}),
        "analyze": lambda: (analyze_step, (db, docket_id), {}),
        "changes": lambda: (changes_step, (db, docket_id, out_dir), {}),
        # the briefing opens with what changed, so it gets this run's changes
        "brief": lambda: (brief_step, (db, docket_id, out_dir, fmt), {"changes": run.steps.get("changes")}),
    }
    for name, step in steps.items():
        if name in skip:
            continue
        fn, args, kwargs = step()
        outcome = stage(STEP_NAMES[name], attempt, fn, *args, **kwargs)
        if isinstance(outcome, dict) and "error" in outcome:  # this docket stops here; the others go on
            run.error = f"{name}: {outcome['error']}"
            break
        run.steps[name] = outcome
    return run


def run_watchlist(
    wl: Watchlist, *, db: str | Path | None = None, client=None, skip: tuple[str, ...] = (),
    max_comments: int | None = None, stage=_call,
) -> WatchlistRun:
    """Run the watchlist's searches (syncing finds marked `sync = true`), then track every docket.

    The one definition of a tracking run's steps: `comments track` runs it as
    the Prefect flow `track` (flows/track.py), whose `stage` makes each step a task.
    """
    from comments import settings

    db_path = Path(db) if db else (wl.db or settings.db_path())
    result = WatchlistRun()
    extra: list[str] = []
    for search in wl.searches:
        found = stage("watchlist search", attempt, search_step, db_path, search, client=client)
        if "error" in found:
            result.search_errors.append(f"“{search.term}”: {found['error']}")
            continue
        result.searches.append(found)
        if search.sync:
            extra += [f["docket_id"] for f in found["found"] if f.get("docket_id")]
    if result.searches or result.search_errors:
        result.searches_path = write_searches_markdown(wl.out_dir, result)
    dockets = list(dict.fromkeys(wl.dockets + [d for d in extra if DOCKET_ID.match(d)]))
    for docket_id in dockets:
        result.dockets.append(
            run_docket(db_path, docket_id, wl.out_dir, fmt=wl.brief_format, client=client, skip=skip,
                       max_comments=max_comments, stage=stage)
        )
    return result


DEFAULT_WATCHLIST = "watchlist.toml"


def default_watchlist() -> str:
    """$COMMENTS_WATCHLIST, else watchlist.toml in the current directory."""
    import os

    return os.environ.get("COMMENTS_WATCHLIST") or DEFAULT_WATCHLIST


def run_summary(result: WatchlistRun) -> dict:
    """What a tracking run returns (the flow's result): plain values; the Markdown and full diffs stay in files."""
    return {
        "summary": result.summary(),
        "dockets": [{"docket_id": d.docket_id, "error": d.error, "changes": _strip(d.changes)} for d in result.dockets],
        "searches": [{"term": s["search"].term, "found": len(s["found"]), "new": len(s["new"])} for s in result.searches],
        "searches_path": str(result.searches_path) if result.searches_path else None,
    }


def _strip(changes: dict | None) -> dict | None:
    return None if changes is None else {k: v for k, v in changes.items() if k not in ("markdown", "diff")}


def write_searches_markdown(out_dir: str | Path, result: WatchlistRun) -> Path:
    text = render_discoveries_markdown([(s["search"], s["found"], s["new"]) for s in result.searches])
    if result.search_errors:
        text += "\n### Searches that failed\n\n" + "\n".join(f"- {md_escape(e)}" for e in result.search_errors) + "\n"
    path = Path(out_dir) / "watchlist-searches.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
