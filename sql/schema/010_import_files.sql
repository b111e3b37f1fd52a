-- Provenance of imported rows without repeating them: each source file once
-- (its hash, name, size, row count), and on each row the file and line it came
-- from. A bulk-CSV comment keeps in `source_extra` only the CSV fields that
-- have no typed home in `comments` (or whose value the typed column cannot
-- give back exactly); its `raw` stays null. See comments.importers.csv_columns.

create table if not exists import_files (
    file_id             integer primary key,
    source              varchar not null,     -- bulk_csv
    sha256              varchar not null unique,
    name                varchar not null,     -- the path it was last imported from
    size_bytes          bigint not null,
    rows                bigint not null,      -- data rows in the file (stored + rejected)
    columns             json not null,        -- the header, in file order
    imported_at         timestamp not null,   -- first import
    last_imported_at    timestamp not null,
    state               json                  -- what the last full import left (lets a re-import of
                                              -- the same bytes skip the work when nothing changed)
);

alter table comments add column if not exists source_file_id integer;   -- import_files.file_id
alter table comments add column if not exists source_line bigint;       -- line of the row's first line
alter table comments add column if not exists source_extra json;        -- {"CSV column": "value"} or null

alter table documents add column if not exists source_file_id integer;
alter table documents add column if not exists source_line bigint;
