"""Everything a briefing says, gathered in one place from SQL.

`gather(con, docket_id)` runs the report queries in `sql/reports/brief_*.sql`
and returns a plain dict that every renderer (HTML, Markdown, Word) reads, so
the three formats cannot disagree on a number. Python here only selects and
arranges rows (which quotes to show, which names to withhold); it computes no
counts of its own.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from comments.analysis.stance import ALL_STANCES, NOT_READ
from comments.briefing.privacy import NameGuard, NoGuard
from comments.changes import STANCE_SHIFT_POINTS, has_changes
from comments.errors import InputError, UserError
from comments.resources import sql_text

REGULATIONS_GOV = "https://www.regulations.gov"
STANCES = ALL_STANCES  # support, oppose, mixed, unclear, not read


def stance_slug(stance: str | None) -> str:
    """A stance as a key or CSS class: 'not read' -> 'not_read'."""
    return (stance or "unclear").replace(" ", "_")
MAX_QUOTE_CHARS = 320  # longer quotes are used only when no shorter one is left

# Where the analysis keeps its measured stance accuracy (maintained with the
# hand-labeled evaluation set); absent means unmeasured.
STANCE_EVAL = Path(__file__).resolve().parents[1] / "analysis" / "stance_eval.json"


class NotAnalyzedError(UserError):
    """The docket has comments but no completed analysis run."""


def check_ready(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict:
    """The docket's header row; InputError for an unknown docket, NotAnalyzedError before any analysis."""
    header = _rows(con, "brief_docket", docket_id)[0]
    if not header["docket_known"] and not header["stored_comments"]:
        raise InputError(f"unknown docket {docket_id}: run `comments sync {docket_id}` first (or check --db)")
    if header["analysis_run_id"] is None:
        raise NotAnalyzedError(f"docket {docket_id} has not been analyzed yet: run `comments analyze {docket_id}` first")
    return header


def docket_url(docket_id: str) -> str:
    return f"{REGULATIONS_GOV}/docket/{docket_id}"


def comment_url(comment_id: str) -> str:
    return f"{REGULATIONS_GOV}/comment/{comment_id}"


def _rows(con: duckdb.DuckDBPyConnection, name: str, docket_id: str) -> list[dict]:
    cur = con.execute(sql_text(f"reports/{name}.sql"), {"docket_id": docket_id})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


# The headline numbers, in the order every format shows them: (key, label).
HEADLINE = (
    ("comments_posted", "Comments posted on regulations.gov"),
    ("agency_duplicates", "Further copies the agency counted but did not post"),
    ("submissions_represented", "Submissions represented (posted + agency duplicate counts)"),
    ("unique_texts", "Unique texts (each campaign counted once)"),
    ("campaigns", "Campaigns (form letters)"),
    ("campaign_comments", "Posted comments that belong to a campaign"),
    ("campaign_share_pct", "Campaign share of posted comments (%)"),
    ("campaign_submissions_share_pct", "Campaign share of submissions represented (%)"),
    ("attachment_substance", "Comments whose substance is in attachments"),
    ("attachment_substance_with_text", "… of which attachment text could be read"),
    ("not_read", "Comments not read (substance in attachments whose text was not extracted)"),
)


