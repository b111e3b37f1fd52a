"""What changed in a docket between two runs: state snapshots and their diff.

A run records the docket's *state* (counts, campaigns, themes, stance, the set
of comment ids) as JSON in `tracking_snapshots`. The next run collects the
state again and `diff_states(previous, current)` says what changed: new
comments, new campaigns, campaigns that grew, stance shift, new or growing
themes. Campaigns and themes are compared by the analysis's stable ids.

A stance shift has two sources a reader must tell apart: new comments (people
said something) and earlier comments read differently (an attachment read, a
new label, another stance method). The latest snapshot keeps each comment's
stance beside its id, and the stance method, so the diff says how much of the
shift each source made (`stance_sources`).

A library module below the briefing (which renders a diff as its "What
changed since the last run" section) that imports nothing from it:
`collect_state` reads SQL; `diff_states`, `stance_shift` and `has_changes` are
pure functions over plain dicts, tested on constructed states. Writing the
`<DOCKET>.changes.md` file with the briefing's renderer is the briefing's
(`comments.briefing.changes_file`); the watchlist run above both calls it
(`comments.watchlist`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from comments.analysis.stance import (
    ALL_STANCES as STANCES,  # support, oppose, mixed, unclear, not read
)

EXCERPT_CHARS = 160
# A stance's share must move at least this many percentage points to be called a shift.
STANCE_SHIFT_POINTS = 5.0
# One character per comment in a snapshot's `comment_stance` (aligned with `comment_ids`):
# 300,000 comments cost 300 KB, and only the latest snapshot keeps it.
STANCE_CODE = {"support": "s", "oppose": "o", "mixed": "m", "unclear": "u", "not read": "n"}
NOT_ANALYZED = "-"
STANCE_OF_CODE = {v: k for k, v in STANCE_CODE.items()} | {NOT_ANALYZED: "not analyzed"}


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


# --------------------------------------------------------------------------- state


def collect_state(con: duckdb.DuckDBPyConnection, docket_id: str, *, guard=None) -> dict:
    """The docket's current state as plain JSON-able data (see module doc)."""
    rows = con.execute(
        """
        select c.comment_id, a.stance
        from comments c left join comment_analysis a using (comment_id)
        where c.docket_id = ? order by c.comment_id
        """,
        [docket_id],
    ).fetchall()
    ids = [r[0] for r in rows]
    comment_stance = "".join(STANCE_CODE.get(r[1], NOT_ANALYZED) for r in rows)
    submissions = con.execute(
        "select coalesce(sum(1 + coalesce(duplicate_comments, 0)), 0) from comments where docket_id = ?",
        [docket_id],
    ).fetchone()[0]
    run = con.execute(
        """
        select run_id, finished_at, code_version, codebook from analysis_runs
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
        "comment_stance": comment_stance,
        "stance_method": _stance_method(con, docket_id, run),
        "stance": stance,
        "campaigns": campaigns,
        "themes": themes,
    }


def _stance_method(con: duckdb.DuckDBPyConnection, docket_id: str, run) -> dict:
    """What decided the stances of this state: rules or a model on N labels, the codebook, the code."""
    from comments.labels import stance_accuracy

    model = stance_accuracy(con, docket_id) or {}
    return {
        "method": model.get("method") or "rules",
        "n_labels": int(model.get("n_labels") or 0),
        "codebook": run[3] if run else None,
        "code_version": run[2] if run else None,
    }


def _excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"



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
        "stance_sources": stance_sources(previous, current),
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


def stance_sources(previous: dict | None, current: dict) -> dict:
    """Where the stance counts' change came from, by comments: new comments, removed ones, and earlier
    comments whose stance changed on re-analysis (with each from → to and how many), plus the stance
    method before and after. `known` is false when the previous state kept no per-comment stances
    (snapshots from before this was recorded): then only the totals can be compared."""
    after = _stance_by_id(current)
    before = _stance_by_id(previous) if previous is not None else {}
    out = {
        "known": previous is None or (before is not None and after is not None),
        "new": {}, "removed": {}, "reclassified": 0, "transitions": [],
        "method_before": (previous or {}).get("stance_method"),
        "method_after": current.get("stance_method"),
    }
    if previous is None or before is None or after is None:
        return out
    new: dict[str, int] = {}
    removed: dict[str, int] = {}
    moves: dict[tuple[str, str], int] = {}
    for cid, code in after.items():
        was = before.get(cid)
        if was is None:
            new[code] = new.get(code, 0) + 1
        elif was != code:
            moves[(was, code)] = moves.get((was, code), 0) + 1
    for cid, code in before.items():
        if cid not in after:
            removed[code] = removed.get(code, 0) + 1
    order = [*STANCE_CODE.values(), NOT_ANALYZED]
    out["new"] = {STANCE_OF_CODE[c]: new[c] for c in order if new.get(c)}
    out["removed"] = {STANCE_OF_CODE[c]: removed[c] for c in order if removed.get(c)}
    out["reclassified"] = sum(moves.values())
    out["transitions"] = [
        {"from": STANCE_OF_CODE[a], "to": STANCE_OF_CODE[b], "comments": n}
        for (a, b), n in sorted(moves.items(), key=lambda kv: (-kv[1], order.index(kv[0][0]), order.index(kv[0][1])))
    ]
    return out


def _stance_by_id(state: dict | None) -> dict[str, str] | None:
    if not state:
        return None
    ids, codes = state.get("comment_ids"), state.get("comment_stance")
    if ids is None or codes is None or len(ids) != len(codes):
        return None
    return dict(zip(ids, codes, strict=True))


def has_changes(changes: dict) -> bool:
    keys = ("new_comments", "removed_comments", "new_campaigns", "grown_campaigns", "shrunk_campaigns",
            "gone_campaigns", "new_themes", "grown_themes", "shrunk_themes", "gone_themes")
    reread = (changes.get("stance_sources") or {}).get("reclassified")
    return any(changes.get(k) for k in keys) or bool(changes["stance"]["shifted"]) or bool(reread)



def record_snapshot(
    con: duckdb.DuckDBPyConnection, state: dict, run_at: datetime, previous: tuple[datetime, dict] | None = None,
) -> None:
    """Save `state` as the snapshot of `run_at`; `previous` (from `latest_snapshot`) keeps its counts only.

    Only the latest snapshot needs the id list (the next diff reads it), so a
    year of daily runs stays small.
    """
    save_snapshot(con, state, run_at)
    if previous is not None and "comment_ids" in previous[1]:
        previous_run_at, previous_state = previous
        slim = {k: v for k, v in previous_state.items() if k not in ("comment_ids", "comment_stance")}
        con.execute(
            "update tracking_snapshots set state = ? where docket_id = ? and run_at = ?",
            [json.dumps(slim, ensure_ascii=False, default=str), state["docket_id"], previous_run_at],
        )
