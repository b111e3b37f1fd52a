"""What each explorer page shows, as plain data from SQL over the snapshot.

The docket page's numbers come from the briefing's own report queries
(`sql/reports/brief_*.sql`), so the explorer and the briefing cannot disagree;
each links to a list whose filters (comments.filters) are defined to give the
same count. Lists page by keyset (the last row's sort value and id), so the
thousandth page costs what the first does. Python arranges rows and cuts
text into highlighted segments; it computes no counts of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from comments import labels as labels_mod
from comments import search as search_mod
from comments import search_index
from comments.briefing.data import campaign_check_line, campaign_contained_line
from comments.briefing.privacy import shown_title as privacy_title
from comments.errors import InputError
from comments.filters import Filters
from comments.resources import sql_text
from comments.theme_audit import audit_figures, audit_statement, audited_themes

REGULATIONS_GOV = "https://www.regulations.gov"
STANCES = ("support", "oppose", "mixed", "unclear")
SORTS = {
    # name: (label, position column of explorer_facets, descending)
    "new": ("newest first", "new_rank", False),
    "old": ("oldest first", "new_rank", True),
    "subs": ("most submissions", "subs_rank", False),
    "id": ("comment id", "comment_id", False),
}
SEARCH_SORTS = {"rel": "best match", "new": "newest first", "old": "oldest first", "subs": "most submissions"}
PER_PAGE = (20, 50, 100, 200, 500)
DEFAULT_PER = 50


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[dict]:
    res = cur.execute(sql, params if params is not None else [])
    cols = [d[0] for d in res.description]
    return [dict(zip(cols, r, strict=True)) for r in res.fetchall()]


def report(cur, name: str, docket_id: str) -> list[dict]:
    """A briefing report query (sql/reports/NAME.sql), exactly as the briefing runs it."""
    return rows(cur, sql_text(f"reports/{name}.sql"), {"docket_id": docket_id})


def explorer_sql(cur, name: str, params: dict) -> list[dict]:
    return rows(cur, sql_text(f"explorer/{name}.sql"), params)


def comment_url(comment_id: str) -> str:
    from urllib.parse import quote

    return f"{REGULATIONS_GOV}/comment/{quote(comment_id, safe='-')}"


def docket_url(docket_id: str) -> str:
    from urllib.parse import quote

    return f"{REGULATIONS_GOV}/docket/{quote(docket_id, safe='-')}"


# ---------------------------------------------------------------------- names


def commenter_label(row: dict, show_names: bool) -> str:
    """Who sent a comment, as the explorer may say it: organizations and agencies by name,
    private people by name only with --show-names."""
    kind = row.get("commenter_type") or "unknown"
    if kind in ("organization", "government") and row.get("commenter_name"):
        return row["commenter_name"]
    if show_names:
        name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        if name:
            return name
        if row.get("organization"):
            return row["organization"]
    return {"individual": "an individual", "anonymous": "anonymous", "organization": "an organization",
            "government": "a government body"}.get(kind, "a commenter")


def shown_title(row: dict, show_names: bool) -> str | None:
    """The comment's title, with a private sender's name ("Comment from Jane Doe") withheld."""
    return privacy_title(row.get("title"), row.get("commenter_type"), show_names)


# ---------------------------------------------------------------------- highlighting


def segments(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, str | None]]:
    """`text` cut into (piece, kind) segments; kind names the highlight (None: plain).

    Spans are (start, end, kind); where they overlap, the earlier-listed kind wins.
    Pieces are plain text: the template escapes them, then wraps marked ones.
    """
    if not text:
        return []
    spans = [(max(0, a), min(len(text), b), k) for a, b, k in spans if b > a]
    cuts = sorted({0, len(text), *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    out: list[tuple[str, str | None]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        kind = next((k for s, e, k in spans if s <= a and b <= e), None)
        if out and out[-1][1] == kind:
            out[-1] = (out[-1][0] + text[a:b], kind)
        else:
            out.append((text[a:b], kind))
    return out


def find_spans(text: str, needle: str | None, kind: str) -> list[tuple[int, int, str]]:
    """Where `needle` occurs in `text` (whitespace differences ignored), as spans of `kind`."""
    if not text or not needle or not needle.strip():
        return []
    words = needle.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    return [(m.start(), m.end(), kind) for m in re.finditer(pattern, text)]


def term_spans(text: str, parsed) -> list[tuple[int, int, str]]:
    return [(s, e, "match") for s, e, _ in search_mod._match_spans(text, parsed)] if parsed else []


# ---------------------------------------------------------------------- dockets


def dockets(cur) -> list[dict]:
    return explorer_sql(cur, "dockets", {})


def docket_known(cur, docket_id: str) -> bool:
    return bool(cur.execute(
        "select 1 from comments where docket_id = ? union all select 1 from dockets where docket_id = ? limit 1",
        [docket_id, docket_id]).fetchall())


def docket_page(cur, docket_id: str, *, show_names: bool) -> dict:
    header = report(cur, "brief_docket", docket_id)[0]
    analyzed = header["analysis_run_id"] is not None
    page = {"docket": {**header, "url": docket_url(docket_id)}, "analyzed": analyzed}
    if not analyzed:
        page["stored"] = header["stored_comments"]
        return page
    headline = {k: (0 if v is None else v) for k, v in report(cur, "brief_headline", docket_id)[0].items()}
    page["headline"] = headline
    page["stance"] = report(cur, "brief_stance", docket_id)
    page["themes"] = report(cur, "brief_themes", docket_id)
    quotes: dict[str, list[dict]] = {}
    for q in report(cur, "brief_theme_quotes", docket_id):
        if q["is_verbatim"] and len(quotes.setdefault(q["theme_id"], [])) < 2:
            quotes[q["theme_id"]].append({"comment_id": q["comment_id"], "quote": q["quote"]})
    figures = audit_figures(cur, docket_id)
    audited = audited_themes(figures)
    for t in page["themes"]:
        t["quotes"] = quotes.get(t["theme_id"], [])
        t["audited"] = audited.get(t["theme_id"])
    page["theme_audit"] = audit_statement(figures, docket_id)
    page["campaigns"] = report(cur, "brief_campaigns", docket_id)
    page["campaign_check"] = campaign_check_line(report(cur, "brief_campaign_check", docket_id)[0])
    page["commenters"] = report(cur, "brief_commenters", docket_id)
    page["timeline"] = explorer_sql(cur, "stance_timeline", {"docket_id": docket_id})
    page["stances"] = stance_values(cur, docket_id)
    return page


def label_status(cur, docket_id: str) -> dict:
    """How many analyst labels the docket has, and the measured accuracy when there is one."""
    out = {"count": labels_mod.label_count(cur, docket_id), "accuracy": None, "check": None}
    try:
        found = labels_mod.stance_accuracy(cur, docket_id)
    except duckdb.Error:  # a database from before the stance model (no stance_models table)
        found = None
    if isinstance(found, dict) and found.get("accuracy") is not None:
        if found.get("method") == "model":
            how = f"per-docket model, {found.get('folds') or 5}-fold cross-validation grouped by campaign"
        else:
            how = "rules only, agreement with the analyst's labels"
        out["accuracy"] = {"accuracy": float(found["accuracy"]), "accuracy_sd": found.get("accuracy_sd"),
                           "method": how, "n_labels": found.get("n_labels")}
    if isinstance(found, dict) and found.get("check_n") and found.get("check_accuracy") is not None:
        out["check"] = {"n": found["check_n"], "accuracy": float(found["check_accuracy"]),
                        "low": float(found["check_low"]), "high": float(found["check_high"])}
    return out


def stance_values(cur, docket_id: str) -> list[str]:
    """Every stance on the docket (the usual four first): an open vocabulary, e.g. 'not read'."""
    found = [r[0] for r in cur.execute(
        "select distinct stance from explorer_facets where docket_id = ? and stance is not null order by 1",
        [docket_id]).fetchall()]
    return list(STANCES) + [s for s in found if s not in STANCES]


def filter_options(cur, docket_id: str) -> dict:
    """The choices the filter form offers."""
    return {
        "stances": stance_values(cur, docket_id),
        "label_stances": list(labels_mod.STANCES),
        "themes": rows(cur, """select theme_id, label, comments from themes where docket_id = ?
                               order by is_catch_all, rank nulls last, theme_id""", [docket_id]),
        "campaigns": rows(cur, """select campaign_id, size from campaigns where docket_id = ?
                                  order by size desc, campaign_id limit 200""", [docket_id]),
        "ctypes": [r[0] for r in cur.execute(
            "select distinct commenter_type from explorer_facets where docket_id = ? order by 1", [docket_id]).fetchall()],
        "orgs": [r[0] for r in cur.execute(
            """select commenter_name from explorer_facets where docket_id = ? and commenter_name is not null
               group by 1 order by count(*) desc, 1 limit 500""", [docket_id]).fetchall()],
    }


# ---------------------------------------------------------------------- lists


@dataclass
class ListState:
    """A comments list as its URL describes it."""

    filters: Filters = field(default_factory=Filters)
    q: str = ""
    any_word: bool = False
    sort: str = ""
    per: int = DEFAULT_PER
    after: str | None = None
    before: str | None = None
    page: int = 1
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params) -> ListState:
        filters, notes = Filters.from_params(params)
        q = (params.get("q") or "").strip()[:500]
        sort = params.get("sort") or ""
        valid = SEARCH_SORTS if q else SORTS
        if sort and sort not in valid:
            notes.append(f"sort {sort!r} ignored")
            sort = ""
        sort = sort or ("rel" if q else "new")
        try:
            per = int(params.get("per") or DEFAULT_PER)
        except ValueError:
            per = DEFAULT_PER
        per = min(max(per, 1), max(PER_PAGE))
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        return cls(filters=filters, q=q, any_word=(params.get("any") == "1"), sort=sort, per=per,
                   after=params.get("after") or None, before=params.get("before") or None, page=page, notes=notes)

    def params(self, **changes) -> dict[str, str]:
        """URL parameters of this list (with `changes`; a None value drops the parameter)."""
        out = dict(self.filters.to_params())
        if self.q:
            out["q"] = self.q
            if self.any_word:
                out["any"] = "1"
        if self.sort and self.sort != ("rel" if self.q else "new"):
            out["sort"] = self.sort
        if self.per != DEFAULT_PER:
            out["per"] = str(self.per)
        for k, v in changes.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = str(v)
        return out

    def with_filters(self, filters: Filters) -> ListState:
        return replace(self, filters=filters, after=None, before=None, page=1)


_WHERE_COLUMNS = {"ctype": "f.commenter_type = ?", "org": "f.commenter_name = ?",
                  "date_from": "f.day >= ?", "date_to": "f.day <= ?"}


def where_clause(f: Filters, docket_id: str) -> tuple[str, list]:
    """SQL conditions on explorer_facets (alias f) for the filters; values are parameters only."""
    parts, params = ["f.docket_id = ?"], [docket_id]
    if f.stance:
        parts.append(("f.unique_stance" if f.unique else "f.stance") + " = ?")
        params.append(f.stance)
    if f.theme:
        parts.append("list_contains(" + ("f.unique_themes" if f.unique else "f.themes") + ", ?)")
        params.append(f.theme)
    if f.unique:
        parts.append("f.is_unique")
    if f.campaign == "any":
        parts.append("f.campaign_id is not null")
    elif f.campaign == "none":
        parts.append("f.campaign_id is null")
    elif f.campaign:
        parts.append("f.campaign_id = ?")
        params.append(f.campaign)
    for name, sql in _WHERE_COLUMNS.items():
        value = getattr(f, name)
        if value:
            parts.append(sql)
            params.append(value)
    states = f.attachment_states
    if states:
        parts.append("f.attachment_state in (" + ", ".join("?" for _ in states) + ")")
        params.extend(states)
    if f.labeled == "yes":
        parts.append("f.comment_id in (select comment_id from analyst_labels where docket_id = ?)")
        params.append(docket_id)
    elif f.labeled == "no":
        parts.append("f.comment_id not in (select comment_id from analyst_labels where docket_id = ?)")
        params.append(docket_id)
    return " and ".join(parts), params


def _keyset(sort: str, position, forward: bool) -> tuple[str, list, str]:
    """(condition: after/before `position`, its parameters, order by) for a keyset page."""
    _, column, desc = SORTS[sort]
    if not forward:
        desc = not desc
    order = f"f.{column} {'desc' if desc else 'asc'}"
    if position is None:
        return "", [], order
    return f"f.{column} {'<' if desc else '>'} ?", [position], order


def comment_list(cur, docket_id: str, state: ListState, *, index_root: Path, show_names: bool) -> dict:
    """One page of a docket's comments: total, submissions, rows, and links to the pages around it.

    A page is "the next `per` after this comment" in the list's order (after= / before= name
    the comment at the edge of the page one came from), so a link keeps its place as comments
    arrive, and the last page costs what the first does.
    """
    if state.q:
        return _search_list(cur, docket_id, state, index_root=index_root, show_names=show_names)
    where, params = where_clause(state.filters, docket_id)
    total, submissions = cur.execute(
        f"select count(*), coalesce(sum(submissions), 0) from explorer_facets f where {where}", params).fetchone()
    column = SORTS[state.sort][1]
    forward = state.before is None
    edge = state.after if forward else state.before
    position = None
    if edge:
        found = cur.execute(f"select {column} from explorer_facets where docket_id = ? and comment_id = ?",
                            [docket_id, edge]).fetchall()
        if found:
            position = found[0][0]
        else:
            state.notes.append(f"comment {edge} is no longer in the list: showing the first page")
            forward = True
    cond, kparams, order = _keyset(state.sort, position, forward)
    # positions first (a whole-number top-N), then the rows of this page only
    page_ids = cur.execute(
        f"select f.comment_id, f.{column} from explorer_facets f where {where}{' and ' + cond if cond else ''} "
        f"order by {order} limit ?", params + kparams + [state.per + 1]).fetchall()
    more = len(page_ids) > state.per
    page_ids = page_ids[: state.per]
    if not forward:
        page_ids.reverse()
    first = 1
    if page_ids and position is not None:
        bcond, bparams, _ = _keyset(state.sort, page_ids[0][1], False)
        first = 1 + cur.execute(f"select count(*) from explorer_facets f where {where} and {bcond}",
                                params + bparams).fetchone()[0]
    by_id = {r["comment_id"]: r for r in _rows_by_id(cur, [cid for cid, _ in page_ids])}
    page_rows = [by_id[cid] for cid, _ in page_ids]
    has_prev = first > 1
    has_next = more if forward else (first - 1 + len(page_rows) < total)
    links: dict = {"first": None, "prev": None, "next": None}
    if page_rows and has_next:
        links["next"] = state.params(after=page_rows[-1]["comment_id"], before=None)
    if page_rows and has_prev:
        links["prev"] = state.params(before=page_rows[0]["comment_id"], after=None)
    if has_prev:
        links["first"] = state.params(after=None, before=None)
    return {
        "total": total, "submissions": submissions, "first": first,
        "rows": _decorate(cur, docket_id, page_rows, None, show_names), "links": links, "search": None,
    }


def _search_list(cur, docket_id: str, state: ListState, *, index_root: Path, show_names: bool) -> dict:
    parsed = search_mod.parse_query(state.q)
    filters = state.filters
    if filters.labeled:
        state.notes.append("the analyst-label filter does not combine with a search query: ignored")
        filters = replace(filters, labeled=None)
    offset = (state.page - 1) * state.per
    result = search_index.query(index_root, docket_id, parsed, filters=filters, require_all=not state.any_word,
                                sort=state.sort, offset=offset, limit=state.per, with_submissions=True)
    if result is None:
        return {"total": None, "submissions": None, "first": 1, "rows": [], "links": {"first": None, "prev": None, "next": None},
                "search": {"parsed": parsed, "index_missing": True}}
    ids = [cid for cid, _ in result.hits]
    by_id = {r["comment_id"]: r for r in _rows_by_id(cur, ids)}
    page_rows = [by_id[cid] for cid in ids if cid in by_id]  # an id newer than the snapshot is left out
    links: dict = {"first": None, "prev": None, "next": None}
    if offset + state.per < result.total:
        links["next"] = state.params(page=state.page + 1)
    if state.page > 1:
        links["prev"] = state.params(page=state.page - 1 if state.page > 2 else None)
        links["first"] = state.params(page=None)
    return {
        "total": result.total, "submissions": result.submissions, "first": offset + 1,
        "rows": _decorate(cur, docket_id, page_rows, parsed, show_names), "links": links,
        "search": {"parsed": parsed, "index_missing": False,
                   "indexed_at": search_index.indexed_at(index_root, docket_id)},
    }


def _rows_by_id(cur, ids: list[str]) -> list[dict]:
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return rows(cur, f"select f.* from explorer_facets f where f.comment_id in ({marks})", ids)


def _decorate(cur, docket_id: str, page_rows: list[dict], parsed, show_names: bool) -> list[dict]:
    """Add what a list row shows beyond the filter values: title, sender, snippet, analyst label."""
    ids = [r["comment_id"] for r in page_rows]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    # each table is narrowed to the page's ids by its own index (a join would read every body)
    extra = {r["comment_id"]: r for r in rows(cur, f"""
        select c.comment_id, c.title, c.first_name, c.last_name, c.organization,
               b.body, l.stance as label_stance, l.theme_id as label_theme
        from (select comment_id, title, first_name, last_name, organization from comments
              where comment_id in ({marks})) c
        left join (select comment_id, body from comment_bodies where comment_id in ({marks})) b using (comment_id)
        left join (select comment_id, stance, theme_id from analyst_labels where comment_id in ({marks})) l using (comment_id)
        """, ids * 3)}
    themes = theme_labels(cur, docket_id)
    out = []
    for r in page_rows:
        e = extra.get(r["comment_id"], {})
        row = {**r, **e}
        body = e.get("body") or ""
        if parsed is not None:
            snippet = [(t, "match" if m else None) for t, m in search_mod.make_snippet(body, parsed, width=260)]
        else:
            text = " ".join(body.split())
            snippet = [(text[:260] + (" …" if len(text) > 260 else ""), None)] if text else []
        row.pop("body", None)
        row["snippet"] = snippet
        row["who"] = commenter_label(row, show_names)
        row["title_shown"] = shown_title(row, show_names)
        row["theme_labels"] = [(t, themes.get(t, t)) for t in (r.get("themes") or [])]
        out.append(row)
    return out


def theme_labels(cur, docket_id: str) -> dict[str, str]:
    return dict(cur.execute("select theme_id, label from themes where docket_id = ?", [docket_id]).fetchall())


# ---------------------------------------------------------------------- one comment


def comment_page(cur, docket_id: str, comment_id: str, *, q: str = "", show_names: bool) -> dict | None:
    return comment_pages(cur, docket_id, [comment_id], q=q, show_names=show_names).get(comment_id)


def comment_pages(cur, docket_id: str, ids: list[str], *, q: str = "", show_names: bool) -> dict[str, dict]:
    """What the comment page shows, for several comments at once (one query per kind of fact)."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    # each table narrowed by its own index on comment_id (a docket condition beside it would
    # turn DuckDB's index lookup into a scan: the docket is checked below instead)
    found = rows(cur, f"""
        select c.*, f.stance, f.commenter_type, f.commenter_name, f.campaign_id, f.attachment_state,
               f.submissions, f.day, b.body, b.body_source, b.box_is_boilerplate
        from (select * exclude (raw) from comments where comment_id in ({marks})) c
        left join (select * exclude (docket_id) from explorer_facets where comment_id in ({marks})) f using (comment_id)
        left join (select * exclude (docket_id) from comment_bodies where comment_id in ({marks})) b using (comment_id)""",
        [*ids, *ids, *ids])
    found = [c for c in found if c["docket_id"] == docket_id]
    if not found:
        return {}

    def by_id(sql: str, many: bool = False) -> dict:
        out: dict = {}
        for r in rows(cur, sql.format(marks=marks), ids):
            if many:
                out.setdefault(r["comment_id"], []).append(r)
            else:
                out[r["comment_id"]] = r
        return out

    labels = by_id("""select comment_id, stance, stance_confidence, stance_evidence, stance_source, commenter_type,
                             commenter_name, commenter_evidence
                      from comment_labels where comment_id in ({marks})""")
    analyst = by_id("select comment_id, stance, theme_id, source, labeled_at from analyst_labels where comment_id in ({marks})")
    members = by_id("""select comment_id, docket_id, campaign_id, similarity, is_template, is_exact, unique_additions
                       from campaign_members where comment_id in ({marks})""")
    campaign_ids = sorted({m["campaign_id"] for m in members.values()})
    if campaign_ids:
        info = {r["campaign_id"]: r for r in rows(cur, f"""
            select campaign_id, size, template_comment_id, coalesce(stance, 'unclear') as campaign_stance
            from campaigns where docket_id = ? and campaign_id in ({', '.join('?' for _ in campaign_ids)})""",
            [docket_id, *campaign_ids])}
        for m in members.values():
            m.update(info.get(m["campaign_id"], {"size": None, "template_comment_id": None, "campaign_stance": "unclear"}))
    other_letters = by_id("""select comment_id, campaign_id from comment_other_letters
                             where comment_id in ({marks}) order by campaign_id""", many=True)
    labels_of_themes = theme_labels(cur, docket_id)
    themes = by_id("""select comment_id, theme_id, score, is_primary from comment_themes
                      where comment_id in ({marks}) order by is_primary desc, score desc""", many=True)
    for items in themes.values():
        for t in items:
            t["label"] = labels_of_themes.get(t["theme_id"], t["theme_id"])
    attachments = by_id("""select comment_id, doc_order, title, format, status, reason, text, page_count, url
                           from attachments where comment_id in ({marks}) order by doc_order""", many=True)
    parsed = None
    if q:
        try:
            parsed = search_mod.parse_query(q)
        except InputError:
            parsed = None
    out = {}
    for c in found:
        cid = c["comment_id"]
        label, member = labels.get(cid), members.get(cid)
        evidence = label["stance_evidence"] if label else None
        additions = list(member["unique_additions"] or []) if member else []

        def marked(text: str | None, evidence=evidence, additions=additions) -> list:
            if not text:
                return []
            spans = find_spans(text, evidence, "evidence")
            for sentence in additions:
                spans += find_spans(text, sentence, "addition")
            return segments(text, term_spans(text, parsed) + spans)

        atts = attachments.get(cid, [])
        box = c.get("text") or ""
        everything = box + "\n" + "\n".join(a.get("text") or "" for a in atts)
        out[cid] = {
            "comment": c,
            "who": commenter_label(c, show_names),
            "title_shown": shown_title(c, show_names),
            "show_names": show_names,
            "url": comment_url(cid),
            "label": label,
            "evidence_found": bool(evidence and find_spans(everything, evidence, "evidence")),
            "analyst": analyst.get(cid),
            "member": member,
            "other_letters": [r["campaign_id"] for r in other_letters.get(cid, [])],
            "additions_found": [s for s in additions if find_spans(everything, s, "addition")],
            "themes": themes.get(cid, []),
            "text": {
                "box": marked(box),
                "box_is_boilerplate": c.get("box_is_boilerplate"),
                "attachments": [{**a, "segments": marked(a.get("text"))} for a in atts],
            },
            "parsed": parsed,
        }
    return out


