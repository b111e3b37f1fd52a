-- Completeness by identity: which comment ids the API listed, and when.
-- "Complete" means every id the API lists is stored; an id stored but absent
-- from the last complete full listing was withdrawn from the list or removed.

-- One row per comment id the API ever listed for a docket.
create table if not exists listed_comments (
    docket_id           varchar not null,
    comment_id          varchar primary key,
    list_last_modified  timestamp,            -- the list's lastModifiedDate when last seen
    first_listed_at     timestamp not null,
    last_listed_at      timestamp not null,   -- start of the last listing that saw it
    removed_at          timestamp             -- a complete full listing no longer showed it
);

-- One row per listing (a pass over the list from the cursor, or the whole list).
create table if not exists listings (
    listing_id      varchar primary key,
    docket_id       varchar not null,
    run_id          varchar,
    kind            varchar not null,         -- full | incremental
    started_at      timestamp not null,
    finished_at     timestamp,
    status          varchar not null,         -- running | complete | stopped | broken
    ids_seen        integer,
    new_ids         integer,                  -- ids no earlier listing had shown
    api_total       bigint,
    unpaged         varchar                   -- slices the API could not page, one line each
);

alter table sync_runs add column if not exists listed integer;          -- ids listed and not removed
alter table sync_runs add column if not exists missing integer;         -- listed, neither stored nor failing
alter table sync_runs add column if not exists removed integer;         -- stored, no longer listed
alter table sync_runs add column if not exists from_bulk_csv integer;   -- listed ids kept from a bulk CSV import
alter table sync_state add column if not exists last_full_listing_at timestamp;
