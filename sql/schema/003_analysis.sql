-- Analysis results. Other tools read these tables: keep the names.
-- Every row carries the analysis run that wrote it; each run replaces the
-- docket's rows, while ids of campaigns and themes that still exist are kept.

create table if not exists analysis_runs (
    run_id              varchar primary key,
    docket_id           varchar not null,
    started_at          timestamp not null,
    finished_at         timestamp,
    status              varchar not null,      -- running | complete | failed
    code_version        varchar not null,
    parameters          json,
    comments_analyzed   integer,
    unique_texts        integer,
    campaigns           integer,
    themes              integer,
    message             varchar
);

-- Form-letter campaigns: exact and near copies of one template.
create table if not exists campaigns (
    docket_id               varchar not null,
    campaign_id             varchar not null,  -- stable across runs, e.g. 'C0001'
    size                    integer not null,  -- posted comments in the campaign (template included)
    exact_copies            integer not null,  -- members identical to the template after normalization
    submissions_represented bigint not null,   -- size + sum(duplicate_comments) of members
    members_with_additions  integer not null,  -- members that added words of their own
    template_comment_id     varchar not null,  -- the most central member
    template_text           varchar not null,
    first_posted            timestamp,
    last_posted             timestamp,
    first_received          timestamp,
    last_received           timestamp,
    stance                  varchar,
    stance_confidence       double,
    run_id                  varchar not null,
    primary key (docket_id, campaign_id)
);

create table if not exists campaign_members (
    docket_id           varchar not null,
    campaign_id         varchar not null,
    comment_id          varchar primary key,
    similarity          double not null,       -- to the template, 0..1
    is_template         boolean not null,
    is_exact            boolean not null,
    unique_additions    varchar[],             -- sentences this sender added, verbatim
    run_id              varchar not null
);

create table if not exists themes (
    docket_id           varchar not null,
    theme_id            varchar not null,      -- stable across runs, e.g. 'T001'
    label               varchar not null,      -- a phrase a reader would use
    keywords            varchar[],
    is_catch_all        boolean not null default false,
    rank                integer,               -- 1 = largest
    unique_texts        integer not null,      -- distinct texts (a campaign counts once)
    comments            integer not null,      -- posted comments
    submissions         bigint not null,       -- submissions represented
    quotes              struct(comment_id varchar, quote varchar)[],  -- 3-5 verbatim exemplars
    run_id              varchar not null,
    primary key (docket_id, theme_id)
);

create table if not exists comment_themes (
    docket_id       varchar not null,
    comment_id      varchar not null,
    theme_id        varchar not null,
    score           double not null,          -- share of the comment's passages in this theme
    is_primary      boolean not null,
    run_id          varchar not null,
    primary key (comment_id, theme_id)
);

-- Per comment: stance and who commented.
create table if not exists comment_labels (
    docket_id           varchar not null,
    comment_id          varchar primary key,
    text_hash           varchar,              -- hash of the normalized effective text
    stance              varchar not null,     -- support | oppose | mixed | unclear
    stance_confidence   double not null,
    stance_evidence     varchar,              -- verbatim span that decided it
    stance_source       varchar,              -- own | template | additions
    commenter_type      varchar not null,     -- individual | organization | government | anonymous | unknown
    commenter_name      varchar,              -- organization or agency name (never a private person's)
    commenter_evidence  varchar,
    run_id              varchar not null
);

-- Bursts: many near-identical comments within minutes.
create table if not exists bursts (
    docket_id       varchar not null,
    burst_id        varchar not null,
    campaign_id     varchar,
    started_at      timestamp not null,
    ended_at        timestamp not null,
    comments        integer not null,
    run_id          varchar not null,
    primary key (docket_id, burst_id)
);