# ---------------------------------------------------------------------- campaigns


ALSO_SHOWN = 200  # comments of other campaigns listed as also copying a campaign's letter


def campaign_page(cur, docket_id: str, campaign_id: str, *, after: str | None, per: int = 100, show_names: bool,
                  campaigns: list[dict] | None = None, also_after: str | None = None) -> dict | None:
    """`campaigns`: the docket's brief_campaigns rows when the caller has them already. `after` and
    `also_after`: the last comment id of the previous page of copies, and of comments of other
    campaigns listed as also copying this letter (each list pages on its own)."""
    if campaigns is None:
        campaigns = report(cur, "brief_campaigns", docket_id)
    found = [r for r in campaigns if r["campaign_id"] == campaign_id]
    if not found:
        return None
    camp = found[0]
    params = [docket_id, campaign_id]
    cond = ""
    if after:
        cond = " and comment_id > ?"
        params.append(after)
    # the page's members first, then their details by id (each table through its own index)
    page_ids = [r[0] for r in cur.execute(
        f"""select comment_id from campaign_members where docket_id = ? and campaign_id = ?{cond}
            order by comment_id limit ?""", params + [per + 1]).fetchall()]
    members = []
    if page_ids:
        marks = ", ".join("?" for _ in page_ids)
        members = rows(cur, f"""
            select m.comment_id, m.similarity, m.is_template, m.is_exact, m.unique_additions,
                   f.stance, f.commenter_type, f.commenter_name, f.posted_date, f.day, f.submissions,
                   c.title, c.first_name, c.last_name, c.organization
            from (select * from campaign_members where comment_id in ({marks})) m
            join (select comment_id, title, first_name, last_name, organization from comments
                  where comment_id in ({marks})) c using (comment_id)
            left join (select * exclude (docket_id, campaign_id) from explorer_facets where comment_id in ({marks})) f using (comment_id)
            order by m.comment_id""", page_ids * 3)
    more = len(members) > per
    members = members[:per]
    for m in members:
        m["who"] = commenter_label(m, show_names)
        m["title_shown"] = shown_title(m, show_names)
        m["additions"] = list(m["unique_additions"] or [])
    template = camp["template_text"] or ""
    also = rows(cur, f"""
        select a.comment_id, m.campaign_id, a.template_share
        from campaign_also_copies a join campaign_members m on m.docket_id = a.docket_id and m.comment_id = a.comment_id
        where a.docket_id = ? and a.campaign_id = ?{" and a.comment_id > ?" if also_after else ""}
        order by a.comment_id limit ?""",
        [docket_id, campaign_id, *([also_after] if also_after else []), ALSO_SHOWN + 1]) if camp["also_copies"] else []
    return {
        "campaign": camp,
        "also": also[:ALSO_SHOWN],
        "also_next": also[ALSO_SHOWN - 1]["comment_id"] if len(also) > ALSO_SHOWN else None,
        "also_after": also_after,
        "contained_line": campaign_contained_line(camp.get("contained_in")),
        "template": template,
        "template_url": comment_url(camp["template_comment_id"]),
        "members": members,
        "next_after": members[-1]["comment_id"] if more and members else None,
        "timeline": explorer_sql(cur, "campaign_timeline", {"docket_id": docket_id, "campaign_id": campaign_id}),
        "with_additions_shown": sum(1 for m in members if m["additions"]),
    }


# ---------------------------------------------------------------------- label mode


def label_batch(cur, docket_id: str, state: ListState, *, n: int = 25, show_names: bool) -> dict:
    """The next `n` comments without an analyst label in the list's filters, with their texts."""
    filters = replace(state.filters, labeled="no")
    where, params = where_clause(filters, docket_id)
    total = cur.execute(f"select count(*) from explorer_facets f where {where}", params).fetchone()[0]
    ids = [r[0] for r in cur.execute(
        f"select f.comment_id from explorer_facets f where {where} order by f.comment_id limit ?", params + [n]).fetchall()]
    pages = comment_pages(cur, docket_id, ids, show_names=show_names)
    items = [pages[cid] for cid in ids if cid in pages]
    return {"remaining": total, "cards": items, "themes": rows(
        cur, """select theme_id, label from themes where docket_id = ? and not is_catch_all
                order by rank nulls last, theme_id limit 9""", [docket_id])}
