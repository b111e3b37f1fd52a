-- The text of a docket's own documents (the notice, the proposed rule): the questions an
-- RFI asks and the sections a rule proposes. Fetched by the attachments stage from the
-- document detail's fileFormats (content.htm / content.pdf), stored and extracted like an
-- attachment; the codebook is seeded from it.
create table if not exists document_texts (
    document_id         varchar primary key,
    docket_id           varchar not null,
    url                 varchar,          -- the file chosen from fileFormats
    format              varchar,
    sha256              varchar,          -- content hash of the stored file
    stored_bytes        bigint,
    status              varchar not null, -- ok | empty | needs_ocr | unsupported | too_large | failed | restricted
    reason              varchar,
    text                varchar,
    page_count          integer,
    extraction_method   varchar,
    downloaded_at       timestamp,
    extracted_at        timestamp
);

-- Substance of each unique text, for "the comments an agency must answer": evidence,
-- numbers, citations of law or studies, specific requested changes, expertise. One row per
-- singleton comment and per campaign template (its copies share the score); written by
-- `comments analyze` with the other analysis tables.
create table if not exists comment_significance (
    docket_id           varchar not null,
    comment_id          varchar primary key,
    score               double not null,      -- 0..100, higher = more substance
    rank                integer,              -- 1 = most substantive unique text of the docket
    signals             varchar[],            -- what raised the score, e.g. 'numbers', 'legal citation'
    key_sentence        varchar,              -- verbatim sentence of the text that carries it
    run_id              varchar not null
);

-- The codebook an analysis run used (null: none), as '<version> <sha256 of the file>'.
alter table analysis_runs add column if not exists codebook varchar;
