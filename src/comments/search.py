"""Ranked full-text search over comments' effective texts, without DuckDB's fts extension.

The index is two tables (sql/schema/008): `search_docs` (one row per comment:
hash of its effective text, length in tokens) and `search_postings` (term,
comment, term frequency). It is built by DuckDB itself from the
`comment_bodies` view, so the tokenizer used for the index and for the query
is the same regular expression. Keeping it current is incremental: only
comments whose effective text changed (new, edited, attachment text added)
are re-indexed, found by comparing md5 hashes in one set-based query.

Ranking is Okapi BM25 computed in SQL; query terms travel as parameters,
never spliced into the SQL. Query syntax: words (all required by default),
"quoted phrases" (words adjacent in that order), -word to exclude.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from comments.errors import InputError

# Letters and digits, Unicode-aware (RE2 syntax, evaluated by DuckDB).
TOKEN_RE2 = r"[\p{L}\p{N}]+"
# The same class for Python's `re` (word characters less underscore).
_TOKEN_PY = re.compile(r"[^\W_]+")

BM25_K1 = 1.2
BM25_B = 0.75
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class Query:
    """A parsed query: required terms, phrases (each a tuple of terms), excluded terms."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def scoring_terms(self) -> tuple[str, ...]:
        """Every distinct positive term, from words and phrases, in query order."""
        seen: dict[str, None] = {}
        for t in self.terms:
            seen.setdefault(t, None)
        for p in self.phrases:
            for t in p:
                seen.setdefault(t, None)
        return tuple(seen)


@dataclass
class Hit:
    comment_id: str
    score: float
    title: str | None
    posted_date: object
    body_source: str | None
    # The snippet as (text, is_match) segments: renderers style the matches
    # themselves, so no comment text is ever parsed as markup.
    snippet: list[tuple[str, bool]] = field(default_factory=list)
    matches: int = 0

    @property
    def url(self) -> str:
        return f"https://www.regulations.gov/comment/{self.comment_id}"

    def snippet_text(self, mark: tuple[str, str] = ("[", "]")) -> str:
        return "".join(f"{mark[0]}{t}{mark[1]}" if m else t for t, m in self.snippet)


def tokenize(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    """Tokens of `text` exactly as the index sees them (DuckDB does both)."""
    row = con.execute("select regexp_extract_all(lower(?), ?)", [text, TOKEN_RE2]).fetchone()
    return list(row[0] or [])


def parse_query(con: duckdb.DuckDBPyConnection, text: str) -> Query:
    """Split a user's query into terms, "phrases" and -excluded terms."""
    if text is None or not text.strip():
        raise InputError("empty search query: give one or more words, or a \"quoted phrase\"")
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    # A quoted part is a phrase; an unbalanced quote just ends the phrase at the end.
    for quoted, word in re.findall(r'"([^"]*)"?|(\S+)', text):
        if quoted:
            toks = tokenize(con, quoted)
            if len(toks) == 1:
                terms.extend(toks)
            elif toks:
                phrases.append(tuple(toks))
        elif word.startswith("-") and len(word) > 1:
            excluded.extend(tokenize(con, word[1:]))
        else:
            terms.extend(tokenize(con, word))
    query = Query(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(phrases)), tuple(dict.fromkeys(excluded)))
    if not query.scoring_terms:
        raise InputError(f"search query {text!r} has no words to look for (letters or digits)")
    if len(query.scoring_terms) > MAX_QUERY_TERMS:
        raise InputError(f"search query has more than {MAX_QUERY_TERMS} distinct words; shorten it")
    return query


# The inputs of a comment's effective text (comment_bodies): its box text, the
# status and text of each attachment, and the view's own definition. When none
# changed, the effective text did not either, so it is not read again: reading
# the view is the expensive part (a regex per comment), hashing its inputs is not.
_SOURCE_SQL = """
select
    c.comment_id,
    md5(
        coalesce(c.text, '') || chr(31) || coalesce(a.sig, '') || chr(31) || coalesce($view_md5, '')
    ) as source_md5
from comments c
left join (
    select comment_id,
           string_agg(doc_order || ':' || status || ':' || coalesce(md5(text), ''), ',' order by doc_order) as sig
    from attachments
    where comment_id in (select comment_id from comments where docket_id = $docket)
    group by comment_id
) a using (comment_id)
where c.docket_id = $docket
"""

# Bodies are read with a constant IN list (parameters), which DuckDB pushes into
# the view; a join or a list parameter would evaluate the view for every comment.
_BODY_CHUNK = 500


