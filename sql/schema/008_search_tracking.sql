-- Full-text search (our own inverted index: DuckDB's fts extension cannot be
-- downloaded here) and tracking snapshots ("what changed since the last run").

-- One row per comment of an indexed docket: a hash of the inputs of its
-- effective text (box text, attachment statuses and texts, the view's
-- definition), so only comments whose text changed are re-indexed, and the
-- text's length in tokens (for BM25; 0 when it has no text).
create table if not exists search_docs (
    docket_id       varchar not null,
    comment_id      varchar primary key,
    source_md5      varchar not null,
    length          integer not null,
    indexed_at      timestamp not null
);

-- Postings: how often each term occurs in each comment's effective text.
create table if not exists search_postings (
    docket_id       varchar not null,
    term            varchar not null,
    comment_id      varchar not null,
    tf              integer not null
);

-- The state of a tracked docket after each `comments track` run (counts,
-- campaigns, themes, stance as JSON), so the next run can say what changed.
create table if not exists tracking_snapshots (
    docket_id       varchar not null,
    run_at          timestamp not null,
    state           json not null,
    primary key (docket_id, run_at)
);

-- Dockets and documents a watchlist search term has already reported, so the
-- next run lists only new finds.
create table if not exists tracking_discoveries (
    term_key        varchar not null,     -- the search as a stable key (term|agency|open)
    kind            varchar not null,     -- docket | document
    item_id         varchar not null,
    docket_id       varchar,
    title           varchar,
    first_seen      timestamp not null,
    primary key (term_key, kind, item_id)
);
