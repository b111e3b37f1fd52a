"""Theme audit: a sample of each theme's texts for an analyst to judge, and the precision it measures.

    comments themes audit DOCKET --out audit.csv     # columns: theme_id, theme_label, kind, comment_id,
                                                     #          belongs, excerpt
    comments themes import audit.csv                 # the analyst filled `belongs` (yes / no)

Per theme (the catch-all "Other topics" too, though its figure is kept out of the pooled one:
there "yes" means the text has no topic of its own) the file holds:
- `member` rows: texts the theme counts (a campaign once, through its template), a
  deterministic spread (hash order); the question is "does this text argue what the label
  says?". Members marked yes / members marked = the theme's precision.
- `near` rows: texts outside the theme that use its keywords most, the question being the
  same; a yes there is a text the theme missed (a recall signal, not a recall figure).
The excerpt is the text's passage that uses the theme's keywords most (up to 600 characters),
and the whole text is one click away on regulations.gov: judge the text, not the excerpt.

The CSV side (formula-safe cells, line-numbered one-line errors, atomic writes) is the label
files' (`comments.label_files`). Rows are stored in `theme_audits`; the briefing states the
pooled precision of the topic themes ("themes: precision 0.87 on 54 audited texts") or that
they were not audited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from comments import records, store
from comments.errors import InputError
from comments.label_files import check_out, read_rows, write_rows

AUDIT_COLUMNS = ("theme_id", "theme_label", "kind", "comment_id", "belongs", "excerpt")
YES = {"yes", "y", "1", "true", "x"}
NO = {"no", "n", "0", "false"}
EXCERPT_CHARS = 600
_NEAR_POOL = 20000  # texts scanned for near non-members (a deterministic sample on big dockets)


def _order(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def _units(con, docket_id: str) -> list[dict]:
    """The docket's unique texts: each campaign once (its template), each other comment, with
    the themes they raise."""
    rows = con.execute(
        """
        with units as (
            select coalesce(k.template_comment_id, l.comment_id) as comment_id,
                   coalesce('campaign:' || m.campaign_id, l.comment_id) as unit_key
            from comment_labels l
            left join campaign_members m on m.comment_id = l.comment_id and m.docket_id = l.docket_id
            left join campaigns k on k.docket_id = l.docket_id and k.campaign_id = m.campaign_id
            where l.docket_id = $docket_id
            group by all
        )
        select u.unit_key, u.comment_id, b.body,
               (select list(distinct ct.theme_id) from comment_themes ct
                 where ct.docket_id = $docket_id and ct.comment_id = u.comment_id) as themes
        from units u join comment_bodies b using (comment_id)
        where b.body is not null and trim(b.body) <> ''
        order by u.unit_key
        """,
        {"docket_id": docket_id},
    ).fetchall()
    return [{"unit_key": k, "comment_id": c, "body": b, "themes": set(t or ())} for k, c, b, t in rows]


def _excerpt(body: str, keywords: list[str]) -> str:
    """The passage of `body` that uses `keywords` most (the first passage when none does)."""
    from comments.analysis.themes import ThemeParams, passages

    spans = passages(body, ThemeParams()) or [(0, len(body))]
    words = [k.lower() for k in keywords if k]

    def hits(span):
        low = body[span[0]:span[1]].lower()
        return sum(low.count(w) for w in words)

    s, e = max(spans, key=lambda sp: (hits(sp), -sp[0]))
    text = body[s:e]
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + " […]"


def _keyword_score(body: str, keywords: list[str]) -> int:
    low = body.lower()
    return sum(1 for k in keywords[:10] if re.search(r"\b" + re.escape(k.lower()) + r"\b", low))


def sample(con: duckdb.DuckDBPyConnection, docket_id: str, per_theme: int = 6, near: int = 2,
           seed: str = "") -> list[dict]:
    """Rows to audit (see the module doc): per theme, `per_theme` members and `near` near non-members.
    Another `seed` draws another sample (texts already marked were seen: a fresh audit needs fresh texts)."""
    if per_theme < 1 or near < 0:
        raise InputError("--per-theme must be at least 1 and --near at least 0")
    themes = con.execute(
        "select theme_id, label, keywords, is_catch_all from themes where docket_id = ? order by rank, theme_id",
        [docket_id]).fetchall()
    if not themes:
        raise InputError(f"docket {docket_id} has no themes: run `comments analyze {docket_id}` first")
    units = _units(con, docket_id)
    pool = sorted(units, key=lambda u: _order(u["unit_key"]))[:_NEAR_POOL]
    out = []
    for theme_id, label, keywords, _catch_all in themes:
        keywords = list(keywords or [])
        members = sorted((u for u in units if theme_id in u["themes"]), key=lambda u: _order(seed, theme_id, u["unit_key"]) if seed
                         else _order(theme_id, u["unit_key"]))
        for u in members[:per_theme]:
            out.append({"theme_id": theme_id, "theme_label": label, "kind": "member", "comment_id": u["comment_id"],
                        "excerpt": _excerpt(u["body"], keywords)})
        if near and keywords:
            scored = [(_keyword_score(u["body"], keywords), u) for u in pool if theme_id not in u["themes"]]
            scored = [x for x in scored if x[0] > 0]
            scored.sort(key=lambda x: (-x[0], _order(theme_id, x[1]["unit_key"])))
            for _, u in scored[:near]:
                out.append({"theme_id": theme_id, "theme_label": label, "kind": "near", "comment_id": u["comment_id"],
                            "excerpt": _excerpt(u["body"], keywords)})
    return out


def write_audit(con: duckdb.DuckDBPyConnection, docket_id: str, out: str | Path, *, per_theme: int = 6,
                near: int = 2, force: bool = False, seed: str = "") -> int:
    """Write the audit sample to `out` (AUDIT_COLUMNS, `belongs` blank); returns the rows written."""
    check_out(out, force)
    rows = sample(con, docket_id, per_theme, near, seed)
    write_rows(out, AUDIT_COLUMNS, [
        (r["theme_id"], r["theme_label"], r["kind"], r["comment_id"], "", r["excerpt"]) for r in rows])
    return len(rows)


@dataclass
class AuditImport:
    saved: int = 0
    blank: int = 0
    errors: list[str] = field(default_factory=list)
    dockets: list[str] = field(default_factory=list)


def import_audit(con: duckdb.DuckDBPyConnection, path: str | Path) -> AuditImport:
    """Store a filled-in audit file: one row per (theme, text); importing twice changes nothing.
    A bad row is one line with its line number and is skipped; every good row is stored."""
    path = Path(path)
    result = AuditImport()
    wanted = []
    for line, row in read_rows(path, ("theme_id", "comment_id", "belongs")):
        theme_id, comment_id, verdict = row["theme_id"], row["comment_id"], row["belongs"].lower()
        if not theme_id or not comment_id:
            result.errors.append(f"{path.name} line {line}: no theme_id or comment_id")
            continue
        if not verdict:
            result.blank += 1
            continue
        if verdict not in YES | NO:
            result.errors.append(f"{path.name} line {line}: belongs {row['belongs']!r} is not yes or no")
            continue
        kind = (row.get("kind") or "member").lower()
        if kind not in ("member", "near"):
            result.errors.append(f"{path.name} line {line}: kind {row.get('kind')!r} is not member or near")
            continue
        wanted.append((line, theme_id, comment_id, kind, verdict in YES, row.get("theme_label") or None))
    known = {}
    if wanted:
        known = {(t, d): d for t, d in con.execute(
            "select theme_id, docket_id from themes where docket_id in "
            "(select docket_id from comments where comment_id in (select unnest(?::varchar[])))",
            [[w[2] for w in wanted]]).fetchall()}
    docket_of = dict(con.execute(
        "select comment_id, docket_id from comments where comment_id in (select unnest(?::varchar[]))",
        [[w[2] for w in wanted]]).fetchall()) if wanted else {}
    run_of = dict(con.execute(
        "select docket_id, max(run_id) filter (where status = 'complete') from analysis_runs group by docket_id").fetchall())
    now = records.now_utc()
    rows = []
    for line, theme_id, comment_id, kind, belongs, label in wanted:
        docket = docket_of.get(comment_id)
        if docket is None:
            result.errors.append(f"{path.name} line {line}: comment {comment_id} is not in this database")
            continue
        if (theme_id, docket) not in known:
            result.errors.append(f"{path.name} line {line}: theme {theme_id} is not a theme of {docket}")
            continue
        rows.append({"docket_id": docket, "theme_id": theme_id, "comment_id": comment_id, "kind": kind,
                     "label": label, "belongs": belongs, "run_id": run_of.get(docket),
                     "source_ref": f"{path.name}:{line}", "audited_at": now})
    if rows:
        result.saved = store.upsert(con, "theme_audits", rows, key=["docket_id", "theme_id", "comment_id"])
        result.dockets = sorted({r["docket_id"] for r in rows})
    return result


def audit_figures(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict | None:
    """Per-theme and pooled precision of the docket's current themes from its audits, or None
    when nothing was audited. {"themes": [{theme_id, label, members, yes, precision, near, near_yes}],
    "members", "yes", "precision" (pooled over the topic themes, the catch-all apart),
    "catch_all": {...} or None, "audited_at", "runs", "current_run"}."""
    try:
        rows = con.execute(
            """
            select a.theme_id, t.label, t.is_catch_all,
                   count(*) filter (where a.kind = 'member')                  as members,
                   count(*) filter (where a.kind = 'member' and a.belongs)    as yes,
                   count(*) filter (where a.kind = 'near')                    as near,
                   count(*) filter (where a.kind = 'near' and a.belongs)      as near_yes,
                   max(a.audited_at) as audited_at, list(distinct a.run_id) as runs
            from theme_audits a join themes t on t.docket_id = a.docket_id and t.theme_id = a.theme_id
            where a.docket_id = ?
            group by all order by a.theme_id
            """, [docket_id]).fetchall()
    except duckdb.CatalogException:  # a database from before migration 015, opened read-only
        return None
    if not rows:
        return None
    themes = [{"theme_id": tid, "label": label, "is_catch_all": bool(catch), "members": m, "yes": y,
               "precision": (y / m) if m else None, "near": nr, "near_yes": ny}
              for tid, label, catch, m, y, nr, ny, _at, _runs in rows]
    topic = [t for t in themes if not t["is_catch_all"]]
    members = sum(t["members"] for t in topic)
    yes = sum(t["yes"] for t in topic)
    current = con.execute(
        "select max(run_id) filter (where status = 'complete') from analysis_runs where docket_id = ?",
        [docket_id]).fetchone()[0]
    runs = sorted({r for row in rows for r in (row[8] or []) if r})
    return {"themes": themes, "members": members, "yes": yes, "precision": (yes / members) if members else None,
            "near": sum(t["near"] for t in topic), "near_yes": sum(t["near_yes"] for t in topic),
            "catch_all": next((t for t in themes if t["is_catch_all"]), None),
            "audited_at": max(r[7] for r in rows), "runs": runs, "current_run": current}


def audited_themes(figures: dict | None) -> dict[str, dict]:
    """theme_id -> its row of `audit_figures` (members, yes, precision, ...), for the themes with
    audited members: what each theme's own line in the briefing and the explorer shows."""
    return {t["theme_id"]: t for t in ((figures or {}).get("themes") or []) if t["members"]}


def theme_audit_words(audited: dict) -> str:
    """'3 of 8 sampled texts argue what this label says': one theme's audit (a row of `audited_themes`),
    worded alike in the briefing and the explorer."""
    n = audited["members"]
    return f"{audited['yes']:,} of {n:,} sampled " + ("text argues" if n == 1 else "texts argue") + " what this label says"


def audit_statement(figures: dict | None, docket_id: str) -> str:
    """The briefing's one line on how far its themes were checked by a person."""
    if not figures or not figures["members"]:
        return (f"Themes: not audited on this docket (mark a sample with `comments themes audit {docket_id} "
                "--out FILE.csv` and `comments themes import FILE.csv` to measure their precision).")
    near = (f"; {figures['near_yes']} of {figures['near']} nearby texts outside a theme belonged in it"
            if figures["near"] else "")
    stale = ("" if figures["current_run"] in figures["runs"] else
             " The audit was made on an earlier analysis run; themes kept their ids but may have changed since.")
    return (f"Themes: precision {figures['precision']:.2f} on {figures['members']} audited texts "
            f"({figures['yes']} of {figures['members']} argue what their theme's label says, "
            f"{len([t for t in figures['themes'] if not t['is_catch_all']])} themes audited{near}).{stale}")