def effective_texts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, tuple]:
    """{comment_id: (title, posted_date, body_source, body)} for `ids`, read in chunks."""
    out: dict[str, tuple] = {}
    for i in range(0, len(ids), _BODY_CHUNK):
        chunk = ids[i : i + _BODY_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        for cid, title, posted, source, body in con.execute(
            f"""
            select c.comment_id, c.title, c.posted_date, b.body_source, b.body
            from comments c join comment_bodies b using (comment_id)
            where c.comment_id in ({marks}) and b.comment_id in ({marks})
            """,
            chunk + chunk,
        ).fetchall():
            out[cid] = (title, posted, source, body)
    return out


def update_index(con: duckdb.DuckDBPyConnection, docket_id: str) -> dict[str, int]:
    """Bring the docket's index in line with its effective texts; re-index only what changed.

    Returns {"indexed": comments (re)indexed, "removed": comments dropped,
    "total": comments in the index with text}.
    """
    view_md5 = con.execute("select md5(sql) from duckdb_views() where view_name = 'comment_bodies'").fetchone()
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace temp table _search_source as {_SOURCE_SQL}",
            {"docket": docket_id, "view_md5": view_md5[0] if view_md5 else None},
        )
        con.execute(
            """
            create or replace temp table _search_stale as
            select d.comment_id, s.comment_id is null as gone from search_docs d
            left join _search_source s using (comment_id)
            where d.docket_id = ? and s.source_md5 is distinct from d.source_md5
            """,
            [docket_id],
        )
        con.execute(
            """
            create or replace temp table _search_todo as
            select s.* from _search_source s
            left join search_docs d using (comment_id)
            where d.source_md5 is distinct from s.source_md5
            """
        )
        stale, removed = con.execute("select count(*), count(*) filter (where gone) from _search_stale").fetchone()
        todo_ids = [r[0] for r in con.execute("select comment_id from _search_todo order by comment_id").fetchall()]
        if stale:
            con.execute("delete from search_postings where comment_id in (select comment_id from _search_stale)")
            con.execute("delete from search_docs where comment_id in (select comment_id from _search_stale)")
        if todo_ids:
            if len(todo_ids) > 5 * _BODY_CHUNK:  # most of the docket: one pass over the view is cheaper
                con.execute(
                    """
                    create or replace temp table _search_bodies as
                    select t.comment_id, t.source_md5, b.body
                    from comment_bodies b join _search_todo t using (comment_id)
                    where b.docket_id = ?
                    """,
                    [docket_id],
                )
            else:
                import pyarrow as pa

                texts = effective_texts(con, todo_ids)
                md5s = dict(con.execute("select comment_id, source_md5 from _search_todo").fetchall())
                batch = pa.table({
                    "comment_id": todo_ids,
                    "source_md5": [md5s[c] for c in todo_ids],
                    "body": [texts.get(c, (None, None, None, None))[3] for c in todo_ids],
                })
                con.register("_search_bodies_arrow", batch)
                con.execute("create or replace temp table _search_bodies as select * from _search_bodies_arrow")
                con.unregister("_search_bodies_arrow")
            # Postings first (ordered by term so zone maps help the term filter at query time).
            con.execute(
                """
                insert into search_postings (docket_id, term, comment_id, tf)
                select ?, term, comment_id, count(*)::integer
                from (
                    select comment_id, unnest(regexp_extract_all(lower(body), ?)) as term
                    from _search_bodies where body is not null
                )
                group by term, comment_id
                order by term
                """,
                [docket_id, TOKEN_RE2],
            )
            # Every comment gets a row (length 0 without text) so it is not read again until it changes.
            con.execute(
                """
                insert or replace into search_docs (docket_id, comment_id, source_md5, length, indexed_at)
                select ?, comment_id, source_md5,
                       coalesce(len(regexp_extract_all(lower(body), ?)), 0)::integer,
                       now()::timestamp
                from _search_bodies
                """,
                [docket_id, TOKEN_RE2],
            )
        indexed = con.execute(
            "select count(*) from search_docs where length > 0 and comment_id in (select comment_id from _search_todo)"
        ).fetchone()[0]
        total = con.execute("select count(*) from search_docs where docket_id = ? and length > 0", [docket_id]).fetchone()[0]
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        for t in ("_search_source", "_search_stale", "_search_todo", "_search_bodies"):
            con.execute(f"drop table if exists {t}")
    return {"indexed": indexed, "removed": removed, "total": total}


_SEARCH_SQL = """
with
q as (select unnest($terms::varchar[]) as term),
stats as (
    select count(*) as n, coalesce(avg(length), 1) as avgdl
    from search_docs where docket_id = $docket and length > 0
),
df as (
    select p.term, count(*) as df
    from search_postings p join q using (term)
    where p.docket_id = $docket
    group by p.term
),
scored as (
    select
        p.comment_id,
        sum(
            ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
            * (p.tf * ($k1 + 1)) / (p.tf + $k1 * (1 - $b + $b * d.length / s.avgdl))
        ) as score,
        count(distinct p.term) as matched_terms,
        sum(p.tf) as matches
    from search_postings p
    join df using (term)
    join search_docs d on d.comment_id = p.comment_id
    cross join stats s
    where p.docket_id = $docket
    group by p.comment_id
),
excluded as (
    select distinct comment_id from search_postings
    where docket_id = $docket and term in (select unnest($excluded::varchar[]))
)
select s.comment_id, s.score, s.matches
from scored s
where (not $require_all or s.matched_terms = $nterms)
  and s.comment_id not in (select comment_id from excluded)
order by s.score desc, s.comment_id
limit $limit
"""


