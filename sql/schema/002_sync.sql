-- Sync additions (issue 2).
-- A failing comment is retried by the next sync without relisting the docket:
-- keep the list's lastModifiedDate with it, so the stored row gets the same
-- cursor value as one fetched in order.
alter table sync_errors add column if not exists last_modified timestamp;
-- Which pass a run made: 'full' (whole list), 'incremental' (from the cursor), or both.
alter table sync_runs add column if not exists passes varchar;
alter table sync_runs add column if not exists api_total bigint;