def gather(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    *,
    show_names: bool = False,
    max_themes: int | None = None,
    quotes_per_theme: int = 5,
    max_campaigns: int = 4,
    max_organizations: int = 24,
    stance_eval_path: Path | None = None,
    changes: dict | None = None,
) -> dict:
    """The briefing's content for `docket_id` as plain data (see module doc).

    `changes` is what `comments.changes.diff_states` returned for this run,
    plus `previous_run_at` (None on the first run); the briefing then opens
    with a "What changed since the last run" section (`what_changed`).

    Raises InputError for an unknown docket and NotAnalyzedError when the
    docket has not been analyzed yet.
    """
    header = check_ready(con, docket_id)
    if changes is not None and changes.get("docket_id") not in (None, docket_id):
        raise InputError(f"the changes given are for docket {changes['docket_id']}, not {docket_id}")

    guard = NoGuard() if show_names else NameGuard.from_rows(
        ((r["first_name"], r["last_name"], r["title"]) for r in _rows(con, "brief_private_names", docket_id)),
        is_common=common_word_test(con, docket_id),
    )

    headline = _rows(con, "brief_headline", docket_id)[0]
    headline = {k: (0 if v is None else v) for k, v in headline.items()}
    stance = _rows(con, "brief_stance", docket_id)

    metrics = [{"key": k, "label": label, "value": headline[k]} for k, label in HEADLINE]
    for row in stance:
        for measure in ("unique_texts", "submissions"):
            metrics.append({
                "key": f"stance_{stance_slug(row['stance'])}_{measure}",
                "label": f"Stance {row['stance']}, by {measure.replace('_', ' ')}",
                "value": row[measure],
            })

    themes = _themes(con, docket_id, guard, show_names, max_themes, quotes_per_theme)
    theme_totals = _rows(con, "brief_theme_totals", docket_id)[0]
    significant = _significant(con, docket_id, guard)
    campaigns = _campaigns(con, docket_id, guard, show_names, max_campaigns)
    commenters = _commenters(con, docket_id, max_organizations)
    timeline = _rows(con, "brief_timeline", docket_id)
    audit = theme_audit(con, docket_id)
    for t in themes:  # what the analyst's audit found for this theme, shown beside its counts
        a = audit["by_theme"].get(t["theme_id"])
        t["audited"] = {"yes": a["yes"], "members": a["members"]} if a else None

    brief = {
        "docket": {
            **header,
            "url": docket_url(docket_id),
        },
        "headline": headline,
        "metrics": metrics,
        "stance": stance,
        "themes": themes,
        "theme_totals": theme_totals,
        # every stance value any theme holds, in the order the stance table uses
        "theme_stances": list(dict.fromkeys(r["stance"] for t in themes for r in t["stance"])),
        "significant": significant,
        "commenters": commenters,
        "campaigns": campaigns,
        "campaign_overlap": _rows(con, "brief_campaign_overlap", docket_id)[0]["comments"],
        "campaign_check": _rows(con, "brief_campaign_check", docket_id)[0],
        "timeline": timeline,
        "changes": None if changes is None else what_changed(changes, guard),
        "accuracy": load_stance_accuracy(stance_eval_path or STANCE_EVAL),
        "stance_method": stance_method(con, docket_id),
        "theme_audit": audit,
        "not_read_note": not_read_note(headline, docket_id),
        "show_names": show_names,
        "generated_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    }
    brief["caveats"] = caveats(brief)
    return brief


def what_changed(
    changes: dict, guard: NameGuard, *,
    max_ids: int | None = 10, max_campaigns: int | None = 5, max_themes: int | None = 8,
) -> dict:
    """The tracking diff arranged for the "What changed since the last run" section.

    Every number is copied from `changes` (a `diff_states` result, itself from
    SQL state); nothing is recounted here. `status` is "first_run" (baseline
    recorded, nothing to compare), "unchanged" or "changed". Template excerpts
    and theme labels pass through the briefing's name guard, as the campaign
    section's excerpts do.

    The `max_*` limits cut long lists (the rest is counted in `not_listed` and
    `new_comments_not_listed`); None lists everything, as the tracking
    `<DOCKET>.changes.md` file does.
    """
    since = _as_datetime(changes.get("previous_run_at"))
    out = {
        "docket_id": changes.get("docket_id"),
        "since": since,
        "run_at": _as_datetime(changes.get("run_at")),
        "comments_before": changes.get("comments_before", 0),
        "comments_after": changes.get("comments_after", 0),
        "submissions_before": changes.get("submissions_before", 0),
        "submissions_after": changes.get("submissions_after", 0),
    }
    if changes.get("first_run"):
        return {**out, "status": "first_run"}
    if not has_changes(changes):
        return {**out, "status": "unchanged"}

    new_ids = list(changes.get("new_comments") or [])
    removed_ids = list(changes.get("removed_comments") or [])
    out.update(
        status="changed",
        new_comments=len(new_ids),
        new_comment_links=[{"comment_id": c, "url": comment_url(c)} for c in _first(new_ids, max_ids)],
        new_comments_not_listed=len(new_ids) - len(_first(new_ids, max_ids)),
        removed_comments=len(removed_ids),
        # gone from the docket, so listed as ids without links
        removed_comment_ids=_first(removed_ids, max_ids),
        removed_comments_not_listed=len(removed_ids) - len(_first(removed_ids, max_ids)),
        new_campaigns=[
            {**{k: c.get(k) for k in ("campaign_id", "size", "submissions", "stance")},
             "excerpt": guard.redact(c.get("excerpt") or "")}
            for c in changes.get("new_campaigns") or []
        ],
        grown_campaigns=[
            {k: c.get(k) for k in ("campaign_id", "added", "size_before", "size_after",
                                   "submissions_before", "submissions_after", "stance")}
            for c in changes.get("grown_campaigns") or []
        ],
        shrunk_campaigns=[
            {k: c.get(k) for k in ("campaign_id", "size_before", "size_after")}
            for c in changes.get("shrunk_campaigns") or []
        ],
        gone_campaigns=[{k: c.get(k) for k in ("campaign_id", "size")} for c in changes.get("gone_campaigns") or []],
        new_themes=[
            {"theme_id": t.get("theme_id"), "label": guard.redact(t.get("label") or ""),
             "comments": t.get("comments", 0), "unique_texts": t.get("unique_texts", 0)}
            for t in changes.get("new_themes") or []
        ],
        grown_themes=[
            {"theme_id": t.get("theme_id"), "label": guard.redact(t.get("label") or ""), "added": t.get("added", 0),
             "comments_before": t.get("comments_before", 0), "comments_after": t.get("comments_after", 0)}
            for t in changes.get("grown_themes") or []
        ],
        shrunk_themes=[
            {"theme_id": t.get("theme_id"), "label": guard.redact(t.get("label") or ""),
             "comments_before": t.get("comments_before", 0), "comments_after": t.get("comments_after", 0)}
            for t in changes.get("shrunk_themes") or []
        ],
        gone_themes=[
            {"theme_id": t.get("theme_id"), "label": guard.redact(t.get("label") or "")}
            for t in changes.get("gone_themes") or []
        ],
    )
    # A briefing is two pages: long lists are cut (largest first: diff_states
    # orders growth that way, new ones are sorted by size here) and say how
    # many more there are; the <DOCKET>.changes.md file next to the briefing
    # is this section with no limits, so it lists them all.
    out["new_campaigns"].sort(key=lambda c: (-(c["size"] or 0), c["campaign_id"]))
    out["new_themes"].sort(key=lambda t: (-(t["comments"] or 0), t["theme_id"]))
    out["not_listed"] = {}
    for key, limit in (("new_campaigns", max_campaigns), ("grown_campaigns", max_campaigns),
                       ("shrunk_campaigns", max_campaigns), ("gone_campaigns", max_campaigns),
                       ("new_themes", max_themes), ("grown_themes", max_themes),
                       ("shrunk_themes", max_themes), ("gone_themes", max_themes)):
        shown = _first(out[key], limit)
        out["not_listed"][key] = len(out[key]) - len(shown)
        out[key] = shown
    by = (changes.get("stance") or {}).get("by") or {}
    blank = {"before": 0, "after": 0, "delta": 0, "share_before": 0.0, "share_after": 0.0, "points": 0.0}
    out["stance"] = [
        {"stance": s,
         "unique_texts": (by.get("unique_texts") or {}).get(s, blank),
         "submissions": (by.get("submissions") or {}).get(s, blank)}
        for s in STANCES
    ]
    out["shift_threshold"] = STANCE_SHIFT_POINTS
    out["stance_moved"] = any(r[m]["delta"] for r in out["stance"] for m in ("unique_texts", "submissions"))
    # Shifts past the tracking threshold, by the two measures the briefing uses.
    out["stance_shifted"] = [
        {k: s[k] for k in ("stance", "measure", "share_before", "share_after", "points", "before", "after")}
        for s in (changes.get("stance") or {}).get("shifted") or []
        if s.get("measure") in ("unique_texts", "submissions")
    ]
    out["stance_sources"] = changes.get("stance_sources") or {}
    return out


def _first(items: list, limit: int | None) -> list:
    """The first `limit` items (all of them when `limit` is None)."""
    return list(items) if limit is None else list(items)[:max(0, limit)]


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _attribution(row: dict, show_names: bool) -> str:
    """Who wrote a quoted comment, as the briefing may say it."""
    kind = row.get("commenter_type") or "unknown"
    if kind in ("organization", "government"):
        name = row.get("commenter_name")  # the analysis never puts a private person's name here
        if name:
            return name
        return "a government commenter" if kind == "government" else "an organization"
    if show_names:
        name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        if name:
            return name
    return "an individual" if kind == "individual" else "a commenter"


COMMON_WORD_COMMENTS = 20        # a name word in at least this many of the docket's comments ...
COMMON_WORD_SHARE = 0.002        # ... and this share of them is a word, not an identifying name


def common_word_test(con: duckdb.DuckDBPyConnection, docket_id: str):
    """`is_common(word)` for the name guard: is `word` (case as given, whole word) in at least
    max(COMMON_WORD_COMMENTS, COMMON_WORD_SHARE of all) of the docket's comment texts?"""
    import math

    total = con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchall()[0][0]
    needed = max(COMMON_WORD_COMMENTS, math.ceil(COMMON_WORD_SHARE * total))

    def is_common(word: str) -> bool:
        # the comment boxes and attachment texts themselves (the comment_bodies view would cost
        # half a second per word on a 22,000-comment docket); a plain `contains` first, then the
        # whole-word check on the few texts that pass it
        pattern = rf"(^|[^\w'’-]){re.escape(word)}([^\w'’-]|$)"
        found = con.execute(
            """select count(*) from (
                   select comment_id from comments
                   where docket_id = $d and contains(text, $w) and regexp_matches(text, $p)
                   union
                   select a.comment_id from attachments a join comments c using (comment_id)
                   where c.docket_id = $d and contains(a.text, $w) and regexp_matches(a.text, $p)
                   limit $n)""",
            {"d": docket_id, "w": word, "p": pattern, "n": needed},
        ).fetchall()[0][0]
        return found >= needed

    return is_common


def _themes(con, docket_id, guard: NameGuard, show_names, max_themes, per_theme) -> list[dict]:
    quotes_by_theme: dict[str, list[dict]] = {}
    for q in _rows(con, "brief_theme_quotes", docket_id):
        quotes_by_theme.setdefault(q["theme_id"], []).append(q)
    stance_by_theme: dict[str, list[dict]] = {}
    for r in _rows(con, "brief_theme_stance", docket_id):
        stance_by_theme.setdefault(r["theme_id"], []).append(r)
    themes = []
    for t in _rows(con, "brief_themes", docket_id)[:max_themes]:
        chosen, withheld, not_verbatim = [], 0, 0
        # in the analysis's order, which keeps more candidates than a briefing shows
        # (themes.QUOTE_CANDIDATES): a quote that names a private individual gives its place to the next
        for q in quotes_by_theme.get(t["theme_id"], []):
            if len(chosen) >= per_theme:
                break
            if not q["is_verbatim"]:
                not_verbatim += 1  # never show a "quote" the comment does not contain
                continue
            if guard.contains(q["quote"]):
                withheld += 1
                continue
            chosen.append({
                "comment_id": q["comment_id"],
                "quote": q["quote"],
                "url": comment_url(q["comment_id"]),
                "attribution": _attribution(q, show_names),
            })
        # short quotes first (a briefing is two pages)
        chosen.sort(key=lambda q: len(q["quote"]) > MAX_QUOTE_CHARS)
        stance = stance_by_theme.get(t["theme_id"], [])
        themes.append({**t, "quotes": chosen, "quotes_withheld": withheld, "quotes_not_verbatim": not_verbatim,
                       "stance": stance, "stance_of": {r["stance"]: r for r in stance}})
    return themes


def _significant(con, docket_id, guard: NameGuard) -> list[dict]:
    """The top unique texts by substance, each with who sent it (an organization's name, never a
    private person's) and its key sentence (shown only when verbatim and naming no one private)."""
    out = []
    for r in _rows(con, "brief_significant", docket_id):
        kind = r["commenter_type"]
        if kind in ("organization", "government") and r["commenter_name"]:
            who = r["commenter_name"]
        elif kind == "organization":
            who = "an organization"
        elif kind == "government":
            who = "a government body"
        else:
            who = "individual"
        sentence = r["key_sentence"] if r["key_sentence"] and r["is_verbatim"] else None
        withheld = bool(sentence and guard.contains(sentence))
        out.append({**r, "commenter": who, "key_sentence": None if withheld else sentence,
                    "sentence_withheld": withheld, "url": comment_url(r["comment_id"])})
    return out


def _campaigns(con, docket_id, guard: NameGuard, show_names, max_campaigns) -> list[dict]:
    examples: dict[str, dict] = {}
    for a in _rows(con, "brief_campaign_additions", docket_id):
        if a["campaign_id"] in examples or not a["is_verbatim"] or guard.contains(a["sentence"]):
            continue
        examples[a["campaign_id"]] = {
            "comment_id": a["comment_id"],
            "quote": a["sentence"],
            "url": comment_url(a["comment_id"]),
        }
    out = []
    for c in _rows(con, "brief_campaigns", docket_id)[:max_campaigns]:
        excerpt = _excerpt(c["template_text"], 240)
        share = c.get("median_similarity")
        out.append({
            **c,
            "additions_line": campaign_additions_line(c["members_with_additions"]),
            "shared_passage_line": campaign_shared_line(share),
            "contained_line": campaign_contained_line(c["contained_in"]),
            "also_line": campaign_also_line(c["also_copies"], c["also_copies_counted_in"]),
            "template_excerpt": guard.redact(excerpt),
            "template_url": comment_url(c["template_comment_id"]),
            "addition_example": examples.get(c["campaign_id"]),
        })
    return out


SHARED_PASSAGE_BELOW = 0.6  # median share of a copy's words in the template under which the briefing says so


def campaign_additions_line(n: int) -> str:
    return f"{n:,} {campaign_additions_words(n)}"


def campaign_additions_words(n: int) -> str:
    """`campaign_additions_line` after its number (the HTML puts the number in its own element)."""
    return f"{'copy' if n == 1 else 'copies'} added words of their own."


def _campaign_list(rows: list[dict] | None, nouns: tuple[str, str], show: int = 3) -> str:
    """'C0002 (31 copies), C0010 (11 copies) and 2 more'."""
    rows = rows or []
    shown = ", ".join(f"{r['campaign_id']} ({r['comments']:,} {nouns[r['comments'] != 1]})" for r in rows[:show])
    return shown + (f" and {len(rows) - show} more" if len(rows) > show else "")


def campaign_contained_line(contained_in: list[dict] | None) -> str | None:
    """Said when this letter sits inside another campaign's longer letter: those copies copy it too."""
    if not contained_in:
        return None
    many = len(contained_in) > 1
    return (f"This letter is also part of the longer {'letters' if many else 'letter'} of "
            f"{_campaign_list(contained_in, ('copy', 'copies'))}, counted there.")


def campaign_also_line(n: int, counted_in: list[dict] | None) -> str | None:
    """Said when copies of this letter are counted under other campaigns (they paste two letters):
    each comment counts in one campaign only, so the sizes add up, and this says where the rest are."""
    return f"{n:,} {campaign_also_words(n, counted_in)}" if n else None


def campaign_also_words(n: int, counted_in: list[dict] | None) -> str:
    """`campaign_also_line` after its number (the HTML puts the number in its own element)."""
    one = n == 1
    where = _campaign_list(counted_in, ("comment", "comments"))
    return (f"more {'comment' if one else 'comments'} also {'copies' if one else 'copy'} this letter but "
            f"{'is' if one else 'are'} counted under {'another campaign' if len(counted_in or []) == 1 else 'other campaigns'}"
            f"{': ' + where if where else ''}.")


def campaign_shared_line(median_share: float | None) -> str | None:
    """Said when half the copies have most of their words outside the template: the count is of
    letters sharing a passage, and the template is that passage, not each sender's whole letter."""
    if median_share is None or median_share >= SHARED_PASSAGE_BELOW:
        return None
    return (f"Half the copies have no more than {100 * median_share:.0f}% of their words in this template: "
            "it is a passage they share, not the whole of each letter.")


def _commenters(con, docket_id, max_organizations) -> dict:
    rows = _rows(con, "brief_commenters", docket_id)
    named = {kind: [r for r in rows if r["commenter_type"] == kind and r["name"]] for kind in ("government", "organization")}
    unnamed = {kind: next((r for r in rows if r["commenter_type"] == kind and not r["name"]), None)
               for kind in ("government", "organization")}
    organizations = named["organization"]
    return {
        "governments": named["government"],
        "organizations": organizations[:max_organizations],
        "organizations_total": len(organizations),
        "organizations_not_shown": max(0, len(organizations) - max_organizations),
        # comments typed organization/government whose sender gave no name
        "unnamed_organization_comments": unnamed["organization"]["comments"] if unnamed["organization"] else 0,
        "unnamed_government_comments": unnamed["government"]["comments"] if unnamed["government"] else 0,
    }


def _excerpt(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def load_stance_accuracy(path: Path) -> dict | None:
    """The measured stance accuracy, as the analysis recorded it; None if unmeasured.

    Only figures present in the file are passed on (never invented). Reads the
    shape of `tests/stance_eval.py`'s `evaluate()` (its held-out "test" split:
    {"n", "accuracy", "<class>": {"precision", "recall", ...}}), or a flat
    {"n", "accuracy", "per_class": {"<class>": {...}}}.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    split = "held-out" if isinstance(raw.get("test"), dict) else None
    if split:
        raw = raw["test"]
    per_class = raw.get("per_class") or {c: raw[c] for c in STANCES if isinstance(raw.get(c), dict)}
    out = {
        "accuracy": raw.get("accuracy"),
        "n": raw.get("n"),
        "split": split,
        "per_class": {
            k: {m: v[m] for m in ("precision", "recall") if v.get(m) is not None}
            for k, v in per_class.items()
            if isinstance(v, dict) and v.get("n", 1)  # a class with no labeled items has no figures
        },
        "source": Path(path).name,
    }
    if out["accuracy"] is None and not any(out["per_class"].values()):
        return None
    return out


def not_read_note(headline: dict, docket_id: str) -> str | None:
    """The headline's sentence on comments nobody read, or None when every comment was read."""
    n = headline.get("not_read") or 0
    if not n:
        return None
    cover = headline.get("not_read_cover_note_only") or 0
    which = (f" ({cover:,} of them have a cover note, read, that takes no side)" if cover else "")
    if n == 1:
        return (f"1 comment carries its substance in attachments not read{which}: "
                f"run `comments attachments {docket_id}` to download and read them.")
    return (f"{n:,} comments carry their substance in attachments not read{which}: "
            f"run `comments attachments {docket_id}` to download and read them.")


def stance_method(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict:
    """How stance was decided on this docket and how accurate it measured here (`stance_models`).

    {"method", "n_labels", "accuracy", "accuracy_sd", "folds", "rules_accuracy", "model_accuracy",
    "check_n", "check_accuracy", "check_low", "check_high", "check_rules_accuracy", "statement"};
    the statement is the one line every format prints.
    """
    from comments.labels import stance_accuracy

    row = stance_accuracy(con, docket_id) or {"method": "rules", "n_labels": 0, "accuracy": None}
    return {**row, "statement": stance_statement(row)}


def theme_audit(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict:
    """How far a person checked the themes (`comments.theme_audit`): figures, each audited theme's row and
    the one line every format prints."""
    from comments.theme_audit import audit_figures, audit_statement, audited_themes

    figures = audit_figures(con, docket_id)
    return {"figures": figures, "statement": audit_statement(figures, docket_id), "by_theme": audited_themes(figures)}


def stance_statement(row: dict) -> str:
    """'stance: model trained on 60 labels of this docket, 0.86 +/- 0.04 accuracy (...)' and the rules' variants,
    then what the check labels measured, when there are any."""
    return _method_statement(row) + check_statement(row)


def check_statement(row: dict) -> str:
    """' Checked on 80 texts drawn at random ...' (with a leading space), or '' without check labels."""
    n = row.get("check_n")
    if not n or row.get("check_accuracy") is None:
        return ""
    if row.get("method") == "model":
        which, other, other_name = "the model agrees", row.get("check_rules_accuracy"), "the rules alone"
    else:
        which, other, other_name = ("the rules agree", row.get("check_model_accuracy"),
                                    "the model trained on the labels, not used,")
    also = f"; {other_name} {other:.2f}" if other is not None else ""
    return (f" Checked on {n} texts of this docket drawn at random and labeled blind (never trained on): "
            f"{which} with {row['check_accuracy']:.2f} of them (95% interval {row['check_low']:.2f} to "
            f"{row['check_high']:.2f}){also}.")


def _method_statement(row: dict) -> str:
    from comments.analysis.stance_model import MIN_LABELS

    n = row.get("n_labels") or 0
    if row.get("method") == "model":
        return (f"Stance: model trained on {n} analyst labels of this docket, {row['accuracy']:.2f} ± "
                f"{row.get('accuracy_sd') or 0:.2f} accuracy ({row.get('folds')}-fold cross-validation, grouped by "
                f"campaign, on the labeled sample); labeled texts keep their label, the model decided the rest.")
    if n and row.get("model_accuracy") is not None:
        return (f"Stance: rules; a model trained on {n} analyst labels of this docket measured "
                f"{row['model_accuracy']:.2f} (grouped cross-validation), no better than the rules' "
                f"{row.get('rules_accuracy') or 0:.2f} on the same labels. Labeled texts keep their label.")
    if n:
        return (f"Stance: rules only ({n} analyst label{'s' if n != 1 else ''} of this docket, {MIN_LABELS} needed to "
                f"train a model); the rules agree with {row.get('rules_accuracy') or 0:.2f} of them. "
                "Labeled texts keep their label.")
    if row.get("check_n"):
        return (f"Stance: rules only (no training labels: label {MIN_LABELS} texts with `comments label sample` / "
                "`comments label import` to train a model for this docket).")
    return (f"Stance: rules only, not measured on this docket (label {MIN_LABELS} texts with "
            f"`comments label sample` / `comments label import` to train and measure a model for it).")


def campaign_check_line(row: dict) -> str | None:
    """How completely the campaigns hold their letters' copies on this docket, by the copies' openings
    (`brief_campaign_check.sql`): every docket measures its own, no labels needed. None when no
    comments share an opening."""
    copies = row.get("copies") or 0
    if not copies:
        return None
    grouped, listed = row["grouped"], row["listed"]
    rest = copies - grouped - listed
    line = (f"Form letters, checked on this docket: {copies:,} comments of 300+ characters open with the same "
            f"150 characters as another comment ({row['letters']:,} letter{'s' if row['letters'] != 1 else ''} by "
            f"their opening); {grouped:,} ({100 * grouped / copies:.0f}%) are counted in the campaign that holds "
            "most copies of their letter")
    if listed:
        line += f", {listed:,} more are listed with it as also copying it"
    if rest:
        line += (f"; {rest:,} {'is' if rest == 1 else 'are'} counted elsewhere or in no campaign ({row['in_no_campaign']:,} "
                 "in none; a comment that kept only a letter's opening and wrote the rest is one of them)")
    return line + "."


def caveats(brief: dict) -> list[str]:
    """The caveats every briefing carries, whatever the numbers."""
    h = brief["headline"]
    acc = brief["accuracy"]
    if acc:
        parts = []
        if acc.get("accuracy") is not None:
            parts.append(f"overall accuracy {100 * float(acc['accuracy']):.0f}%")
        for cls, m in acc.get("per_class", {}).items():
            if m:
                parts.append(
                    f"{cls}: " + ", ".join(f"{k} {100 * float(v):.0f}%" for k, v in m.items())
                )
        held_out = " held-out" if acc.get("split") == "held-out" else ""
        n = f" on {acc['n']}{held_out} hand-labeled comments" if acc.get("n") else " on a hand-labeled set"
        measured = f"Measured{n}: " + "; ".join(parts) + "."
    else:
        measured = ("No measured accuracy was found for this version (analysis/stance_eval.json): "
                    "their accuracy has not been measured here, so treat them as rough.")
    stale = []
    if brief["docket"].get("comments_not_analyzed"):
        stale = [
            f"{brief['docket']['comments_not_analyzed']:,} stored comment(s) arrived after the last analysis: they count "
            "as posted comments but have no stance, theme or campaign yet. Run `comments analyze` to include them."
        ]
    method = brief.get("stance_method") or {}
    method_line = [method["statement"]] if method.get("statement") else []
    if (brief.get("theme_audit") or {}).get("statement"):
        method_line.append(brief["theme_audit"]["statement"])
    not_read = [
        f"“{NOT_READ}” means nobody read the comment's substance (it is in attachments whose text was not "
        "extracted), not that it takes no side; shares of stance are given among the texts that were read."
    ] if (brief["headline"].get("not_read") or 0) else []
    overlap = brief.get("campaign_overlap") or 0
    campaigns = [
        f"Each comment counts in one campaign only, so campaign sizes add up; {overlap:,} "
        f"{'comment copies' if overlap == 1 else 'comments copy'} the letters of two campaigns or more and "
        f"{'is' if overlap == 1 else 'are'} counted under one (the campaign paragraphs above, the explorer and "
        "`comments export` say which)."
    ] if overlap else []
    check = campaign_check_line(brief.get("campaign_check") or {})
    campaigns += [check] if check else []
    return stale + method_line + not_read + campaigns + [
        "Posted counts are not received counts: agencies post what they choose, and may hold back "
        "duplicates, abusive or sensitive comments. "
        f"The agency reports {h['agency_duplicates']:,} further copies it did not post.",
        "Agencies differ in how they post mass mail: some post every copy, some post one with a count "
        "of duplicates, some post none. Compare dockets by submissions represented, not by posts.",
        "Identities are not verified: names, organizations and categories are what submitters typed.",
        "Themes, stance and campaigns are automated estimates from the comment text (and attachment "
        "text where it could be read). " + measured,
    ]