def search(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    query: str,
    *,
    limit: int = 20,
    require_all: bool = True,
    snippet_chars: int = 240,
    refresh: bool = True,
) -> list[Hit]:
    """The comments of `docket_id` that best match `query`, best first (BM25), with snippets.

    `require_all`: every word and phrase must occur (otherwise any word will do,
    phrases are still required). `refresh` brings the index up to date first
    (needs a read-write connection).
    """
    if limit < 1:
        raise InputError("--limit must be at least 1")
    parsed = parse_query(con, query)
    if refresh:
        update_index(con, docket_id)
    if not con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchone()[0]:
        raise InputError(f"no comments for docket {docket_id} in this database: run `comments sync {docket_id}` first")
    terms = list(parsed.scoring_terms)
    # Ranking reads only the index; texts are read for the hits shown. With a
    # phrase, candidates are ranked on their words and checked for the phrase
    # in rank order until `limit` are found.
    ranked = con.execute(
        _SEARCH_SQL,
        {
            "terms": terms,
            "docket": docket_id,
            "k1": BM25_K1,
            "b": BM25_B,
            "excluded": list(parsed.excluded),
            "require_all": require_all,
            "nterms": len(terms),
            "limit": None if parsed.phrases else int(limit),
        },
    ).fetchall()
    phrase_res = [_phrase_regex(p) for p in parsed.phrases]
    hits: list[Hit] = []
    step = max(limit, 50) if phrase_res else limit
    for i in range(0, len(ranked), step):
        chunk = ranked[i : i + step]
        texts = effective_texts(con, [r[0] for r in chunk])
        for comment_id, score, matches in chunk:
            title, posted, source, body = texts.get(comment_id, (None, None, None, ""))
            body = body or ""
            if phrase_res and not all(rx.search(body) for rx in phrase_res):
                continue
            hits.append(
                Hit(
                    comment_id=comment_id,
                    score=float(score),
                    title=title,
                    posted_date=posted,
                    body_source=source,
                    snippet=make_snippet(body, parsed, width=snippet_chars),
                    matches=int(matches),
                )
            )
            if len(hits) == limit:
                return hits
    return hits


def _phrase_regex(phrase: tuple[str, ...]) -> re.Pattern:
    sep = r"[\W_]+"
    return re.compile(r"(?<![^\W_])" + sep.join(re.escape(t) for t in phrase) + r"(?![^\W_])", re.IGNORECASE)


def _match_spans(text: str, query: Query) -> list[tuple[int, int, int]]:
    """(start, end, weight) of every phrase occurrence (weight 3) and loose term (weight 1)."""
    spans = [(m.start(), m.end(), 3) for p in query.phrases for m in _phrase_regex(p).finditer(text)]
    covered = [(s, e) for s, e, _ in spans]
    wanted = set(query.terms) if query.phrases else set(query.scoring_terms)
    for m in _TOKEN_PY.finditer(text):
        if m.group(0).lower() in wanted and not any(s <= m.start() < e for s, e in covered):
            spans.append((m.start(), m.end(), 1))
    return sorted(spans)


def make_snippet(body: str, query: Query, *, width: int = 240) -> list[tuple[str, bool]]:
    """The `width`-character window of `body` with the most query hits, as segments.

    Returns (text, is_match) pairs; whitespace is collapsed; "…" marks cuts.
    Phrases are highlighted whole and weigh more than loose words.
    """
    text = " ".join(body.split())
    spans = _match_spans(text, query)
    start = 0
    if spans:
        # Slide a window over the hits; keep the one covering the most weight.
        best, best_weight, j, weight = spans[0][0], -1, 0, 0
        for s, _, w in spans:
            while j < len(spans) and spans[j][1] <= s + width:
                weight += spans[j][2]
                j += 1
            if weight > best_weight:
                best, best_weight = s, weight
            weight -= w
        start = max(0, best - width // 4)
        if len(text) <= width:
            start = 0
        elif start > 0:  # begin at a word boundary
            space = text.rfind(" ", 0, start)
            if space < 0:
                start = 0
            elif start - space < 30:
                start = space + 1
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start + width // 2:
            end = space
    segments: list[tuple[str, bool]] = []
    if start > 0:
        segments.append(("… ", False))
    pos = start
    for s, e, _ in spans:
        if s < pos or e > end:
            continue
        if s > pos:
            segments.append((text[pos:s], False))
        segments.append((text[s:e], True))
        pos = e
    if pos < end:
        segments.append((text[pos:end], False))
    if end < len(text):
        segments.append((" …", False))
    return segments
