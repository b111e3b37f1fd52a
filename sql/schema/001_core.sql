-- Ingest: what regulations.gov (or a bulk CSV, or a Mirrulations copy) says.
-- All timestamps are UTC (the API returns UTC; filters are converted at the edge).
-- `source` says where a row last came from: 'api', 'bulk_csv' or 'mirrulations'.

create table if not exists dockets (
    docket_id       varchar primary key,
    agency_id       varchar,
    title           varchar,
    docket_type     varchar,
    rin             varchar,
    abstract        varchar,
    last_modified   timestamp,
    source          varchar,
    raw             json,
    fetched_at      timestamp
);

create table if not exists documents (
    document_id         varchar primary key,
    docket_id           varchar,
    object_id           varchar,
    document_type       varchar,
    subtype             varchar,
    title               varchar,
    fr_doc_num          varchar,
    posted_date         timestamp,
    comment_start_date  timestamp,
    comment_end_date    timestamp,
    open_for_comment    boolean,
    withdrawn           boolean,
    last_modified       timestamp,
    source              varchar,
    raw                 json,
    fetched_at          timestamp
);

create table if not exists comments (
    comment_id              varchar primary key,
    docket_id               varchar not null,
    document_id             varchar,      -- the document commented on (commentOnDocumentId)
    comment_on_object_id    varchar,      -- its objectId (commentOn)
    agency_id               varchar,
    document_type           varchar,
    subtype                 varchar,
    posted_date             timestamp,
    received_date           timestamp,
    postmark_date           timestamp,
    last_modified           timestamp,    -- the list's lastModifiedDate: the sync cursor
    modify_date             timestamp,    -- the detail's modifyDate
    title                   varchar,
    text                    varchar,      -- plain text of the comment box
    organization            varchar,
    category                varchar,
    gov_agency              varchar,
    gov_agency_type         varchar,
    first_name              varchar,
    last_name               varchar,
    city                    varchar,
    state                   varchar,
    country                 varchar,
    submitter_rep           varchar,
    duplicate_comments      integer,
    tracking_nbr            varchar,
    withdrawn               boolean,
    reason_withdrawn        varchar,
    restrict_reason         varchar,
    page_count              integer,
    attachment_count        integer,
    source                  varchar,
    raw                     json,         -- the full detail JSON (or the source row)
    fetched_at              timestamp
);

-- Keyed on (comment, order) so that a bulk CSV row (which knows only
-- attachment_N URLs) and the API record (which knows the attachment's id)
-- land on the same row.
create table if not exists attachments (
    comment_id          varchar not null,
    doc_order           integer not null,
    attachment_id       varchar,
    title               varchar,
    url                 varchar,      -- the chosen file URL
    format              varchar,      -- its format (pdf, docx, ...)
    size_bytes          bigint,       -- size the API announced
    file_formats        json,         -- every format offered
    restrict_reason     varchar,
    modify_date         timestamp,
    sha256              varchar,      -- content hash of the stored file
    stored_bytes        bigint,
    status              varchar not null default 'pending',
        -- pending | ok | empty | needs_ocr | unsupported | too_large | failed | restricted
    reason              varchar,
    text                varchar,
    page_count          integer,
    extraction_method   varchar,
    downloaded_at       timestamp,
    extracted_at        timestamp,
    primary key (comment_id, doc_order)
);

-- One row per docket: where the incremental sync stands.
create table if not exists sync_state (
    docket_id               varchar primary key,
    cursor_last_modified    timestamp,    -- every comment modified before this is stored
    last_started_at         timestamp,
    last_finished_at        timestamp,
    last_complete_at        timestamp,    -- last run that reached the end of the list
    last_run_id             varchar,
    api_total               bigint,       -- totalElements the API last reported
    documents_synced_at     timestamp
);

create table if not exists sync_runs (
    run_id          varchar primary key,
    docket_id       varchar not null,
    started_at      timestamp not null,
    finished_at     timestamp,
    status          varchar not null,     -- running | complete | partial | failed
    requests        integer default 0,
    list_requests   integer default 0,
    detail_requests integer default 0,
    new_comments    integer default 0,
    updated         integer default 0,
    unchanged       integer default 0,
    failed          integer default 0,
    duration_s      double,
    rate_remaining  integer,              -- last X-RateLimit-Remaining seen
    message         varchar
);

-- A comment (or other item) that kept failing; retried by the next sync,
-- resolved_at set when it finally succeeds.
create table if not exists sync_errors (
    docket_id       varchar not null,
    item_type       varchar not null,     -- comment | document | attachment | list
    item_id         varchar not null,
    status_code     integer,
    reason          varchar not null,
    attempts        integer not null default 1,
    first_seen      timestamp not null,
    last_seen       timestamp not null,
    resolved_at     timestamp,
    run_id          varchar,
    primary key (item_type, item_id)
);

-- Rows an import could not take, with the reason (the run goes on).
create table if not exists import_rejects (
    source          varchar not null,     -- bulk_csv | mirrulations
    file            varchar not null,
    locator         varchar not null,     -- row number or file name inside the source
    reason          varchar not null,
    recorded_at     timestamp not null,
    primary key (source, file, locator)
);
